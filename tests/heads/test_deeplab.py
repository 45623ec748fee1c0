"""DeepLabv3 heads on their own: branch structure, shapes, the decoder and the auxiliary head."""

import pytest
import torch

from mobilevision.heads.aspp import ASPP, ImagePooling, atrous_rates_for
from mobilevision.heads.deeplab import AuxiliaryHead, DeepLabV3Head


def test_atrous_rates_keep_the_field_of_view():
    assert atrous_rates_for(16) == (6, 12, 18)
    assert atrous_rates_for(8) == (12, 24, 36)


@pytest.mark.parametrize(("head", "branches"), [("mobile", 2), ("aspp", 5)])
def test_head_branches(head, branches):
    """Mobile: 1x1 + image pooling. ASPP: 1x1, three atrous 3x3, image pooling. 256 channels each."""
    module = DeepLabV3Head(320, 21, head=head)
    assert len(module.aspp.branches) == branches
    assert isinstance(module.aspp.branches[-1], ImagePooling)
    assert module.aspp.project[0].in_channels == 256 * branches
    assert module.aspp.project[0].out_channels == 256


def test_aspp_keeps_the_feature_size():
    aspp = ASPP(32, out_channels=16, atrous_rates=(6, 12, 18)).eval()
    assert aspp(torch.randn(2, 32, 7, 9)).shape == (2, 16, 7, 9)


def test_image_pooling_is_constant_over_space():
    pooled = ImagePooling(8, 4).eval()(torch.randn(2, 8, 5, 6))
    assert pooled.shape == (2, 4, 5, 6)
    assert torch.equal(pooled, pooled[:, :, :1, :1].expand_as(pooled))


def test_decoder_predicts_at_the_low_level_resolution():
    head = DeepLabV3Head(64, 5, head="aspp", low_level_channels=24).eval()
    logits = head(torch.randn(2, 64, 7, 9), torch.randn(2, 24, 25, 33))
    assert logits.shape == (2, 5, 25, 33)
    assert head.decoder.reduce[0].out_channels == 48
    with pytest.raises(ValueError, match="stride-4 low_level"):
        head(torch.randn(2, 64, 7, 9))


def test_auxiliary_head_shape():
    assert AuxiliaryHead(32, 5).eval()(torch.randn(2, 32, 13, 17)).shape == (2, 5, 13, 17)


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match="'mobile' or 'aspp'"):
        DeepLabV3Head(320, 21, head="psp")


def test_classifier_starts_with_small_logits():
    """An untrained head predicts near-uniform classes: the first loss is close to ln(K)."""
    import math

    from mobilevision.tasks.segment.model import AUX_LOSS_WEIGHT, build_deeplabv3

    torch.manual_seed(0)
    model = build_deeplabv3(width=0.35, num_classes=7, deeplab={"aux": True}).train()
    images, targets = torch.randn(2, 3, 64, 64), torch.randint(0, 7, (2, 64, 64))
    losses = model(images, targets)
    assert abs(losses["segmentation"].item() - math.log(7)) < 0.1
    assert abs(losses["aux"].item() / AUX_LOSS_WEIGHT - math.log(7)) < 0.1
