"""The backbone contract: named feature maps, declared before any forward.

A backbone's `forward(x)` returns `dict[str, Tensor]`; `feature_info()` says, without running
anything, which names it returns with their channels and strides (as detectron2's
`output_shape()` or timm's `feature_info`). Heads read their input channels from that declaration.
`roles` names which feature each head reads, so heads never hard-code a backbone's layer names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mobilevision.errors import MobileVisionError

OUTPUT_STRIDES = (8, 16, 32)
MIN_INPUT_SIZE = 32


@dataclass(frozen=True)
class FeatureSpec:
    """A named feature map: (N, channels, H / stride, W / stride), rounded up."""

    channels: int
    stride: int


def dilated_strides(strides: Sequence[int], *, output_stride: int,
                    dilate_converted: bool = False) -> list[tuple[int, int]]:
    """(stride, dilation) per layer so that the network's total stride stops at `output_stride`.

    DeepLab's rule (TF-slim `mobilenet.py`): once the running stride reaches the target, a
    stride-2 layer keeps the current dilation and runs at stride 1, and every layer after it
    dilates twice as much, so the receptive field stays that of the undilated network.
    dilate_converted: the stride-2 layer itself takes the doubled dilation too, as torchvision's
    MobileNetV3 (`dilated=True`) does. `strides` includes the stem's.
    """
    if output_stride not in OUTPUT_STRIDES:
        raise MobileVisionError(f"output_stride={output_stride} is not supported; use one of {OUTPUT_STRIDES}")
    current, rate, plan = 1, 1, []
    for stride in strides:
        if current == output_stride and stride > 1:
            rate *= stride
            plan.append((1, rate if dilate_converted else rate // stride))
        else:
            plan.append((stride, rate))
            current *= stride
    return plan


class Backbone(nn.Module):
    """Base class: input checking, feature selection and frozen BatchNorm statistics.

    Subclasses fill `_features` (name -> FeatureSpec, in forward order) and `roles`
    (the head that reads it -> feature name): "classifier", "ssdlite" (stride-16 and stride-32
    taps), "deeplab" (the deepest bottleneck), "deeplab_low" (stride 4), "aux" (stride 8).
    """

    roles: dict[str, str | tuple[str, ...]]

    def __init__(self, *, out_features: Sequence[str] | None, freeze_bn: bool) -> None:
        super().__init__()
        self._requested = tuple(out_features) if out_features is not None else None
        self.freeze_bn = freeze_bn
        self._features: dict[str, FeatureSpec] = {}

    def _select_features(self) -> None:
        """Called by subclasses once `_features` is filled: validate `out_features`."""
        if self._requested is None:
            return
        unknown = [name for name in self._requested if name not in self._features]
        if unknown:
            raise MobileVisionError(
                f"{type(self).__name__} has no feature {unknown}; it provides {list(self._features)}"
            )

    def feature_info(self) -> dict[str, FeatureSpec]:
        """Names, channels and strides of the maps `forward` returns, in forward order."""
        names = self._requested if self._requested is not None else tuple(self._features)
        return {name: self._features[name] for name in names}

    def role(self, role: str) -> str | tuple[str, ...]:
        """The feature name(s) a head reads, e.g. role("ssdlite") -> ("c4_expand", "last")."""
        if role not in self.roles:
            raise MobileVisionError(f"{type(self).__name__} has no {role!r} feature; roles: {list(self.roles)}")
        return self.roles[role]

    @classmethod
    def classifier_hidden_channels(cls, width: float) -> int | None:
        """The hidden layer an ImageNet classifier on this backbone has before its class layer at
        `width` (None: none, the pooled features go straight to it)."""
        return None

    def check_input(self, x: torch.Tensor) -> None:
        """Fail with a readable message before torch fails deep inside a convolution."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise MobileVisionError(
                f"{type(self).__name__} expects a float tensor of shape (N, 3, H, W) with H, W >= "
                f"{MIN_INPUT_SIZE}; got {got}. Convert grayscale or RGBA images to 3-channel RGB first."
            )
        if not torch.jit.is_tracing() and (x.shape[2] < MIN_INPUT_SIZE or x.shape[3] < MIN_INPUT_SIZE):
            raise MobileVisionError(
                f"{type(self).__name__} expects inputs of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} "
                f"pixels; got {tuple(x.shape[2:])}. Resize the image up (--imgsz)."
            )

    def _keep(self, name: str) -> bool:
        return self._requested is None or name in self._requested

    def keep_stage_end(self, features: dict[str, torch.Tensor], *, index: int, x: torch.Tensor) -> None:
        """Put block `index`'s output `x` into `features` when the block ends a named stage
        (`self._stage_ends`: block index -> feature name) that was asked for."""
        name = self._stage_ends.get(index)
        if name is not None and self._keep(name):
            features[name] = x

    def train(self, mode: bool = True) -> Backbone:
        """With `freeze_bn`, BatchNorm keeps its running statistics in training too: small
        batches give noisy statistics that would overwrite good pretrained ones."""
        super().train(mode)
        if self.freeze_bn:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
