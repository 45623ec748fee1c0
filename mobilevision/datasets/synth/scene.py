"""One generated scene: a cluttered textured background, distractors, and occluding shapes.

Everything is drawn from `numpy.random.default_rng((seed, index))`, so scene `index` is the same
whichever process renders it and in whatever order. What makes it need a trained network:
object colours are random and independent of the class, the background is a colour gradient with
texture, noise and distractors (lines, irregular blobs of random colour) that are not objects,
objects overlap and get cut by the image border, and about one image in ten holds no object.

It is sized to be learnt from scratch in minutes on a laptop CPU (the quick recipes' goal): objects
are at least a tenth of the image side (COCO still calls most of the smallest ones "small"), at
most five per image, and distractor blobs stay smaller than the largest objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mobilevision.datasets.synth.options import DEFAULT_SCENE, SceneOptions
from mobilevision.datasets.synth.shapes import CLASS_NAMES, draw_shape

EMPTY_IMAGE_FRACTION = 0.1
MAX_OBJECTS = 5
MIN_SIZE_FRACTION, MAX_SIZE_FRACTION = DEFAULT_SCENE.object_size  # object diameter, fractions of the shorter side
MIN_BLOB_FRACTION = 0.05  # smallest distractor blob diameter as a fraction of the image side
MAX_BLOB_FRACTION = 0.15  # largest distractor blob diameter as a fraction of the image side
OBJECT_VIEW_MARGIN = 1.5  # the object view's side over the labelled object's longer box side
OBJECT_VIEW_MIN_FRACTION = 0.25  # smallest object view side as a fraction of the image side
MIN_VISIBLE_FRACTION = 0.5  # occlusion and the border may hide at most half of any object
PLACEMENT_TRIES = 10


@dataclass
class Instance:
    label: int  # 1..number of classes; 0 is background
    mask: np.ndarray  # (H, W) bool, the visible pixels
    box: np.ndarray  # (4,) float xyxy pixel edges of the visible pixels (x2, y2 exclusive)


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8 RGB, square unless SceneOptions say otherwise
    instances: list[Instance]

    def class_map(self) -> np.ndarray:
        """(H, W) uint8: 0 background, else the class of the visible object (no void border)."""
        target = np.zeros(self.image.shape[:2], dtype=np.uint8)
        for instance in self.instances:
            target[instance.mask] = instance.label
        return target

    def image_label(self) -> int:
        """Class of the largest visible object, 0 (background) for an empty scene."""
        if not self.instances:
            return 0
        return max(self.instances, key=lambda instance: int(instance.mask.sum())).label

    def object_view(self) -> np.ndarray:
        """(S, S, 3) uint8: the classification view, a square crop centred on the largest object
        (ImageNet-like: the labelled object fills the middle of the frame, neighbours may show at the edge).

        S is OBJECT_VIEW_MARGIN times the object's longer box side (at least a quarter of the image's
        shorter side, at most all of it). Where the window passes the image border it is filled with the
        image's mean colour rather than shifted inwards: a shifted window put objects at the border
        off-centre, partly outside the centre crop that evaluation takes, so their label named
        something the view barely showed. An empty scene's view is its central half.
        """
        height, width = self.image.shape[:2]
        size = min(height, width)
        if not self.instances:
            return self.image[height // 4:height // 4 + height // 2, width // 4:width // 4 + width // 2].copy()
        box = max(self.instances, key=lambda instance: int(instance.mask.sum())).box
        side = int(min(size, max(OBJECT_VIEW_MARGIN * max(box[2] - box[0], box[3] - box[1]),
                                 OBJECT_VIEW_MIN_FRACTION * size)))
        x0, y0 = (round((box[k] + box[k + 2] - side) / 2) for k in (0, 1))
        fill = tuple(float(v) for v in self.image.reshape(-1, 3).mean(0))
        padded = cv2.copyMakeBorder(self.image, side, side, side, side, cv2.BORDER_CONSTANT, value=fill)
        return padded[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side].copy()


def render_scene(*, seed: int, index: int, size: int, options: SceneOptions = DEFAULT_SCENE) -> Scene:
    """Draw scene `index` of the dataset with `seed`: a (size, size) image, or with `options` one of
    the shape they draw, objects of their sizes and classes."""
    shape = options.image_shape(seed=seed, index=index, size=size)
    rng = np.random.default_rng((seed, index))
    image = _background(rng, shape)
    _draw_distractors(image, rng)
    count = 0 if rng.random() < EMPTY_IMAGE_FRACTION else int(rng.integers(1, MAX_OBJECTS + 1))
    full_areas: list[int] = []  # area of each instance when it was drawn
    visible_areas: list[int] = []  # area still visible after the later objects
    instances: list[Instance] = []
    for _ in range(count):
        placed = _place_object(rng, shape, instances, full_areas, visible_areas, options=options)
        if placed is None:
            continue
        label, mask, region = placed
        for k, earlier in enumerate(instances):
            visible_areas[k] -= int(np.count_nonzero(earlier.mask[region] & mask[region]))
            earlier.mask[region] &= ~mask[region]
        _paint(image, mask, region, rng)
        instances.append(Instance(label=label, mask=mask, box=np.zeros(4)))
        full_areas.append(int(np.count_nonzero(mask[region])))
        visible_areas.append(full_areas[-1])
    for instance in instances:
        instance.box = _mask_box(instance.mask)
    # Sensor-like grey noise; cv2.add saturates int16 + uint8 into uint8 without a float copy.
    noise = (rng.standard_normal(shape, dtype=np.float32) * rng.uniform(2, 10)).astype(np.int16)
    image = cv2.add(image, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)
    return Scene(image=image, instances=instances)


def _background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A two-colour gradient with low-frequency colour texture, (H, W, 3) uint8 for shape (H, W).

    Built on a coarse grid and upsampled: a linear gradient survives the interpolation and the
    full-resolution float work (the generator's main cost) is avoided.
    """
    start, end = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    cells = int(rng.integers(3, 12))
    ramp = np.linspace(-1, 1, cells, dtype=np.float32)
    t = (np.cos(direction) * ramp[None, :] + np.sin(direction) * ramp[:, None]) / 2 + 0.5
    coarse = start + (end - start) * t[..., None]
    coarse += rng.normal(0, rng.uniform(10, 40), size=(cells, cells, 3)).astype(np.float32)
    return cv2.resize(np.clip(coarse, 0, 255).astype(np.uint8), shape[::-1], interpolation=cv2.INTER_CUBIC)


