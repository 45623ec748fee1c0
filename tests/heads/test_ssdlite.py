"""The SSDLite head: shapes, the levels it really produces, TF's layer settings, and the paper's counts."""

import copy

import pytest
import torch
from torch import nn

from mobilevision.analysis.complexity import count_madds, count_params
from mobilevision.heads.anchors import feature_map_sizes
from mobilevision.heads.ssdlite import BN_EPS, ExtraBlock, SSDLiteHead
from mobilevision.tasks.detect.model import build_ssdlite
from mobilevision.tasks.registry import build_model

# MobileNetV2 paper, Table 6 (300 x 300, 90 COCO classes + background): params, multiply-adds.
PAPER_TABLE_6 = {"mobilenet_v2": (4.3e6, 0.8e9), "mobilenet_v1": (5.1e6, 1.3e9)}


def test_head_shapes_and_layout():
    head = SSDLiteHead([48, 64], num_anchors=[3, 6, 6, 6, 6, 6], num_classes=5, extra_channels=[32, 16, 16, 16])
    features = [torch.randn(2, 48, 8, 8), torch.randn(2, 64, 4, 4)]
    box_deltas, class_logits = head(features)
    anchors = 8 * 8 * 3 + (16 + 4 + 1 + 1 + 1) * 6
    assert box_deltas.shape == (2, anchors, 4)
    assert class_logits.shape == (2, anchors, 5)


def test_head_follows_tf_settings():
    head = SSDLiteHead([576, 1280], num_anchors=[3, 6, 6, 6, 6, 6], num_classes=91)
    assert [block.out_channels for block in head.extras] == [512, 256, 256, 128]
    assert all(m.eps == BN_EPS for m in head.modules() if isinstance(m, nn.BatchNorm2d))
    weights = torch.cat([m.weight.flatten() for m in head.modules() if isinstance(m, nn.Conv2d)])
    assert weights.std().item() == pytest.approx(0.03 * 0.88, rel=0.05)  # std of N(0, 0.03) cut at 2 sigma
    assert weights.abs().max().item() <= 0.06
    # Every predictor is a depthwise 3x3 then a 1x1 with bias.
    for predictor in [*head.box_predictors, *head.class_predictors]:
        depthwise = predictor.depthwise[0]
        assert depthwise.groups == depthwise.in_channels and depthwise.kernel_size == (3, 3)
        assert predictor.pointwise.kernel_size == (1, 1) and predictor.pointwise.bias is not None


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "mobilenet_v1"])
@pytest.mark.parametrize("image_size", [(300, 300), (320, 320), (192, 256)])
def test_levels_have_the_sizes_the_anchors_assume(backbone, image_size):
    model = build_ssdlite(backbone=backbone, width=0.25 if backbone == "mobilenet_v1" else 0.35, num_classes=3)
    seen = []
    hooks = [p.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:]))) for p in model.head.box_predictors]
    with torch.no_grad():
        box_deltas, _ = model.eval().raw_outputs(torch.zeros(1, 3, *image_size))
    for hook in hooks:
        hook.remove()
    assert seen == feature_map_sizes(image_size, strides=model.strides)
    assert box_deltas.shape[1] == model.anchors(image_size).shape[0]


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "mobilenet_v1"])
def test_paper_table_6(backbone):
    """Like TF, we count the backbone without its classifier, the extra blocks and all predictors.

    Measured (300 px, 91 classes): V2 4,500,543 params (+4.7%) and 749,503,856 MAdds (-6.3%;
    804,397,504 at 320 px); V1 5,246,911 params (+2.9%) and 1,212,977,536 MAdds (-6.7%).
    """
    model = build_ssdlite(backbone=backbone, width=1.0, num_classes=91, imgsz=300)
    params, madds = PAPER_TABLE_6[backbone]
    assert count_params(model) == pytest.approx(params, rel=0.05)
    assert count_madds(model, imgsz=300, forward=model.raw_outputs) == pytest.approx(madds, rel=0.12)
    exact = {"mobilenet_v2": (4_500_543, 749_503_856), "mobilenet_v1": (5_246_911, 1_212_977_536)}
    assert (count_params(model), count_madds(model, imgsz=300, forward=model.raw_outputs)) == exact[backbone]


@pytest.mark.parametrize(("name", "released"), [("ssdlite_mobilenet_v2", 4.475e6), ("ssd_mobilenet_v1", 6.807e6)])
def test_same_size_as_the_released_tf_model(name, released):
    """The paper rounds; the released TF graphs have 4.475M (ssdlite_mobilenet_v2) and 6.807M
    (ssd_mobilenet_v1_coco) parameters (OpenVINO Open Model Zoo, public/<model>: "MParams"). Their
    frozen graphs fold BatchNorm into a bias per channel, so our count without BatchNorm's scales is
    the comparable one: 4,475,167 and 6,807,167. SSDLite's 1.525 GFLOPs there are 762.5M
    multiply-adds plus the bias, BatchNorm and activation ops our count leaves out (we count
    749.5M, 1.7% less)."""
    model = build_model(name, width=1.0, num_classes=91)
    scales = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert count_params(model) - scales == pytest.approx(released, abs=500)


def test_extra_block_gradients_on_a_1x1_map_in_bf16_channels_last():
    """The last extra blocks see 1x1 maps at inputs up to 256 px; there a stride-2 depthwise conv's
    bf16 channels_last weight gradient came back with garbage border taps (up to 1e35) in most calls."""
    torch.manual_seed(0)
    block = ExtraBlock(16, 32).to(memory_format=torch.channels_last)
    reference = ExtraBlock(16, 32).double()
    reference.load_state_dict(block.state_dict())
    for _ in range(10):
        junk = torch.randn(1 << 18) * 1e30  # leave large values in the allocator's free memory
        del junk
        x = torch.rand(16, 16, 1, 1)
        block.zero_grad()
        reference.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            block(x.contiguous(memory_format=torch.channels_last)).float().square().sum().backward()
        reference(x.double()).square().sum().backward()
        depthwise, expected = block[1][0].weight.grad, reference[1][0].weight.grad
        assert torch.isfinite(depthwise).all()
        # Only the centre tap sees data; bf16 rounds the rest of the gradient to about 1%.
        assert depthwise[..., [0, 0, 2, 2], [0, 2, 0, 2]].abs().max() == 0
        torch.testing.assert_close(depthwise.double(), expected, rtol=0.05, atol=0.05 * expected.abs().max().item())


@pytest.mark.parametrize("size", [2, 3, 8])
def test_extra_block_trains_its_strided_depthwise_as_autocast_would(size):
    """The extra blocks' stride-2 depthwise convs (2x2 maps and up) take the bf16 path with depthwise
    kernels only (backbones/strided_depthwise.py): the same gradients as autocast's own."""
    torch.manual_seed(0)
    base = ExtraBlock(16, 32).to(memory_format=torch.channels_last)
    x = torch.rand(16, 16, size, size).contiguous(memory_format=torch.channels_last)
    gradients = []
    for spread in (True, False):
        block = copy.deepcopy(base)
        block[1].strided_depthwise = spread
        with torch.autocast("cpu", dtype=torch.bfloat16):
            block(x).float().square().sum().backward()
        gradients.append([parameter.grad for parameter in block.parameters()])
    assert base[1].strided_depthwise
    for ours, autocasts in zip(*gradients):
        torch.testing.assert_close(ours, autocasts, rtol=1e-2, atol=1e-2 * autocasts.abs().max().item())
