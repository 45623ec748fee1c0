"""Lite R-ASPP, the MobileNetV3 paper's segmentation head (section 6.3), as torchvision builds it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INTER_CHANNELS = 128


class LRASPPHead(nn.Module):
    """forward(high (N, C_high, H/16, W/16), low (N, C_low, H/8, W/8)) -> logits (N, K, H/8, W/8).

    The high features go through a 1x1 conv + BN + ReLU, gated by a sigmoid of their global average
    (a squeeze-and-excitation without the squeeze), are upsampled to the low features' grid and
    classified; the low features are classified by a 1x1 conv of their own; the two logits add.
    Submodule names are torchvision's (cbr, scale, low_classifier, high_classifier), and so is its
    resize convention (align_corners=False), which the model's final resize follows too.
    """

    align_corners = False

    def __init__(self, high_channels: int, num_classes: int, *, low_channels: int,
                 inter_channels: int = INTER_CHANNELS) -> None:
        super().__init__()
        self.cbr = nn.Sequential(nn.Conv2d(high_channels, inter_channels, 1, bias=False),
                                 nn.BatchNorm2d(inter_channels), nn.ReLU(inplace=True))
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(high_channels, inter_channels, 1, bias=False),
                                   nn.Sigmoid())
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)
