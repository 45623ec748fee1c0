"""DeepLabv3 parameters and multiply-adds against the MobileNetV2 paper's Table 7
(shared/reference/numbers.md): 513x513 input, 21 classes, output stride 16 unless stated.

Models are counted on the meta device: shapes propagate, no arithmetic runs, so a 513 px (and a
multi-scale 898 px) forward costs nothing and the counts are the same as on the CPU.
"""

import pytest

from mobilevision.analysis.complexity import count_madds, count_params
from mobilevision.heads.aspp import ASPP
from mobilevision.tasks.segment.inference import multiscale_probabilities
from mobilevision.tasks.segment.model import build_deeplabv3

# The paper counts ASPP's atrous convs as TF ran them: tf.nn.atrous_conv2d pads the 33x33 map to
# a multiple of the rate (36x36 for rates 6, 12 and 18) before the space-to-batch convolution.
# Those padded positions add 3 branches * C_in * 256 * 9 * (36^2 - 33^2) multiply-adds; with
# them our counts meet the paper's within 1% (5.82B vs 5.8B, 14.23B vs 14.25B).
TF_ATROUS_PADDING_POSITIONS = 36**2 - 33**2


def _counts(**kwargs):
    model = build_deeplabv3(num_classes=21, **kwargs).to("meta")
    return model, count_params(model), count_madds(model, imgsz=513, forward=model.raw_outputs)


def test_mobile_head_mobilenet_v2_os16():
    _, params, madds = _counts(backbone="mobilenet_v2", deeplab={"head": "mobile"}, output_stride=16)
    assert params == 2_113_557  # paper 2.11M
    assert madds == 2_740_709_056  # paper 2.75B
    assert params == pytest.approx(2.11e6, rel=0.03)
    assert madds == pytest.approx(2.75e9, rel=0.10)


def test_aspp_mobilenet_v2_os16():
    _, params, madds = _counts(backbone="mobilenet_v2", deeplab={"head": "aspp"}, output_stride=16)
    assert params == 4_523_541  # paper 4.52M
    assert madds == 5_363_508_928  # paper 5.8B: 7.5% fewer, the TF padding below
    assert params == pytest.approx(4.52e6, rel=0.05)
    assert madds == pytest.approx(5.8e9, rel=0.10)
    padding = 3 * 320 * 256 * 9 * TF_ATROUS_PADDING_POSITIONS
    assert madds + padding == pytest.approx(5.8e9, rel=0.01)


def test_aspp_mobilenet_v1_os16():
    _, params, madds = _counts(backbone="mobilenet_v1", deeplab={"head": "aspp"}, output_stride=16)
    assert params == pytest.approx(11.15e6, rel=0.01)
    padding = 3 * 1024 * 256 * 9 * TF_ATROUS_PADDING_POSITIONS
    assert madds + padding == pytest.approx(14.25e9, rel=0.01)


def test_separable_aspp_would_not_match_the_paper():
    """Why ASPP uses regular 3x3 convs: TF DeepLab's aspp_with_separable_conv gives half the params."""
    regular, separable = ASPP(320, separable=False), ASPP(320, separable=True)
    assert count_params(separable) < 0.5 * count_params(regular)


def test_os8_multiscale_flip_is_the_papers_152_6_billion():
    """Table 7's OS8 row (152.6B) is the cost of its multi-scale + flip evaluation: six scales
    0.5..1.75, each on the image and its mirror."""
    model, params, single = _counts(backbone="mobilenet_v2", deeplab={"head": "mobile"}, output_stride=8)
    assert params == 2_113_557  # dilation adds no parameters
    multiscale = count_madds(model, imgsz=513, forward=lambda images: multiscale_probabilities(model, images))
    assert single == pytest.approx(8.83e9, rel=0.01)
    assert multiscale == pytest.approx(152.6e9, rel=0.01)
