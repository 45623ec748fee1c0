"""Pixel-wise cross-entropy that stays finite when a crop holds no labelled pixel."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mobilevision.conventions import IGNORE_INDEX


def sample_labels(targets: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """targets (N, H, W) -> (N, h, w): the label under each point where resize_bilinear (corners
    aligned) puts a logit when it resizes logits to (h, w), so that a loss at (h, w) compares each
    logit with the label at its own place (TF DeepLab's `upsample_logits=False` samples the same way)."""
    rows = torch.linspace(0, targets.shape[-2] - 1, size[0], device=targets.device).round().long()
    cols = torch.linspace(0, targets.shape[-1] - 1, size[1], device=targets.device).round().long()
    return targets[:, rows][:, :, cols]


def segmentation_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, *, top_k_pixels: float = 1.0
                               ) -> torch.Tensor:
    """Mean cross-entropy over labelled pixels. logits (N, K, H, W), targets (N, H, W) int64.

    Pixels equal to 255 are ignored. F.cross_entropy's mean divides by the number of labelled
    pixels, which is 0/0 = NaN for a crop that is all ignore (a random crop of a VOC border); the
    sum divided by at least 1 gives 0 there, with zero (finite) gradients, and the same value
    everywhere else.

    top_k_pixels < 1 is TF DeepLab's hard pixel mining (`top_k_percent_pixels`): only that fraction
    of the batch's labelled pixels, those with the highest losses, is averaged. Where a large
    background dominates, the plain mean is minimised for a long while by predicting background
    everywhere; the mined mean is not.
    """
    if top_k_pixels >= 1.0:
        total = F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="sum")
        labelled = (targets != IGNORE_INDEX).sum().clamp(min=1)
        return total / labelled
    pixel_losses = F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="none").flatten()
    labelled = int((targets != IGNORE_INDEX).sum())
    if labelled == 0:
        return pixel_losses.sum()  # 0, with zero gradients
    # Ignored pixels have loss 0: they only fill the top k if fewer labelled pixels have any loss.
    return pixel_losses.topk(max(1, int(top_k_pixels * labelled)), sorted=False).values.mean()
