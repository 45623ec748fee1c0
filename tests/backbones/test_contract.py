"""The backbone contract: declared names, channels and strides equal what forward returns."""

import math

import pytest
import torch

from mobilevision.backbones import BACKBONES, build_backbone
from mobilevision.errors import MobileVisionError

WIDTHS = {"mobilenet_v2": (0.35, 0.5, 0.75, 1.0, 1.4), "mobilenet_v1": (0.25, 0.5, 0.75, 1.0),
          "mobilenet_v3_large": (0.75, 1.0), "mobilenet_v3_small": (0.75, 1.0)}
CASES = [(name, width, os_) for name in BACKBONES for width in WIDTHS[name] for os_ in (8, 16, 32)]


@pytest.mark.parametrize(("name", "width", "output_stride"), CASES)
def test_declared_features_equal_real_outputs(name, width, output_stride):
    backbone = build_backbone(name, width=width, output_stride=output_stride).eval()
    declared = backbone.feature_info()
    size = (96, 130)  # not square and not a multiple of 32: strides round up like the convs
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, *size))
    assert list(features) == list(declared)
    for feature_name, spec in declared.items():
        assert spec.stride <= output_stride
        expected = (1, spec.channels, math.ceil(size[0] / spec.stride), math.ceil(size[1] / spec.stride))
        assert tuple(features[feature_name].shape) == expected, feature_name


def test_mobilenet_v2_ssdlite_tap_is_the_576_channel_expansion():
    backbone = build_backbone("mobilenet_v2", width=1.0)
    info = backbone.feature_info()
    detect_16, detect_32 = backbone.role("ssdlite")
    assert (info[detect_16].channels, info[detect_16].stride) == (576, 16)
    assert (info[detect_32].channels, info[detect_32].stride) == (1280, 32)
    assert (info["c2"].stride, info["c3"].stride) == (4, 8)
    assert info[backbone.role("deeplab")].channels == 320


def test_mobilenet_v1_taps_are_stride_16_and_32():
    backbone = build_backbone("mobilenet_v1", width=1.0)
    info = backbone.feature_info()
    assert [(info[n].channels, info[n].stride) for n in backbone.role("ssdlite")] == [(512, 16), (1024, 32)]


def test_last_layer_stays_1280_below_width_one_and_can_be_dropped():
    assert build_backbone("mobilenet_v2", width=0.5).feature_info()["last"].channels == 1280
    assert build_backbone("mobilenet_v2", width=1.4).feature_info()["last"].channels == 1792
    headless = build_backbone("mobilenet_v2", include_last_layer=False)
    assert "last" not in headless.feature_info() and headless.last is None


def test_out_features_selects_and_rejects_unknown_names():
    backbone = build_backbone("mobilenet_v2", out_features=["c5", "c2"]).eval()
    assert list(backbone.feature_info()) == ["c5", "c2"]
    assert set(backbone(torch.randn(1, 3, 64, 64))) == {"c2", "c5"}
    with pytest.raises(MobileVisionError, match="provides"):
        build_backbone("mobilenet_v1", out_features=["c4_expand"])


def test_dilation_keeps_weights_and_receptive_field_shapes():
    plain = build_backbone("mobilenet_v2", output_stride=32)
    dilated = build_backbone("mobilenet_v2", output_stride=8)
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in dilated.state_dict().items()}
    dilations = [block.depthwise[0].dilation[0] for block in dilated.blocks]
    # The stride-16 and stride-32 stages run dilated by 2 and 4; a stride-2 block keeps the rate before it.
    assert dilations == [1] * 7 + [2] * 7 + [4] * 3


@pytest.mark.parametrize("name", list(BACKBONES))
def test_channels_last_gives_the_same_features(name):
    backbone = build_backbone(name, width=0.5).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = backbone(x)
        backbone_cl = backbone.to(memory_format=torch.channels_last)
        fast = backbone_cl(x.contiguous(memory_format=torch.channels_last))
    for key in reference:
        torch.testing.assert_close(fast[key], reference[key], rtol=1e-4, atol=1e-4)


def test_freeze_bn_keeps_running_statistics_in_training():
    backbone = build_backbone("mobilenet_v2", width=0.35, freeze_bn=True).train()
    before = backbone.stem[1].running_mean.clone()
    backbone(torch.randn(4, 3, 64, 64) * 5 + 3)
    torch.testing.assert_close(backbone.stem[1].running_mean, before)
    assert backbone.training and not backbone.stem[1].training
    unfrozen = build_backbone("mobilenet_v2", width=0.35).train()
    unfrozen(torch.randn(4, 3, 64, 64) * 5 + 3)
    assert not torch.equal(unfrozen.stem[1].running_mean, before)
