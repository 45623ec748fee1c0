"""An inverted residual computed in channel groups, never holding its expanded tensor whole
(MobileNetV2 paper, section 5.1).

The expansion (1x1 conv, BN, ReLU6) and the depthwise conv (BN, ReLU6) act on each expanded
channel alone, so any group of channels can be computed from the block's input by itself; the
projection is a sum over the expanded channels, so each group adds its share into the output.
With k groups at most one group's slice of the expanded tensor (hidden / k channels) is alive,
beside the block's input and output. Works on ConvBNAct blocks as built (conv, BatchNorm, act)
and as BatchNorm folding leaves them (conv with bias, Identity, act).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobilevision.errors import MobileVisionError


def channel_groups(channels: int, groups: int) -> list[tuple[int, int]]:
    """(start, stop) of `groups` contiguous channel ranges whose sizes differ by at most one."""
    if not 1 <= groups <= channels:
        raise MobileVisionError(f"split into {groups} groups: use 1 to {channels} groups for {channels} channels")
    bounds = [channels * index // groups for index in range(groups + 1)]
    return list(zip(bounds, bounds[1:]))


def _batchnorm_(norm: nn.BatchNorm2d, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Channels start:stop of eval-mode BatchNorm, in place on x (N, stop - start, H, W): the
    slice's only copy is the conv output itself."""
    scale = norm.weight[start:stop] * torch.rsqrt(norm.running_var[start:stop] + norm.eps)
    shift = norm.bias[start:stop] - norm.running_mean[start:stop] * scale
    return x.mul_(scale.view(1, -1, 1, 1)).add_(shift.view(1, -1, 1, 1))


def _conv_bn_act_slice(block: nn.Sequential, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Output channels start:stop of a ConvBNAct. A depthwise conv's x must already be the same
    channels of its input; a dense conv's x is its whole input. (N, C, H, W) -> (N, stop - start, H', W')."""
    conv, *rest = block
    depthwise = conv.groups > 1
    if depthwise and conv.groups != conv.out_channels:
        raise MobileVisionError(f"cannot split a grouped conv with {conv.groups} groups by output channels")
    bias = conv.bias[start:stop] if conv.bias is not None else None
    x = F.conv2d(x, conv.weight[start:stop], bias, conv.stride, conv.padding, conv.dilation,
                 stop - start if depthwise else 1)
    for layer in rest:
        # Folded BatchNorm is an Identity; the activations are built in place (ReLU6(inplace=True)).
        x = _batchnorm_(layer, x, start, stop) if isinstance(layer, nn.BatchNorm2d) else layer(x)
    return x


def _project_accumulate_(out: torch.Tensor, part: torch.Tensor, weight: torch.Tensor) -> None:
    """out (N, C_out, H, W) += 1x1 conv of part (N, g, H, W) with weight (C_out, g), in place as a
    matrix product, so no output-sized temporary exists beside the accumulator."""
    if out.is_contiguous():
        for out_image, part_image in zip(out, part.contiguous()):
            out_image.view(out.shape[1], -1).addmm_(weight, part_image.view(part.shape[1], -1))
    else:  # channels_last: rows are pixels, columns channels
        rows = out.permute(0, 2, 3, 1).view(-1, out.shape[1])
        part_rows = part.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).view(-1, part.shape[1])
        rows.addmm_(part_rows, weight.t())


def split_inverted_residual(
    x: torch.Tensor,
    *,
    expand: nn.Sequential | None,
    depthwise: nn.Sequential,
    project: nn.Sequential,
    groups: int,
    shortcut: bool,
) -> torch.Tensor:
    """An inverted residual (expand -> depthwise -> linear projection [+ x]) in `groups` channel groups.

    x (N, C_in, H, W) -> (N, C_out, H / stride, W / stride), equal to the unsplit block up to float
    rounding. `expand` None means the block has t = 1: its input is its expanded tensor and is
    sliced by channel. `expand` may be any ConvBNAct (MobileNetV2 passes its 3x3 stride-2 stem as
    block 0's expansion). Inference only: BatchNorm uses its running statistics.
    """
    if depthwise.training:
        raise MobileVisionError("memory-efficient mode is for inference: call model.eval(), or "
                                "disable_memory_efficient(model) to train")
    conv = project[0]
    weight = conv.weight.view(conv.out_channels, conv.in_channels)
    out = None
    for start, stop in channel_groups(depthwise[0].out_channels, groups):
        part = _conv_bn_act_slice(expand, x, start, stop) if expand is not None else x[:, start:stop]
        part = _conv_bn_act_slice(depthwise, part, start, stop)
        if out is None:
            out = F.conv2d(part, conv.weight[:, start:stop])
        else:
            _project_accumulate_(out, part, weight[:, start:stop])
        del part  # free the slice before the next group's expansion allocates its own
    if conv.bias is not None:
        out.add_(conv.bias.view(1, -1, 1, 1))
    if isinstance(project[1], nn.BatchNorm2d):
        _batchnorm_(project[1], out, 0, out.shape[1])
    return out.add_(x) if shortcut else out
