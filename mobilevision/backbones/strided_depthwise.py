"""A strided depthwise convolution that trains in bf16 on a CPU with depthwise kernels only.

oneDNN computes the bf16 input gradient of a strided depthwise convolution with a generic grouped
kernel (`brgconv_strided`), 4-40x slower than its depthwise one (docs/benchmarks.md). That gradient
is a stride-1 depthwise convolution of the output gradient spread onto the input grid (zeros
between its values) with the kernel flipped, which oneDNN runs with its fast depthwise kernel; the
weight gradient already has one. Numerically it is the same sum as the transposed convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _spread(grad: torch.Tensor, *, size: tuple[int, int], conv: dict) -> torch.Tensor:
    """(N, C, h, w) output gradient -> (N, C, H + d(k-1), W + d(k-1)) zeros holding it at the input
    positions each output position's kernel starts from, shifted by the flipped kernel's reach."""
    n, c = grad.shape[:2]
    padded = [size[axis] + conv["dilation"][axis] * (conv["kernel"][axis] - 1) for axis in (0, 1)]
    if grad.is_contiguous(memory_format=torch.channels_last):  # stay in the layout the network runs in
        spread = grad.new_zeros((n, padded[0], padded[1], c)).permute(0, 3, 1, 2)
    else:
        spread = grad.new_zeros((n, c, *padded))
    offsets = [conv["dilation"][axis] * (conv["kernel"][axis] - 1) - conv["padding"][axis] for axis in (0, 1)]
    rows = slice(offsets[0], offsets[0] + conv["stride"][0] * (grad.shape[2] - 1) + 1, conv["stride"][0])
    cols = slice(offsets[1], offsets[1] + conv["stride"][1] * (grad.shape[3] - 1) + 1, conv["stride"][1])
    spread[:, :, rows, cols] = grad
    return spread


class _StridedDepthwise(torch.autograd.Function):
    """conv2d(x, weight, groups=C) forward; backward through depthwise kernels only."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, conv: dict) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.conv = conv
        return F.conv2d(x, weight, stride=conv["stride"], padding=conv["padding"], dilation=conv["dilation"],
                        groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        conv = ctx.conv
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_input = F.conv2d(_spread(grad, size=tuple(x.shape[-2:]), conv=conv), weight.flip(-1, -2),
                                  dilation=conv["dilation"], groups=x.shape[1])
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.aten.convolution_backward(
                grad, x, weight, None, conv["stride"], conv["padding"], conv["dilation"], False, (0, 0),
                x.shape[1], (False, True, False))[1]
        return grad_input, grad_weight, None


def is_strided_depthwise(conv: nn.Conv2d) -> bool:
    """Whether `conv` is a strided depthwise convolution this backward handles: no bias, zero
    padding no wider than the kernel's reach."""
    return (conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels and max(conv.stride) > 1
            and conv.bias is None and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and all(pad <= dilation * (kernel - 1)
                    for pad, dilation, kernel in zip(conv.padding, conv.dilation, conv.kernel_size)))


def geometry(conv: nn.Conv2d) -> dict:
    """The stride, padding, dilation and kernel size of `conv`, as _StridedDepthwise takes them."""
    return {"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation, "kernel": conv.kernel_size}


def strided_depthwise_bf16(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """`conv`'s forward on x (N, C, H, W) in bf16 -> (N, C, H', W') bf16, its input and weight
    gradients by depthwise kernels. `conv` passes is_strided_depthwise; its own input padding (TF's
    "SAME", tf_padding.py) is applied first."""
    x = conv.pad_input(x) if hasattr(conv, "pad_input") else x
    with torch.autocast(x.device.type, enabled=False):
        return _StridedDepthwise.apply(x.to(torch.bfloat16), conv.weight.to(torch.bfloat16), geometry(conv))
