"""Augmentation and evaluation pipelines (albumentations 2), one builder per task.

Every pipeline takes `size`, `mean` and `std` as keyword arguments (ImageNet statistics and
0.5/0.5 models both exist) and returns the image as a normalised float32 (3, H, W) tensor (see
`Pipeline`); masks come back as (H, W) uint8 arrays. The call protocol is albumentations' own:

- detection:      t(image=(H,W,3) uint8, bboxes=(K,4) xyxy px, labels=(K,), flags=(K,)) -> dict
- multi-task:     the detection pipeline with mask=(H,W) or (H,W,C) uint8 as well
- segmentation:   t(image=..., mask=(H,W) uint8) -> dict
- classification: t(image=...) -> dict

Padding fills the image with the mean colour (0 after normalisation) and masks with 255 (ignore).
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np
from albumentations.augmentations.crops.transforms import BaseCrop

from mobilevision.conventions import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD


class RandomIoUCrop(BaseCrop):
    """SSD's random crop: pick a minimum IoU, then a crop that holds at least one box centre and
    whose IoU with every box whose centre it holds is at least that (Liu et al. 2016, section 2.2).

    One option in the draw keeps the whole image, so easy samples stay in the mix. Boxes losing most
    of their area are removed afterwards by the pipeline's `min_visibility` (SSD drops boxes whose
    centre leaves the crop instead).
    """

    MIN_IOUS = (None, 0.1, 0.3, 0.5, 0.7, 0.9)

    def __init__(self, *, min_scale: float = 0.3, max_aspect_ratio: float = 2.0, trials: int = 40,
                 max_draws: int = 20, p: float = 1.0):
        super().__init__(p=p)
        self.min_scale = min_scale
        self.max_aspect_ratio = max_aspect_ratio
        self.trials = trials
        self.max_draws = max_draws

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict:
        height, width = params["shape"][:2]
        boxes = np.asarray(data.get("bboxes", np.zeros((0, 4))))[:, :4] * [width, height, width, height]
        rng = self.random_generator
        # As in SSD: draw a minimum IoU until a crop satisfies it; the "no crop" option ends the loop
        # (the cap only bounds the time spent on images no crop suits).
        for _ in range(self.max_draws):
            min_iou = self.MIN_IOUS[int(rng.integers(len(self.MIN_IOUS)))]
            if min_iou is None or len(boxes) == 0:
                break
            crop = self._crop(rng, boxes, width=width, height=height, min_iou=min_iou)
            if crop is not None:
                return {"crop_coords": crop}
        return {"crop_coords": (0, 0, width, height)}

    def _crop(self, rng: np.random.Generator, boxes: np.ndarray, *, width: int, height: int,
              min_iou: float) -> tuple[int, int, int, int] | None:
        """The first of `trials` random crops (drawn at once) that passes, or None."""
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        scales = rng.uniform(self.min_scale, 1.0, size=(self.trials, 2))
        sizes = (scales * [width, height]).astype(int)
        corners = (rng.random((self.trials, 2)) * ([width, height] - sizes + 1)).astype(int)
        crops = np.concatenate([corners, corners + sizes], axis=1).astype(np.float64)  # (T, 4)
        inside = np.all((centers[None] > crops[:, None, :2]) & (centers[None] < crops[:, None, 2:]), axis=2)  # (T, K)
        worst_iou = np.where(inside, _iou(boxes, crops), np.inf).min(axis=1)
        ratio = scales[:, 0] / scales[:, 1]
        valid = (ratio >= 1 / self.max_aspect_ratio) & (ratio <= self.max_aspect_ratio)
        valid &= inside.any(axis=1) & (worst_iou >= min_iou)
        return tuple(int(v) for v in crops[np.argmax(valid)]) if valid.any() else None


def _iou(boxes: np.ndarray, crops: np.ndarray) -> np.ndarray:
    """IoU of (K, 4) xyxy boxes with (T, 4) xyxy crops -> (T, K)."""
    top_left = np.maximum(boxes[None, :, :2], crops[:, None, :2])
    bottom_right = np.minimum(boxes[None, :, 2:], crops[:, None, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    box_area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    crop_area = np.prod(crops[:, 2:] - crops[:, :2], axis=1)
    return inter / (box_area[None, :] + crop_area[:, None] - inter)


def _mean_fill(mean: Sequence[float]) -> tuple[int, ...]:
    """The uint8 colour that normalises to zero."""
    return tuple(int(round(channel * 255)) for channel in mean)


class Pipeline:
    """An albumentations Compose, then normalisation to a float32 (3, H, W) tensor done in numpy.

    Not A.Normalize + ToTensorV2: on uint8 images A.Normalize was the most expensive step of every
    pipeline (docs/benchmarks.md), and torch ops here would use intra-op threads
    that fight the training process for the cores when the DataLoader has no workers.
    Masks stay uint8 numpy arrays; the readers convert them.
    """

    def __init__(self, steps: list, *, mean: Sequence[float], std: Sequence[float], bbox_params=None) -> None:
        self.compose = A.Compose(steps, bbox_params=bbox_params)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1) * 255
        self.inverse_std = 1 / (np.asarray(std, dtype=np.float32).reshape(3, 1, 1) * 255)

    def __call__(self, **data) -> dict:
        import torch

        out = self.compose(**data)
        image = np.ascontiguousarray(out["image"].transpose(2, 0, 1), dtype=np.float32)
        image -= self.mean
        image *= self.inverse_std
        out["image"] = torch.from_numpy(image)
        return out


DETECTION_AUGMENTATIONS = ("ssd", "flip")


def detection_transforms(
    train: bool, *, size: int, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
    augment: str = "ssd",
) -> Pipeline:
    """Training: SSD augmentation (augment="ssd": photometric distortion, zoom out, IoU crop, flip)
    or only flips and light colour jitter (augment="flip", for budgets of minutes, where SSD's
    crops cost more steps than they give back); evaluation: a plain resize to (size, size). Boxes,
    and a mask if one is given (multi-task data), follow the image. Output boxes are xyxy pixels of
    the (size, size) image; the zoom-out canvas is 255 (ignore) in masks."""
    if augment not in DETECTION_AUGMENTATIONS:
        raise ValueError(f"unknown detection augmentation {augment!r}; use one of {DETECTION_AUGMENTATIONS}")
    if train and augment == "flip":
        steps = [
            A.ColorJitter(brightness=0.125, contrast=0.25, saturation=0.25, hue=0.02, p=0.5),
            A.HorizontalFlip(p=0.5),
            A.Resize(size, size),
        ]
    elif train:
        steps = [
            A.ColorJitter(brightness=0.125, contrast=0.5, saturation=0.5, hue=0.05, p=0.5),
            # Zoom out = shrink the image inside a mean-coloured canvas. SSD expands up to 4x per
            # side; 2x here, so that 15 px objects stay above the smallest anchors at 320 px.
            A.Affine(scale=(0.5, 1.0), translate_percent=(-0.25, 0.25), fill=_mean_fill(mean),
                     fill_mask=IGNORE_INDEX, border_mode=cv2.BORDER_CONSTANT, p=0.5),
            RandomIoUCrop(),
            A.HorizontalFlip(p=0.5),
            A.Resize(size, size),
        ]
    else:
        steps = [A.Resize(size, size)]
    boxes = A.BboxParams(
        format="pascal_voc", label_fields=["labels", "flags"], clip=True, min_area=1.0,
        min_visibility=0.25 if train else 0.0,
    )
    return Pipeline(steps, mean=mean, std=std, bbox_params=boxes)


# The side a segmentation training image is scaled to the base size by.
RESIZE_SIDES = ("shorter", "longer")


def segmentation_transforms(
    train: bool, *, size: int | None, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
    crop: int | None = None, scale_range: tuple[float, float] = (0.5, 2.0), resize: str = "shorter",
    object_crops: float = 0.0,
) -> Pipeline:
    """Train: the `resize` side ("shorter", as torchvision's references, or "longer", as eval) to
    `size`, scale jitter in `scale_range` (DeepLab's 0.5-2x), random (crop, crop) crop (crop
    defaults to size; torchvision's references call the two base_size and crop_size) padded with the
    mean colour / ignore label, flip. A share `object_crops` of the crops instead holds a random
    object pixel (albumentations' CropNonEmptyMaskIfExists: any label but background 0 and ignore;
    a random crop where the image has none). Eval: longer side to `size` padded to (size, size) at
    the bottom/right with ignore, or with size=None the whole image unchanged."""
    pad = dict(border_mode=cv2.BORDER_CONSTANT, fill=_mean_fill(mean), fill_mask=IGNORE_INDEX)
    if train and size is None:
        raise ValueError("segmentation training crops need a size")
    if train:
        crop = crop or size
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range {scale_range} must be 0 < low <= high, e.g. (0.5, 2.0)")
        if resize not in RESIZE_SIDES:
            raise ValueError(f"resize must be one of {RESIZE_SIDES}; got {resize!r}")
        if not 0 <= object_crops <= 1:
            raise ValueError(f"object_crops {object_crops} must be a share in [0, 1]")
        random_crop = A.RandomCrop(height=crop, width=crop, p=1.0 - object_crops)
        steps = [
            A.SmallestMaxSize(max_size=size) if resize == "shorter" else A.LongestMaxSize(max_size=size),
            # albumentations' scale_limit is relative to 1: (low - 1, high - 1) draws from [low, high].
            A.RandomScale(scale_limit=(low - 1.0, high - 1.0), p=1.0),
            A.PadIfNeeded(min_height=crop, min_width=crop, **pad),
            # OneOf draws one of its transforms with odds in proportion to their p.
            A.OneOf([A.CropNonEmptyMaskIfExists(height=crop, width=crop, ignore_values=[IGNORE_INDEX],
                                                p=object_crops), random_crop], p=1.0) if object_crops
            else random_crop,
            A.HorizontalFlip(p=0.5),
        ]
    elif size is not None:
        steps = [A.LongestMaxSize(max_size=size),
                 A.PadIfNeeded(min_height=size, min_width=size, position="top_left", **pad)]
    else:
        steps = []
    return Pipeline(steps, mean=mean, std=std)


def classification_transforms(
    train: bool, *, size: int, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
    min_crop_area: float = 0.08,
) -> Pipeline:
    """Train: random resized crop (min_crop_area to 100% of the area; 8% as in the ImageNet
    references), flip, light colour jitter.
    Eval: shorter side to size/0.875, centre crop (size, size), as in the ImageNet references."""
    if train:
        steps = [
            A.RandomResizedCrop(size=(size, size), scale=(min_crop_area, 1.0)),
            A.HorizontalFlip(p=0.5),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.0, p=0.8),
        ]
    else:
        steps = [A.SmallestMaxSize(max_size=int(round(size / 0.875))), A.CenterCrop(height=size, width=size)]
    return Pipeline(steps, mean=mean, std=std)


def to_tensor(**data) -> dict:
    """The transform used when none is given: image to float (3, H, W) in [0, 1], rest untouched."""
    import torch

    image = np.ascontiguousarray(data["image"].transpose(2, 0, 1), dtype=np.float32)
    image *= 1 / 255
    data["image"] = torch.from_numpy(image)
    return data
