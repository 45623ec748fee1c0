"""Atrous Spatial Pyramid Pooling (DeepLabv3, Chen et al. 2017, section 3.3).

Parallel branches over the backbone's deepest feature map: a 1x1 conv, 3x3 convs at several
atrous rates, and image pooling (global average, 1x1 conv, broadcast back). Their outputs are
concatenated and projected 1x1. Every conv is followed by BatchNorm and ReLU, as in TF DeepLab.

With no atrous rates this is the MobileNetV2 paper's "mobile" head (section 6.4): only the 1x1
and image-pooling branches, which is what keeps DeepLabv3 at 2.75B multiply-adds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.backbones.blocks import ConvBNAct, DepthwiseSeparable

# Rates at output stride 16 (DeepLabv3 paper); output stride 8 doubles them so each branch
# keeps the same field of view in input pixels.
ATROUS_RATES_OS16 = (6, 12, 18)
# TF DeepLab's dropout after the projection (keep probability 0.9).
TF_DEEPLAB_DROPOUT = 0.1


def atrous_rates_for(output_stride: int) -> tuple[int, ...]:
    """The paper's rates (6, 12, 18) at output stride 16, scaled to keep the field of view."""
    return tuple(rate * 16 // output_stride for rate in ATROUS_RATES_OS16)


class ImagePooling(nn.Module):
    """Global context: (N, C, h, w) -> mean over h, w -> 1x1 conv + BN + ReLU -> (N, out, h, w).

    Its BatchNorm sees one value per image and channel, so training needs a batch of at least 2
    (as torchvision's and TF DeepLab's image pooling).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.project = ConvBNAct(in_channels, out_channels, kernel_size=1, activation="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.project(x.mean(dim=(2, 3), keepdim=True))
        # Bilinear resizing of a 1x1 map (what TF DeepLab does) is a broadcast.
        return pooled.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(nn.Module):
    """(N, in_channels, h, w) -> (N, out_channels, h, w).

    Branches: 1x1 conv, one 3x3 conv per rate in `atrous_rates`, image pooling; each
    `out_channels` wide. `separable=True` makes the 3x3 branches depthwise separable (TF DeepLab's
    `aspp_with_separable_conv`); the MobileNetV2 paper's 4.52M / 5.8B are counted with regular
    3x3 convs, so that is the default. `dropout` after the projection: TF DeepLab's by default
    (torchvision's DeepLabHead uses 0.5).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        out_channels: int = 256,
        atrous_rates: Sequence[int] = ATROUS_RATES_OS16,
        separable: bool = False,
        dropout: float = TF_DEEPLAB_DROPOUT,
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = [ConvBNAct(in_channels, out_channels, kernel_size=1, activation="relu")]
        for rate in atrous_rates:
            if separable:
                branches.append(
                    DepthwiseSeparable(in_channels, out_channels, stride=1, dilation=rate, activation="relu")
                )
            else:
                branches.append(ConvBNAct(in_channels, out_channels, dilation=rate, activation="relu"))
        branches.append(ImagePooling(in_channels, out_channels))
        self.branches = nn.ModuleList(branches)
        self.project = ConvBNAct(len(branches) * out_channels, out_channels, kernel_size=1, activation="relu")
        self.dropout = nn.Dropout(p=dropout)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        concatenated = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.dropout(self.project(concatenated))
