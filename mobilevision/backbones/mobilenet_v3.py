"""MobileNetV3 (Howard et al., 2019) as a feature extractor: the backbone of torchvision's trained
mobile detector and segmenters.

Tables 1 and 2 of the paper: a 3x3 hard-swish stem of 16 channels at stride 2, inverted residual
blocks with a 3x3 or 5x5 depthwise conv, ReLU or hard-swish, and squeeze-and-excitation on some,
then a 1x1 conv to six times the last block's channels. The classifier pools that and runs a
hidden linear layer (1280 channels Large, 1024 Small) with hard-swish before the class layer.
BatchNorm uses eps 1e-3 and momentum 0.01, as the paper's TF code and torchvision do.
`reduced_tail` halves the last stage, as torchvision's detector and segmenters build it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.backbones.base import Backbone, FeatureSpec, dilated_strides
from mobilevision.backbones.blocks import ConvBNAct, init_conv_bn, make_divisible

BN = {"bn_eps": 1e-3, "bn_momentum": 0.01}
# (kernel, expanded channels, output channels, squeeze-and-excitation, activation, stride) per block,
# the paper's Table 1 (Large) and Table 2 (Small); the input channels are the previous block's.
LARGE = (
    (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1), (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1), (5, 960, 160, True, "hardswish", 1),
)
SMALL = (
    (3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hardswish", 2), (5, 240, 40, True, "hardswish", 1), (5, 240, 40, True, "hardswish", 1),
    (5, 120, 48, True, "hardswish", 1), (5, 144, 48, True, "hardswish", 1), (5, 288, 96, True, "hardswish", 2),
    (5, 576, 96, True, "hardswish", 1), (5, 576, 96, True, "hardswish", 1),
)
LAST_STAGE_BLOCKS = 3  # the blocks reduced_tail halves, from the last stride-2 one on
# The last block at each stride (before dilation) is a named feature.
STRIDE_FEATURES = {4: "c2", 8: "c3", 16: "c4", 32: "c5"}


class SqueezeExcitation(nn.Module):
    """Channel attention: pooled (N, C, 1, 1) -> 1x1 conv to C/4 -> ReLU -> 1x1 conv -> hard-sigmoid,
    scaling the input (N, C, H, W). Keys fc1 / fc2, as torchvision's."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeezed = make_divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * nn.functional.hardsigmoid(scale)


class InvertedResidualV3(nn.Module):
    """1x1 expansion (skipped when it would not widen) -> k x k depthwise -> optional
    squeeze-and-excitation -> 1x1 linear projection; the shortcut when the block's stride in the
    undilated network is 1 and channels are unchanged (a stride-2 block run dilated at stride 1
    still has none, as in torchvision). (N, C_in, H, W) -> (N, C_out, H/stride, W/stride)."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, *, kernel_size: int, se: bool,
                 activation: str, stride: int, dilation: int, nominal_stride: int) -> None:
        super().__init__()
        self.expand = (ConvBNAct(in_channels, hidden, kernel_size=1, activation=activation, **BN)
                       if hidden != in_channels else None)
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size=kernel_size, stride=stride, dilation=dilation,
                                   groups=hidden, activation=activation, **BN)
        self.se = SqueezeExcitation(hidden) if se else None
        self.project = ConvBNAct(hidden, out_channels, kernel_size=1, activation=None, **BN)
        self.use_shortcut = nominal_stride == 1 and in_channels == out_channels
        self.hidden_channels, self.out_channels = hidden, out_channels

    def forward_with_expansion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, expanded tensor): SSDLite taps one block's expansion."""
        expanded = self.expand(x) if self.expand is not None else x
        out = self.depthwise(expanded)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return (out + x if self.use_shortcut else out), expanded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_expansion(x)[0]


