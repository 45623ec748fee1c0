"""Pixel-wise cross-entropy that stays finite when a crop holds no labelled pixel."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mobilevision.conventions import IGNORE_INDEX

# ENet's c: the weight 1 / ln(c + p) of a class with a share p of the pixels is at most 1 / ln(1.02) ~ 50.
ENET_C = 1.02


def sample_labels(targets: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """targets (N, H, W) -> (N, h, w): the label under each point where resize_bilinear (corners
    aligned) puts a logit when it resizes logits to (h, w), so that a loss at (h, w) compares each
    logit with the label at its own place (TF DeepLab's `upsample_logits=False` samples the same way)."""
    rows = torch.linspace(0, targets.shape[-2] - 1, size[0], device=targets.device).round().long()
    cols = torch.linspace(0, targets.shape[-1] - 1, size[1], device=targets.device).round().long()
    return targets[:, rows][:, :, cols]


def segmentation_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, *, top_k_pixels: float = 1.0,
                               class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy over labelled pixels. logits (N, K, H, W), targets (N, H, W) int64.

    Pixels equal to 255 are ignored. F.cross_entropy's mean divides by the number of labelled
    pixels, which is 0/0 = NaN for a crop that is all ignore (a random crop of a VOC border); the
    sum divided by at least 1 gives 0 there, with zero (finite) gradients, and the same value
    everywhere else.

    top_k_pixels < 1 is TF DeepLab's hard pixel mining (`top_k_percent_pixels`): only that fraction
    of the batch's labelled pixels, those with the highest losses, is averaged. Where a large
    background dominates, the plain mean is minimised for a long while by predicting background
    everywhere; the mined mean is not.

    class_weights (K,) multiply each pixel's loss by its true class's weight (ENet's class
    balancing; class_balance_weights). The plain mean then divides by the labelled pixels' summed
    weights, as F.cross_entropy's weighted mean; the mined mean averages the k largest weighted losses.
    """
    if top_k_pixels >= 1.0:
        total = F.cross_entropy(logits, targets, weight=class_weights, ignore_index=IGNORE_INDEX, reduction="sum")
        labelled = targets != IGNORE_INDEX
        if class_weights is None:
            return total / labelled.sum().clamp(min=1)
        pixel_weights = class_weights[targets.where(labelled, 0)] * labelled
        return total / pixel_weights.sum().clamp(min=torch.finfo(total.dtype).tiny)
    pixel_losses = F.cross_entropy(logits, targets, weight=class_weights, ignore_index=IGNORE_INDEX,
                                   reduction="none").flatten()
    labelled = int((targets != IGNORE_INDEX).sum())
    if labelled == 0:
        return pixel_losses.sum()  # 0, with zero gradients
    # Ignored pixels have loss 0: they only fill the top k if fewer labelled pixels have any loss.
    return pixel_losses.topk(max(1, int(top_k_pixels * labelled)), sorted=False).values.mean()


def class_balance_weights(pixel_frequency: Sequence[float], *, c: float = ENET_C, power: float = 1.0
                          ) -> tuple[float, ...]:
    """ENet's class weights 1 / ln(c + p) of each class's share p of the labelled pixels
    (Paszke et al. 2016, section 5.2), raised to `power`, scaled so that the mean pixel weighs 1
    (sum p * w = 1): a class with a tenth of the pixels weighs about 7x one with half of them, an
    absent class at most 1 / ln(c) (~50x), where the inverse frequency would weigh a speck thousands
    of times. power 0.5 halves the contrast in log terms (~7x for a speck)."""
    raw = [(1.0 / math.log(c + p)) ** power for p in pixel_frequency]
    mean = sum(p * w for p, w in zip(pixel_frequency, raw)) / max(sum(pixel_frequency), 1e-12)
    return tuple(float(f"{w / mean:.4g}") for w in raw)
