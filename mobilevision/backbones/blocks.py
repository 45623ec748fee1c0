"""The building blocks of MobileNetV1 and MobileNetV2: conv + BN + activation, the depthwise
separable block (V1) and the inverted residual with linear bottleneck (V2). MobileNetV3's own
(squeeze-and-excitation, hard-swish) are in mobilenet_v3.py."""

from __future__ import annotations

import torch
from torch import nn

from mobilevision.backbones.split import split_inverted_residual
from mobilevision.backbones.strided_depthwise import is_strided_depthwise, strided_depthwise_bf16
from mobilevision.backbones.tf_padding import TFSameConv2d


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of `divisor`, never below 90% of `value`.

    Both the TF-slim and the torchvision MobileNets round this way; the 90% floor keeps a width
    multiplier from losing more than a tenth of a layer's channels to rounding.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def activation_layer(name: str) -> nn.Module:
    """ReLU6 is what MobileNetV2, TF-slim and timm use; plain ReLU is the MobileNetV1 paper's (and
    MobileNetV3's early layers'), hard-swish MobileNetV3's later ones."""
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "hardswish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {name!r}; use 'relu6', 'relu' or 'hardswish'")


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> optional activation. (N, C_in, H, W) -> (N, C_out, H/s, W/s).

    Padding keeps "same" geometry for any dilation: pad = dilation * (kernel - 1) / 2; with
    `tf_same` a strided conv pads as TF's "SAME" (weights trained in TF; tf_padding.py).

    Under CPU bf16 autocast a strided depthwise conv trains through strided_depthwise.py: oneDNN
    has no depthwise kernel for its bf16 input gradient and runs a generic grouped one, 4-40x
    slower (docs/benchmarks.md). Inference, whose bf16 forward is fast, is left to autocast.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        activation: str | None = "relu6",
        conv_type: type[nn.Conv2d] = nn.Conv2d,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        tf_same: bool = False,
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        if tf_same and stride > 1:  # TF pads strided convs asymmetrically (tf_padding.py)
            conv_type = TFSameConv2d
        layers: list[nn.Module] = [
            conv_type(
                in_channels,
                out_channels,
                kernel_size=kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum),
        ]
        if activation is not None:
            layers.append(activation_layer(activation))
        super().__init__(*layers)
        self.out_channels = out_channels
        self.strided_depthwise = is_strided_depthwise(self[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A 1x1 map is left to the conv's own forward: SSDLite's runs it as its centre tap
        # (heads/ssdlite.py CentreTapOnOneByOne).
        if (self.strided_depthwise and x.device.type == "cpu" and torch.is_grad_enabled() and min(x.shape[-2:]) > 1
                and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16):
            x = strided_depthwise_bf16(self[0], x)
            for layer in list(self)[1:]:
                x = layer(x)
            return x
        return super().forward(x)


class DepthwiseSeparable(nn.Module):
    """MobileNetV1 block: 3x3 depthwise conv + BN + act, then 1x1 pointwise conv + BN + act.

    (N, C_in, H, W) -> (N, C_out, H/stride, W/stride).
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, stride: int, dilation: int = 1, activation: str = "relu6",
        bn_eps: float = 1e-5, tf_same: bool = False,
    ) -> None:
        super().__init__()
        self.depthwise = ConvBNAct(
            in_channels, in_channels, stride=stride, dilation=dilation, groups=in_channels, activation=activation,
            bn_eps=bn_eps, tf_same=tf_same,
        )
        self.pointwise = ConvBNAct(in_channels, out_channels, kernel_size=1, activation=activation, bn_eps=bn_eps)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear projection.

    The projection has no activation (the "linear bottleneck": ReLU on a thin tensor destroys
    information), and the shortcut exists only when stride is 1 and channels are unchanged.
    (N, C_in, H, W) -> (N, C_out, H/stride, W/stride); the expanded tensor has C_in * expand_ratio
    channels. With `split_groups` k > 1 (memory-efficient inference, backbones/memory_efficient.py)
    the block runs in k channel groups and holds only hidden / k expanded channels at a time.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int,
        expand_ratio: int,
        dilation: int = 1,
        bn_eps: float = 1e-5,
        tf_same: bool = False,
    ) -> None:
        super().__init__()
        # torchvision rounds with round(), TF-slim with make_divisible(.., 8); the input channels
        # are always multiples of 8 and t is 1 or 6, so both give the same width.
        hidden = int(round(in_channels * expand_ratio))
        self.expand = ConvBNAct(in_channels, hidden, kernel_size=1, bn_eps=bn_eps) if expand_ratio != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, stride=stride, dilation=dilation, groups=hidden, bn_eps=bn_eps,
                                   tf_same=tf_same)
        self.project = ConvBNAct(hidden, out_channels, kernel_size=1, activation=None, bn_eps=bn_eps)
        self.use_shortcut = stride == 1 and in_channels == out_channels
        self.hidden_channels = hidden
        self.out_channels = out_channels
        self.split_groups = 1

    def forward_with_expansion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (output, expanded tensor), never split: SSDLite taps one block's whole expansion."""
        expanded = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(expanded))
        if self.use_shortcut:
            out = out + x
        return out, expanded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split_groups > 1:
            return split_inverted_residual(x, expand=self.expand, depthwise=self.depthwise, project=self.project,
                                           groups=self.split_groups, shortcut=self.use_shortcut)
        # One expression: a name on the expanded tensor (forward_with_expansion's) would keep it
        # alive through the projection, after its last use.
        out = self.project(self.depthwise(self.expand(x) if self.expand is not None else x))
        return out + x if self.use_shortcut else out


def init_conv_bn(module: nn.Module) -> None:
    """torchvision's MobileNet initialisation: Kaiming fan-out for convs, BatchNorm to identity."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def zero_init_residual_branches(module: nn.Module) -> None:
    """Start every inverted residual that has a shortcut as the identity: its projection's
    BatchNorm scale is zero (Goyal et al. 2017, "zero-gamma"). From scratch on the built-in data,
    MobileNetV2 width 0.5 reached 0.595 val top-1 after 4 epochs with it and 0.346 without
    (AdamW 3e-3, 96 px); pretrained weights overwrite it."""
    for m in module.modules():
        if isinstance(m, InvertedResidual) and m.use_shortcut:
            nn.init.zeros_(m.project[1].weight)
