"""Collate functions for the three views: drop the samples a reader refused (None) and count them.

Each returns a `Batch`, a 2-tuple (so `images, targets = batch` works) that also carries
`dropped`, the number of None samples left out; summing it over an epoch gives the skipped count
even with DataLoader workers, whose datasets' problem logs the main process never sees.
Images of different sizes (whole-image evaluation) are padded at the bottom/right: with 0 for the
image (the mean after normalisation) and 255 (ignore) for masks. A batch whose samples were all
dropped has zero images; training loops skip it.
"""

from __future__ import annotations

import logging

import torch

from mobilevision.conventions import IGNORE_INDEX

logger = logging.getLogger("mobilevision.datasets")


class Batch(tuple):
    """(images (N, 3, H, W), targets) with the attribute `dropped: int`."""

    def __new__(cls, images, targets, dropped: int = 0):
        batch = super().__new__(cls, (images, targets))
        batch.dropped = dropped
        return batch

    def __reduce__(self):
        # Batches cross from DataLoader workers by pickling; keep `dropped` on the way.
        return Batch, (self[0], self[1], self.dropped)


def _kept(samples: list) -> tuple[list, int]:
    kept = [sample for sample in samples if sample is not None]
    dropped = len(samples) - len(kept)
    if dropped:
        logger.warning("dropped %d unreadable sample(s) from a batch (see the warnings above)", dropped)
    return kept, dropped


def pad_stack(tensors: list[torch.Tensor], *, fill: float) -> torch.Tensor:
    """Stack (..., H_i, W_i) tensors into (N, ..., max H, max W), padding bottom/right with `fill`."""
    if not tensors:
        return torch.empty(0)
    height = max(t.shape[-2] for t in tensors)
    width = max(t.shape[-1] for t in tensors)
    if all(t.shape[-2:] == (height, width) for t in tensors):
        return torch.stack(tensors)
    out = tensors[0].new_full((len(tensors), *tensors[0].shape[:-2], height, width), fill)
    for slot, tensor in zip(out, tensors):
        slot[..., : tensor.shape[-2], : tensor.shape[-1]] = tensor
    return out


def detection_collate(samples: list) -> Batch:
    """-> Batch(images (N, 3, H, W) float, targets list of N dicts)."""
    kept, dropped = _kept(samples)
    return Batch(pad_stack([image for image, _ in kept], fill=0.0), [target for _, target in kept], dropped)


def segmentation_collate(samples: list) -> Batch:
    """-> Batch(images (N, 3, H, W) float, masks (N, H, W) int64)."""
    kept, dropped = _kept(samples)
    images = pad_stack([image for image, _ in kept], fill=0.0)
    masks = pad_stack([mask for _, mask in kept], fill=IGNORE_INDEX)
    return Batch(images, masks, dropped)


def classification_collate(samples: list) -> Batch:
    """-> Batch(images (N, 3, H, W) float, labels (N,) int64)."""
    kept, dropped = _kept(samples)
    labels = torch.tensor([label for _, label in kept], dtype=torch.int64)
    return Batch(pad_stack([image for image, _ in kept], fill=0.0), labels, dropped)
