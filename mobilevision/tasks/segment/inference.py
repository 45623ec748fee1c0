"""Multi-scale and flipped inference: the "MF" column of the MobileNetV2 paper's Table 7."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.backbones.base import MIN_INPUT_SIZE
from mobilevision.heads.resize import resize_bilinear

# TF DeepLab's eval_scales for the published multi-scale VOC results.
PAPER_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def scaled_size(size: int, scale: float) -> int:
    """TF DeepLab's `scale_dimension`: (size - 1) * scale + 1 keeps DeepLab's s * k + 1 sizes
    of that form (513 -> 257 at 0.5), so corner-aligned resizing stays exact."""
    return max(MIN_INPUT_SIZE, int((size - 1) * scale + 1))


@torch.no_grad()
def multiscale_probabilities(
    model: torch.nn.Module, images: torch.Tensor, *, scales: Sequence[float] = PAPER_SCALES, flip: bool = True
) -> torch.Tensor:
    """Average softmax over scales (and horizontal flips): (N, 3, H, W) -> (N, K, H, W).

    Each pass's logits are resized to the input size before the softmax, so every scale votes
    on the same pixel grid; `.argmax(1)` gives the class map. The model should be in eval mode.
    """
    height, width = images.shape[2:]
    total = None
    for scale in scales:
        size = (scaled_size(height, scale), scaled_size(width, scale))
        scaled = images if size == (height, width) else resize_bilinear(images, size)
        # One forward on [image, mirrored image]; the mirrored half is flipped back before averaging.
        batch = torch.cat([scaled, scaled.flip(3)]) if flip else scaled
        probabilities = resize_bilinear(model.raw_outputs(batch), (height, width)).softmax(dim=1)
        if flip:
            probabilities = probabilities[: len(images)] + probabilities[len(images) :].flip(3)
        total = probabilities if total is None else total + probabilities
    return total / (len(scales) * (2 if flip else 1))


class MultiscaleSegmenter(nn.Module):
    """Eval-mode wrapper: forward(images (N, 3, H, W)) -> class map (N, H, W) from the softmax
    averaged over `scales` and horizontal flips, so the engine's evaluate() drives it unchanged."""

    def __init__(self, model: nn.Module, *, scales: Sequence[float] = PAPER_SCALES, flip: bool = True) -> None:
        super().__init__()
        self.model = model
        self.scales = tuple(scales)
        self.flip = flip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return multiscale_probabilities(self.model, images, scales=self.scales, flip=self.flip).argmax(dim=1)
