"""The DeepLabv3+ decoder (Chen et al. 2018, section 3.1): sharper object boundaries by fusing
the encoder's output with stride-4 features."""

from __future__ import annotations

import torch
from torch import nn

from mobilevision.backbones.blocks import ConvBNAct, DepthwiseSeparable
from mobilevision.heads.resize import resize_bilinear

# 48 channels for the low-level reduction: the DeepLabv3+ paper's ablation (Table 1) found 32-64
# best; fewer would let the low-level features outweigh the encoder's 256 rich channels.
LOW_LEVEL_CHANNELS = 48


class DeepLabV3PlusDecoder(nn.Module):
    """(N, C_enc, h, w) encoder output + (N, C_low, H/4, W/4) features -> (N, out_channels, H/4, W/4).

    The low-level features are reduced 1x1 to 48 channels, the encoder output is upsampled to
    their size, both are concatenated and refined by two 3x3 depthwise separable convs (TF
    DeepLab's `decoder_use_separable_conv`, which is what its MobileNet configs use).
    """

    def __init__(self, encoder_channels: int, low_level_channels: int, *, out_channels: int = 256) -> None:
        super().__init__()
        self.reduce = ConvBNAct(low_level_channels, LOW_LEVEL_CHANNELS, kernel_size=1, activation="relu")
        self.refine = nn.Sequential(
            DepthwiseSeparable(encoder_channels + LOW_LEVEL_CHANNELS, out_channels, stride=1, activation="relu"),
            DepthwiseSeparable(out_channels, out_channels, stride=1, activation="relu"),
        )
        self.out_channels = out_channels

    def forward(self, encoded: torch.Tensor, low_level: torch.Tensor) -> torch.Tensor:
        reduced = self.reduce(low_level)
        upsampled = resize_bilinear(encoded, reduced.shape[2:])
        return self.refine(torch.cat([upsampled, reduced], dim=1))
