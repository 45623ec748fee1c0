"""Dataset readers (COCO, PASCAL VOC, image folders), the built-in synthetic dataset and augmentation.

The public API is importable from here; names load their module on first use (PEP 562) so that
`import mobilevision.datasets` (which the command line does) pulls in neither torch nor albumentations.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_dataset": "build",
    "resolve_data": "resolve",
    "DataSpec": "resolve",
    "detection_transforms": "transforms",
    "segmentation_transforms": "transforms",
    "classification_transforms": "transforms",
    "IMAGENET_MEAN": "transforms",
    "IMAGENET_STD": "transforms",
    "IGNORE_INDEX": "transforms",
    "detection_collate": "collate",
    "segmentation_collate": "collate",
    "classification_collate": "collate",
    "Batch": "collate",
    "read_image": "image_io",
    "generate_dataset": "synth.generate",
    "CLASS_NAMES": "synth.shapes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
