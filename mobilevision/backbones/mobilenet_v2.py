"""MobileNetV2 (Sandler et al., 2018) as a feature extractor.

Table 2 of the paper: a 3x3 stem of 32 channels at stride 2, seven stages of inverted residual
blocks (t = expansion, c = channels, n = repeats, s = stride of the first block), then a 1x1 conv
to 1280 channels. The width multiplier scales every layer but the last 1x1, which stays at 1280
below width 1 (TF-slim's and torchvision's choice: thin last layers cost accuracy, not speed).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.backbones.base import Backbone, FeatureSpec, dilated_strides
from mobilevision.backbones.blocks import (
    ConvBNAct,
    InvertedResidual,
    init_conv_bn,
    make_divisible,
    zero_init_residual_branches,
)
from mobilevision.backbones.split import split_inverted_residual

# (expand_ratio t, channels c, repeats n, first stride s), paper Table 2.
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
# Named stage outputs: stage index in INVERTED_RESIDUAL_SETTINGS -> feature name.
STAGE_FEATURES = {1: "c2", 2: "c3", 4: "c4", 6: "c5"}
# SSDLite reads the expansion inside the first block of the 160-channel stage (paper's "layer 15").
DETECTION_TAP_STAGE = 5


class MobileNetV2(Backbone):
    """MobileNetV2 features. (N, 3, H, W) -> dict of named maps.

    Features (channels at width 1.0, stride at output_stride 32):
      c2 (24, 4), c3 (32, 8), c4 (96, 16), c4_expand (576, 16; the SSDLite tap),
      c5 (320, 32), last (1280, 32; absent with include_last_layer=False).
    With output_stride 16 or 8 the later stages run at stride 1 with dilated depthwise convs.
    tf_conventions: TF-slim's BatchNorm epsilon (1e-3) and "SAME" padding, for its checkpoints.
    """

    roles = {
        "classifier": "last",
        "ssdlite": ("c4_expand", "last"),
        "deeplab": "c5",
        "deeplab_low": "c2",
        "lraspp_low": "c3",
        "aux": "c3",
    }

    def __init__(
        self,
        *,
        width: float = 1.0,
        output_stride: int = 32,
        include_last_layer: bool = True,
        out_features: Sequence[str] | None = None,
        freeze_bn: bool = False,
        tf_conventions: bool = False,
    ) -> None:
        super().__init__(out_features=out_features, freeze_bn=freeze_bn)
        self.width = width
        # TF-slim's checkpoints were trained with BatchNorm's epsilon at 1e-3 (slim.batch_norm's
        # default) and TF's "SAME" padding; the loaded model keeps both.
        batchnorm = {"bn_eps": 1e-3 if tf_conventions else 1e-5}
        conv_options = {**batchnorm, "tf_same": tf_conventions}
        self.output_stride = output_stride
        block_strides = [s if i == 0 else 1 for _, _, n, s in INVERTED_RESIDUAL_SETTINGS for i in range(n)]
        plan = dilated_strides([2, *block_strides], output_stride=output_stride)

        stem_channels = make_divisible(32 * width)
        self.stem = ConvBNAct(3, stem_channels, stride=2, **conv_options)
        blocks: list[InvertedResidual] = []
        in_channels, running_stride = stem_channels, plan[0][0]
        for stage, (t, c, n, _) in enumerate(INVERTED_RESIDUAL_SETTINGS):
            out_channels = make_divisible(c * width)
            for i in range(n):
                stride, dilation = plan[1 + len(blocks)]
                block = InvertedResidual(
                    in_channels, out_channels, stride=stride, expand_ratio=t, dilation=dilation, **conv_options
                )
                if stage == DETECTION_TAP_STAGE and i == 0:
                    self._tap_index = len(blocks)
                    self._features["c4_expand"] = FeatureSpec(block.hidden_channels, running_stride)
                running_stride *= stride
                blocks.append(block)
                in_channels = out_channels
            if stage in STAGE_FEATURES:
                self._features[STAGE_FEATURES[stage]] = FeatureSpec(out_channels, running_stride)
        self._stage_ends = {
            sum(n for _, _, n, _ in INVERTED_RESIDUAL_SETTINGS[: stage + 1]) - 1: name
            for stage, name in STAGE_FEATURES.items()
        }
        self.blocks = nn.Sequential(*blocks)
        self.last = None
        if include_last_layer:
            last_channels = make_divisible(LAST_CHANNELS * max(1.0, width))
            self.last = ConvBNAct(in_channels, last_channels, kernel_size=1, **batchnorm)
            self._features["last"] = FeatureSpec(last_channels, running_stride)
        self._select_features()
        init_conv_bn(self)
        zero_init_residual_branches(self)

    def keeps_expansion(self, index: int) -> bool:
        """Whether block `index`'s whole expanded tensor is a returned feature (the SSDLite tap
        c4_expand): memory-efficient mode must leave that block unsplit."""
        return index == self._tap_index and self._keep("c4_expand")

    def stem_and_first_block(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> block 0's output (N, 16 * width, H / 2, W / 2).

        Block 0 has t = 1: the stem's output is its expanded tensor. Split, the two run as one
        inverted residual whose expansion is the 3x3 stride-2 stem, so the 32-channel map at half
        the input side is never whole ("the same trick applies" to the first layer, paper 5.1).
        """
        first = self.blocks[0]
        if first.split_groups > 1:
            return split_inverted_residual(x, expand=self.stem, depthwise=first.depthwise, project=first.project,
                                           groups=first.split_groups, shortcut=False)
        return first(self.stem(x))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) -> {name: (N, C, ceil(H / stride), ceil(W / stride))}."""
        self.check_input(x)
        features: dict[str, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            if index == 0:
                x = self.stem_and_first_block(x)
            elif self.keeps_expansion(index):
                x, features["c4_expand"] = block.forward_with_expansion(x)
            else:
                x = block(x)
            self.keep_stage_end(features, index=index, x=x)
        if self.last is not None and self._keep("last"):
            features["last"] = self.last(x)
        return features
