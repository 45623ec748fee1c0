"""What may vary between generated datasets: object sizes, image sizes and shapes, the classes and
their balance. The defaults make the built-in dataset, byte for byte as before the options existed,
so recipes tuned on it can also be checked on data unlike it (small objects, odd image sizes, a few
classes of which one is rare)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mobilevision.datasets.synth.shapes import CLASS_NAMES
from mobilevision.errors import MobileVisionError

MIN_IMAGE_SIDE = 64  # smallest --image-size
MIN_SIDE = 32  # shortest side of an elongated image


@dataclass(frozen=True)
class SceneOptions:
    # Object diameter range, fractions of the image's shorter side, drawn log-uniformly.
    object_size: tuple[float, float] = (0.1, 0.6)
    # Range of each image's sqrt(width * height) in pixels, log-uniform; None: the dataset's `size`.
    image_size: tuple[int, int] | None = None
    # Range of each image's width / height, log-uniform; (1, 1): square.
    aspect_ratio: tuple[float, float] = (1.0, 1.0)
    classes: int = len(CLASS_NAMES)  # the first `classes` shapes of CLASS_NAMES
    # How many times more often the first class is drawn than the last (geometric in between); 1: uniform.
    imbalance: float = 1.0

    def __post_init__(self) -> None:
        low, high = self.object_size
        if not 0 < low <= high <= 1:
            raise MobileVisionError(f"--object-size {low} {high}: need 0 < min <= max <= 1 (fractions of the image's "
                                    "shorter side)")
        if self.image_size is not None and not MIN_IMAGE_SIDE <= self.image_size[0] <= self.image_size[1]:
            raise MobileVisionError(f"--image-size {self.image_size[0]} {self.image_size[1]}: need "
                                    f"{MIN_IMAGE_SIDE} <= min <= max (pixels)")
        if not 0 < self.aspect_ratio[0] <= self.aspect_ratio[1]:
            raise MobileVisionError(f"--aspect-ratio {self.aspect_ratio[0]} {self.aspect_ratio[1]}: need "
                                    "0 < min <= max (width / height)")
        if not 1 <= self.classes <= len(CLASS_NAMES):
            raise MobileVisionError(f"--classes {self.classes}: the generator draws 1 to {len(CLASS_NAMES)} shapes "
                                    f"({', '.join(CLASS_NAMES)})")
        if not self.imbalance >= 1:
            raise MobileVisionError(f"--imbalance {self.imbalance}: must be at least 1 (first class over last class)")

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[:self.classes]

    def class_weights(self) -> np.ndarray | None:
        """(classes,) probabilities of drawing each class, None when uniform."""
        if self.imbalance == 1 or self.classes == 1:
            return None
        weights = self.imbalance ** -(np.arange(self.classes) / (self.classes - 1))
        return weights / weights.sum()

    def image_shape(self, *, seed: int, index: int, size: int) -> tuple[int, int]:
        """(height, width) of scene `index`. Drawn from a stream of its own, (seed, index, 1), so that
        the scene's stream, and with the defaults every byte of the dataset, stays as it was."""
        rng = np.random.default_rng((seed, index, 1))
        low, high = self.image_size or (size, size)
        side = math.exp(rng.uniform(math.log(low), math.log(high)))
        ratio = math.exp(rng.uniform(math.log(self.aspect_ratio[0]), math.log(self.aspect_ratio[1])))
        return max(MIN_SIDE, round(side / math.sqrt(ratio))), max(MIN_SIDE, round(side * math.sqrt(ratio)))


DEFAULT_SCENE = SceneOptions()  # the built-in dataset's
