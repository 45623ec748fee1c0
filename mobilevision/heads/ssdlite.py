"""SSDLite head (MobileNetV2 paper, section 6.2): extra feature levels and separable predictors.

As TF object detection's ssdlite_mobilenet_v2_coco builds it: the backbone gives two maps
(stride 16 and 32); four extra blocks (1x1 to half the depth, 3x3 depthwise stride 2, 1x1 to the
full depth of 512, 256, 256, 128; BN + ReLU6 after each) make strides 64 to 512; on each of the
six levels a box predictor and a class predictor, each a 3x3 depthwise conv + BN + ReLU6 and a
1x1 conv with bias. "Lite" is the depthwise convs where SSD has full 3x3 ones.

With `separable=False` it is SSD's head as TF's ssd_mobilenet_v1_coco builds it (its
pipeline.config: box predictor kernel_size 1; models/feature_map_generators.py without
use_depthwise): each extra block a 1x1 to half the depth then a full 3x3 stride-2 conv, and each
predictor one 1x1 conv with bias. With `tf_same` the stride-2 convs pad as TF's "SAME".

The head is a plain module: feature maps in, raw per-anchor tensors out. Anchors, box coding,
matching, losses and NMS live beside it (heads/anchors.py, heads/box_coder.py, tasks/detect/).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mobilevision.backbones.blocks import ConvBNAct
from mobilevision.backbones.tf_padding import TFSameConv2d

EXTRA_CHANNELS = (512, 256, 256, 128)
# TF's conv hyperparameters for the SSDLite feature extractor and box predictor.
BN_EPS = 1e-3
INIT_STD = 0.03
# TF's min_depth: a width multiplier never thins an extra block below 16 channels.
MIN_DEPTH = 16


class CentreTapOnOneByOne:
    """For a 3x3 stride-2 conv padded by one pixel a side (PyTorch's padding=1 and TF's "SAME"
    alike): on a 1x1 map it sees only its centre tap, so it runs as the 1x1 conv of that tap. Not
    only equal but needed: oneDNN's bf16 channels_last depthwise weight gradient at stride 2 on a
    1x1 input leaves the border taps unwritten (values up to 1e35 measured on the last extra block at
    256 px), which turned training losses into NaN. The last extra blocks get 1x1 maps at inputs up
    to 256 px."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (1, 1):
            return F.conv2d(x, self.weight[..., 1:2, 1:2], self.bias, groups=self.groups)
        return super().forward(x)


class StridedConv2d(CentreTapOnOneByOne, nn.Conv2d):
    """nn.Conv2d with the 1x1-map rule above."""


class TFSameStridedConv2d(CentreTapOnOneByOne, TFSameConv2d):
    """TF's "SAME"-padded conv with the 1x1-map rule above."""


def _conv_bn_relu6(in_channels: int, out_channels: int, *, kernel_size: int = 1, stride: int = 1,
                   depthwise: bool = False, tf_same: bool = False) -> ConvBNAct:
    strided = TFSameStridedConv2d if tf_same else StridedConv2d
    block = ConvBNAct(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                      groups=in_channels if depthwise else 1, conv_type=strided if stride == 2 else nn.Conv2d)
    block[1].eps = BN_EPS  # TF trains these layers with epsilon 1e-3, not PyTorch's 1e-5
    return block


class ExtraBlock(nn.Sequential):
    """(N, C_in, H, W) -> (N, C_out, ceil(H / 2), ceil(W / 2)): 1x1 to C_out / 2, 3x3 depthwise
    stride 2, 1x1 to C_out (SSDLite); with separable=False, 1x1 to C_out / 2 then a full 3x3
    stride-2 conv to C_out (SSD)."""

    def __init__(self, in_channels: int, out_channels: int, *, separable: bool = True, tf_same: bool = False) -> None:
        mid = out_channels // 2
        if separable:
            layers = [_conv_bn_relu6(mid, mid, kernel_size=3, stride=2, depthwise=True, tf_same=tf_same),
                      _conv_bn_relu6(mid, out_channels)]
        else:
            layers = [_conv_bn_relu6(mid, out_channels, kernel_size=3, stride=2, tf_same=tf_same)]
        super().__init__(_conv_bn_relu6(in_channels, mid), *layers)
        self.out_channels = out_channels


