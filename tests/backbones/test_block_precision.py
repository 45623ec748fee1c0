"""Under CPU bf16 autocast a strided depthwise block trains in bf16 with its gradients taken by
depthwise kernels (backbones/strided_depthwise.py), infers in bf16, and every other block is left
to autocast."""

import pytest
import torch
import torch.nn.functional as F

from mobilevision.backbones.blocks import ConvBNAct
from mobilevision.backbones.strided_depthwise import _StridedDepthwise, geometry, strided_depthwise_bf16
from mobilevision.backbones.tf_padding import TFSameConv2d

BF16 = {"device_type": "cpu", "dtype": torch.bfloat16}


def _block(*, groups: int, stride: int) -> ConvBNAct:
    torch.manual_seed(0)
    return ConvBNAct(16, 16, stride=stride, groups=groups).train()


@pytest.mark.parametrize(("size", "stride", "dilation", "padding"),
                         [((17, 16), 2, 1, 1), ((9, 12), 3, 1, 0), ((15, 15), 2, 2, 2), ((16, 16), 2, 1, 0)])
def test_strided_depthwise_gradients_are_the_convolutions(size, stride, dilation, padding):
    """The spread-and-flip backward against autograd's, in fp64 so that only the algebra is compared
    (odd and even sizes, stride 3, dilation, no padding)."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 6, 3, stride=stride, padding=padding, dilation=dilation, groups=6, bias=False).double()
    x = torch.randn(2, 6, *size, dtype=torch.float64, requires_grad=True)
    out = _StridedDepthwise.apply(x, conv.weight, geometry(conv))
    expected = conv(x)
    gradient = torch.randn_like(expected)
    ours = torch.autograd.grad(out, (x, conv.weight), gradient)
    theirs = torch.autograd.grad(expected, (x, conv.weight), gradient)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(ours[0], theirs[0])
    torch.testing.assert_close(ours[1], theirs[1])


@pytest.mark.parametrize("channels_last", [False, True])
def test_strided_depthwise_block_trains_in_bf16_with_autocasts_gradients(channels_last):
    """The block's bf16 outputs and gradients against plain autocast's (the slow generic kernel) on
    the same input: equal up to bf16 rounding (one bf16 ulp of the values, 2^-8 relative)."""
    block, reference = _block(groups=16, stride=2), _block(groups=16, stride=2)
    reference.strided_depthwise = False  # what autocast alone runs
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(2, 16, 17, 17).bfloat16().float().contiguous(memory_format=memory_format)
    inputs, expected_input = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    with torch.autocast(**BF16):
        out, expected = block(inputs), reference(expected_input)
    out.float().square().sum().backward()
    expected.float().square().sum().backward()
    assert out.dtype == torch.bfloat16 and out.shape == (2, 16, 9, 9)
    assert block[0].weight.grad.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=2 ** -7, atol=2 ** -7)
    torch.testing.assert_close(inputs.grad, expected_input.grad, rtol=2 ** -6, atol=2 ** -6)
    torch.testing.assert_close(block[0].weight.grad, reference[0].weight.grad, rtol=2 ** -6, atol=2 ** -4)


def test_tf_same_padding_is_applied_before_the_strided_depthwise():
    torch.manual_seed(0)
    conv = TFSameConv2d(4, 4, 3, stride=2, groups=4, bias=False)
    x = torch.randn(1, 4, 10, 10).bfloat16().float()
    with torch.autocast(**BF16):
        out = strided_depthwise_bf16(conv, x)
    torch.testing.assert_close(out.float(), F.conv2d(conv.pad_input(x).bfloat16(), conv.weight.bfloat16(),
                                                     stride=2, groups=4).float())


def test_strided_depthwise_infers_in_bf16():
    block = _block(groups=16, stride=2).eval()
    with torch.no_grad(), torch.autocast(**BF16):
        assert block(torch.randn(1, 16, 17, 17)).dtype == torch.bfloat16


@pytest.mark.parametrize(("groups", "stride"), [(16, 1), (1, 2), (1, 1)])
def test_other_blocks_train_under_autocast(groups, stride):
    block = _block(groups=groups, stride=stride)
    assert not block.strided_depthwise
    with torch.autocast(**BF16):
        out = block(torch.randn(2, 16, 17, 17, requires_grad=True))
    assert out.dtype == torch.bfloat16
