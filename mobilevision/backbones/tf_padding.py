"""TensorFlow's "SAME" padding, which TF-slim's and the model zoos' MobileNets were trained with.

TF pads a convolution so that its output has ceil(size / stride) positions and puts the odd pixel
of padding after the input, not before: a 3x3 stride-2 convolution of a 224-pixel input pads
nothing on the top and left and one row and column on the bottom and right, where PyTorch's
symmetric padding=1 pads one of each (tensorflow/python/ops/nn_ops.py, the "SAME" padding
documented at https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2). Weights
trained with one see shifted inputs under the other, so a TF checkpoint keeps TF's padding.
At stride 1 with an odd kernel both pad (k - 1) * dilation / 2 on each side: the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def tf_same_pads(size: int, *, kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of one spatial axis of `size` pixels, as TF's "SAME" computes it."""
    output = math.ceil(size / stride)
    total = max((output - 1) * stride + (kernel_size - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class TFSameConv2d(nn.Conv2d):
    """nn.Conv2d padded as TF's "SAME": (N, C_in, H, W) -> (N, C_out, ceil(H / s), ceil(W / s)).

    The pads follow each input's size, so the constructor's `padding` is ignored (0 is stored);
    the weights and their names are nn.Conv2d's."""

    def __init__(self, *args, padding: int = 0, **kwargs) -> None:
        super().__init__(*args, padding=0, **kwargs)

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> the input padded as TF's "SAME" pads it for this convolution."""
        top, bottom = tf_same_pads(x.shape[-2], kernel_size=self.kernel_size[0], stride=self.stride[0],
                                   dilation=self.dilation[0])
        left, right = tf_same_pads(x.shape[-1], kernel_size=self.kernel_size[1], stride=self.stride[1],
                                   dilation=self.dilation[1])
        return F.pad(x, (left, right, top, bottom))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad_input(x))