def per_anchor(x: torch.Tensor, *, values_per_anchor: int) -> torch.Tensor:
    """A predictor's (N, k * V, H, W) map, channels laid out (anchor, value) -> (N, H * W * k, V),
    location-major as the anchors are ordered."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, values_per_anchor)


class SeparablePredictor(nn.Module):
    """(N, C, H, W) -> (N, H * W * num_anchors, values_per_anchor): 3x3 depthwise + BN + ReLU6,
    then a 1x1 conv with bias."""

    def __init__(self, in_channels: int, *, num_anchors: int, values_per_anchor: int) -> None:
        super().__init__()
        self.depthwise = _conv_bn_relu6(in_channels, in_channels, kernel_size=3, depthwise=True)
        self.pointwise = nn.Conv2d(in_channels, num_anchors * values_per_anchor, kernel_size=1)
        self.values_per_anchor = values_per_anchor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_anchor(self.pointwise(self.depthwise(x)), values_per_anchor=self.values_per_anchor)


class ConvPredictor(nn.Module):
    """(N, C, H, W) -> (N, H * W * num_anchors, values_per_anchor): SSD's predictor, as
    ssd_mobilenet_v1_coco configures it: one 1x1 conv with bias."""

    def __init__(self, in_channels: int, *, num_anchors: int, values_per_anchor: int) -> None:
        super().__init__()
        self.pointwise = nn.Conv2d(in_channels, num_anchors * values_per_anchor, kernel_size=1)
        self.values_per_anchor = values_per_anchor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_anchor(self.pointwise(x), values_per_anchor=self.values_per_anchor)


class SSDLiteHead(nn.Module):
    """Two backbone maps -> (box_deltas (N, A, 4), class_logits (N, A, num_classes)).

    `in_channels`: channels of the stride-16 and stride-32 maps (from the backbone's feature_info).
    `num_anchors`: anchors per location on each of the 2 + len(extra_channels) levels.
    `class_bias_init`: initial bias of the class logits (-4.6 = a 1% prior, for the focal loss).
    `separable`: SSDLite's depthwise extras and predictors, or SSD's full convs (module docstring).
    `tf_same`: the stride-2 convs pad as TF's "SAME" (weights trained in TF).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        *,
        num_anchors: Sequence[int],
        num_classes: int,
        extra_channels: Sequence[int] = EXTRA_CHANNELS,
        class_bias_init: float = 0.0,
        separable: bool = True,
        tf_same: bool = False,
    ) -> None:
        super().__init__()
        extras, previous = [], in_channels[-1]
        for channels in extra_channels:
            extras.append(ExtraBlock(previous, channels, separable=separable, tf_same=tf_same))
            previous = channels
        self.extras = nn.ModuleList(extras)
        level_channels = [*in_channels, *extra_channels]
        if len(level_channels) != len(num_anchors):
            raise ValueError(f"{len(level_channels)} feature levels but anchors for {len(num_anchors)}")
        predictor = SeparablePredictor if separable else ConvPredictor
        self.box_predictors = nn.ModuleList(
            predictor(c, num_anchors=k, values_per_anchor=4) for c, k in zip(level_channels, num_anchors)
        )
        self.class_predictors = nn.ModuleList(
            predictor(c, num_anchors=k, values_per_anchor=num_classes) for c, k in zip(level_channels, num_anchors)
        )
        self.num_classes = num_classes
        self._init_weights(class_bias_init=class_bias_init)

    def _init_weights(self, *, class_bias_init: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for predictor in self.class_predictors:
            nn.init.constant_(predictor.pointwise.bias, class_bias_init)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """features: the (N, C16, H/16, W/16) and (N, C32, H/32, W/32) maps, in that order."""
        levels = list(features)
        for block in self.extras:
            levels.append(block(levels[-1]))
        box_deltas = torch.cat([p(x) for p, x in zip(self.box_predictors, levels)], dim=1)
        class_logits = torch.cat([p(x) for p, x in zip(self.class_predictors, levels)], dim=1)
        return box_deltas, class_logits
