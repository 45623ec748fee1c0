"""DeepLabv3 on MobileNetV3-Large against torchvision's deeplabv3_mobilenet_v3_large (random weights,
never a download): the same parameters, logits and class maps from the same state dict, auxiliary
head included, as in the published COCO_WITH_VOC_LABELS_V1 weights."""

from __future__ import annotations

import torch

from mobilevision.analysis.complexity import count_params
from mobilevision.backbones.key_mapping import load_strict, to_our_keys
from mobilevision.tasks.registry import build_model
from tests.published_files import DEEPLAB, torchvision_model

TORCHVISION_PARAMS = 11_029_328  # with its aux_classifier, as its published weights
AUX_PARAMS = 40 * 10 * 9 + 10 * 2 + 10 * 21 + 21  # FCNHead(40, 21): 3x3 conv, BN, 1x1 classifier


def _torchvision() -> torch.nn.Module:
    """torchvision's model with BatchNorm far from the identity, so that a mixed-up layer shows."""
    return torchvision_model(DEEPLAB)


def _all_params(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def test_torchvision_state_dict_gives_its_logits_and_class_map():
    reference = _torchvision()
    model = build_model("deeplabv3_mobilenet_v3_large")
    assert _all_params(model) == _all_params(reference) == TORCHVISION_PARAMS
    assert count_params(model) == TORCHVISION_PARAMS - AUX_PARAMS  # the auxiliary head is training-only
    load_strict(model, to_our_keys(reference.state_dict(), backbone=model.backbone), source="torchvision")
    images = torch.randn(2, 3, 257, 321)  # not square, not a multiple of 16: both resize with align_corners=False
    with torch.no_grad():
        expected = reference(images)["out"]
        torch.testing.assert_close(model.eval().raw_outputs(images), expected, rtol=0, atol=1e-5)
        assert torch.equal(model(images), expected.argmax(dim=1))


def test_torchvision_head_is_deeplabs_with_a_refining_conv():
    """The entry's head: ASPP at torchvision's rates, dropout 0.5, the 3x3 conv before the classifier."""
    head = build_model("deeplabv3_mobilenet_v3_large").head
    assert [branch[0].dilation for branch in head.aspp.branches[1:4]] == [(12, 12), (24, 24), (36, 36)]
    assert head.aspp.dropout.p == 0.5
    assert head.refine[0].kernel_size == (3, 3) and not head.align_corners
