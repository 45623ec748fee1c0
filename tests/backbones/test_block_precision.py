"""Under CPU bf16 autocast a stride-2 depthwise block trains in fp32 (oneDNN's bf16 input gradient
there is a slow generic kernel) and infers in bf16; every other block is left to autocast."""

import pytest
import torch

from mobilevision.backbones.blocks import ConvBNAct

BF16 = {"device_type": "cpu", "dtype": torch.bfloat16}


def _block(*, groups: int, stride: int) -> ConvBNAct:
    torch.manual_seed(0)
    return ConvBNAct(16, 16, stride=stride, groups=groups).train()


def test_strided_depthwise_trains_in_fp32_with_fp32_gradients():
    block = _block(groups=16, stride=2)
    reference = _block(groups=16, stride=2)
    # The input as a bf16 layer before it would hand it over, so both runs see the same values.
    x = torch.randn(2, 16, 17, 17).bfloat16().float()
    inputs = x.clone().requires_grad_(True)
    with torch.autocast(**BF16):
        out = block(inputs)
    out.square().sum().backward()
    expected_input = x.clone().requires_grad_(True)
    expected = reference(expected_input)
    expected.square().sum().backward()
    assert out.dtype == torch.float32 and out.shape == (2, 16, 9, 9)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(inputs.grad, expected_input.grad)
    torch.testing.assert_close(block[0].weight.grad, reference[0].weight.grad)


def test_strided_depthwise_infers_in_bf16():
    block = _block(groups=16, stride=2).eval()
    with torch.no_grad(), torch.autocast(**BF16):
        assert block(torch.randn(1, 16, 17, 17)).dtype == torch.bfloat16


@pytest.mark.parametrize(("groups", "stride"), [(16, 1), (1, 2), (1, 1)])
def test_other_blocks_train_under_autocast(groups, stride):
    block = _block(groups=groups, stride=stride)
    with torch.autocast(**BF16):
        out = block(torch.randn(2, 16, 17, 17, requires_grad=True))
    assert out.dtype == torch.bfloat16