def _draw_distractors(image: np.ndarray, rng: np.random.Generator) -> None:
    """Lines and irregular blobs of random colour, drawn under the objects; they are not objects."""
    height, width = image.shape[:2]
    size = max(height, width)  # lines run across the longer side; blobs scale with it
    for _ in range(int(rng.integers(1, 5))):
        start, end = rng.integers(-size // 4, size + size // 4, size=(2, 2))
        cv2.line(image, tuple(int(v) for v in start), tuple(int(v) for v in end), _colour(rng),
                 thickness=int(rng.integers(1, 5)), lineType=cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 3))):
        # A blob: a polygon with random radii at random angles, so it never has a shape's symmetry.
        vertices = int(rng.integers(6, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        radii = rng.uniform(0.2, 1.0, vertices) * rng.uniform(MIN_BLOB_FRACTION, MAX_BLOB_FRACTION) * size / 2
        center = rng.uniform(0, [width, height])
        polygon = np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(image, [np.round(polygon).astype(np.int32)], _colour(rng), lineType=cv2.LINE_AA)


def _place_object(rng: np.random.Generator, shape: tuple[int, int], instances: list[Instance], full_areas: list[int],
                  visible_areas: list[int], *, options: SceneOptions) -> tuple[int, np.ndarray, tuple[slice, slice]] | None:
    """Draw a random shape where it hides at most half of itself and of every earlier object.

    Returns (label, (H, W) bool mask, the region of the image the shape can touch),
    or None when no placement works. Work is done inside the region: masks are mostly empty.
    """
    height, width = shape
    low, high = options.object_size
    weights = options.class_weights()
    for _ in range(PLACEMENT_TRIES):
        # Uniform classes keep the integer draw the built-in dataset has always been made with.
        label = (int(rng.integers(1, options.classes + 1)) if weights is None
                 else int(rng.choice(options.classes, p=weights)) + 1)
        diameter = min(height, width) * float(np.exp(rng.uniform(np.log(low), np.log(high))))
        center = tuple(rng.uniform(-diameter / 4, [width + diameter / 4, height + diameter / 4]))
        canvas = np.zeros(shape, dtype=np.uint8)
        draw_shape(canvas, name=CLASS_NAMES[label - 1], center=center, diameter=diameter,
                   angle=float(rng.uniform(0, 2 * np.pi)), rng=rng)
        # A square's corners lie diameter / sqrt(2) from its centre, beyond the nominal radius.
        reach = 0.75 * diameter + 2
        region = (slice(max(0, int(center[1] - reach)), max(0, int(center[1] + reach) + 1)),
                  slice(max(0, int(center[0] - reach)), max(0, int(center[0] + reach) + 1)))
        mask = canvas.view(bool)
        if np.count_nonzero(mask[region]) < MIN_VISIBLE_FRACTION * _expected_area(canvas, region, center, diameter):
            continue
        if all(visible - np.count_nonzero(earlier.mask[region] & mask[region]) >= MIN_VISIBLE_FRACTION * area
               for earlier, area, visible in zip(instances, full_areas, visible_areas)):
            return label, mask, region
    return None


def _expected_area(canvas: np.ndarray, region: tuple[slice, slice], center: tuple[float, float],
                   diameter: float) -> float:
    """Area the shape would have uncut: its pixel count when it lies inside the image, else a
    disk's area scaled down for the thin shapes (a rough guess is enough to reject heavy cuts)."""
    x, y = center
    height, width = canvas.shape
    radius = diameter / 2
    if radius <= x <= width - radius and radius <= y <= height - radius:
        return float(np.count_nonzero(canvas[region]))
    return 0.35 * np.pi * radius**2


def _paint(image: np.ndarray, mask: np.ndarray, region: tuple[slice, slice], rng: np.random.Generator) -> None:
    """Fill the mask with a random colour under a linear shading, so objects are not flat blobs."""
    rows, cols = np.nonzero(mask[region])
    colour = np.array(_colour(rng), dtype=np.float32)
    shade = rng.uniform(-0.3, 0.3, size=2) / max(1, mask.shape[0])
    ramp = 1 + shade[0] * (cols - cols.mean()) + shade[1] * (rows - rows.mean())
    image[region][rows, cols] = np.clip(colour[None, :] * ramp[:, None], 0, 255).astype(np.uint8)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def _mask_box(mask: np.ndarray) -> np.ndarray:
    """(4,) float xyxy pixel edges enclosing the True pixels of an (H, W) mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float64)