class MobileNetV3(Backbone):
    """MobileNetV3 features. (N, 3, H, W) -> dict of named maps.

    Features (channels at width 1.0 Large / Small, stride at output_stride 32): c2 (24 / 16, 4),
    c3_entry (40 / 24, 8: the output of the first stride-8 block, which torchvision's segmenters
    read), c3 (40 / 24, 8), c4 (112 / 48, 16), c4_expand (672 / 288, 16: the expansion of the first
    stride-32 block, torchvision's SSDLite tap), c5 (160 / 96, 32), last (960 / 576, 32: the 1x1
    conv after the blocks, which the classifier and torchvision's segmenters read). At output
    stride 16 or 8 the later blocks run dilated, the converted stride-2 block too (torchvision's
    `dilated=True`).
    """

    roles = {"classifier": "last", "ssdlite": ("c4_expand", "last"), "deeplab": "last", "deeplab_low": "c2",
             "lraspp_low": "c3_entry", "aux": "c3_entry"}
    blocks_config: tuple = ()
    classifier_hidden: int = 0  # the hidden layer of the ImageNet classifier at width 1.0

    def __init__(self, *, width: float = 1.0, output_stride: int = 32, reduced_tail: bool = False,
                 out_features: Sequence[str] | None = None, freeze_bn: bool = False) -> None:
        super().__init__(out_features=out_features, freeze_bn=freeze_bn)
        self.width, self.output_stride = width, output_stride
        config = list(self.blocks_config)
        if reduced_tail:  # torchvision's reduce_divider 2: the last stage's outputs, and expansions after its first
            first = len(config) - LAST_STAGE_BLOCKS
            config[first:] = [(k, e if i == first else e // 2, c // 2, se, act, s)
                              for i, (k, e, c, se, act, s) in enumerate(config[first:], start=first)]
        plan = dilated_strides([2, *(s for *_, s in config)], output_stride=output_stride, dilate_converted=True)
        stem_channels = make_divisible(16 * width)
        self.stem = ConvBNAct(3, stem_channels, stride=2, activation="hardswish", **BN)
        nominal_strides = [s for *_, s in config]
        # The last block at each stride is a named feature; the first stride-32 block's expansion too.
        reached = [2 * math.prod(nominal_strides[:index + 1]) for index in range(len(config))]
        self._stage_ends = {index: STRIDE_FEATURES[reached[index]] for index in range(len(config))
                            if reached[index] in STRIDE_FEATURES
                            and (index + 1 == len(config) or nominal_strides[index + 1] == 2)}
        entering = {reached[index]: index for index in range(len(config)) if nominal_strides[index] == 2}
        self._entry_index, self._tap_index = entering[8], entering[32]
        blocks, in_channels = [], stem_channels
        for index, (kernel, expanded, channels, se, activation, nominal) in enumerate(config):
            stride, dilation = plan[1 + index]
            block = InvertedResidualV3(in_channels, make_divisible(expanded * width), make_divisible(channels * width),
                                       kernel_size=kernel, se=se, activation=activation, stride=stride,
                                       dilation=dilation, nominal_stride=nominal)
            if index == self._entry_index:
                self._features["c3_entry"] = FeatureSpec(block.out_channels, min(8, output_stride))
            if index == self._tap_index:
                self._features["c4_expand"] = FeatureSpec(block.hidden_channels, min(16, output_stride))
            if index in self._stage_ends:
                self._features[self._stage_ends[index]] = FeatureSpec(block.out_channels,
                                                                        min(reached[index], output_stride))
            blocks.append(block)
            in_channels = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        last_channels = 6 * in_channels
        self.last = ConvBNAct(in_channels, last_channels, kernel_size=1, activation="hardswish", **BN)
        self._features["last"] = FeatureSpec(last_channels, min(32, output_stride))
        self._select_features()
        init_conv_bn(self)

    @classmethod
    def classifier_hidden_channels(cls, width: float) -> int:
        """The ImageNet classifier's hidden layer at `width` (torchvision scales it with the width)."""
        return make_divisible(cls.classifier_hidden * width)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) -> {name: (N, C, ceil(H / stride), ceil(W / stride))}."""
        self.check_input(x)
        features: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        for index, block in enumerate(self.blocks):
            if index == self._tap_index and self._keep("c4_expand"):
                x, features["c4_expand"] = block.forward_with_expansion(x)
            else:
                x = block(x)
            if index == self._entry_index and self._keep("c3_entry"):
                features["c3_entry"] = x
            self.keep_stage_end(features, index=index, x=x)
        if self._keep("last"):
            features["last"] = self.last(x)
        return features


class MobileNetV3Large(MobileNetV3):
    blocks_config = LARGE
    classifier_hidden = 1280


class MobileNetV3Small(MobileNetV3):
    blocks_config = SMALL
    classifier_hidden = 1024
