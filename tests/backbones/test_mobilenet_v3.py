"""MobileNetV3 against torchvision's (random weights, never a download) and the paper's Table 3."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.mobilenetv3 import mobilenet_v3_large, mobilenet_v3_small

from mobilevision.analysis.complexity import count_madds, count_params
from mobilevision.backbones import build_backbone
from mobilevision.backbones.key_mapping import load_strict, to_our_keys
from mobilevision.tasks.registry import build_model

TORCHVISION = {"large": mobilenet_v3_large, "small": mobilenet_v3_small}
# MobileNetV3 paper Table 3 (1.0 at 224): params in M, multiply-adds in M; torchvision's exact counts.
PAPER = {"large": (5.4, 219, 5_483_032), "small": (2.5, 56, 2_542_856)}


def _torchvision(variant: str, **kwargs) -> torch.nn.Module:
    """torchvision's model with random weights and BatchNorm statistics far from the identity, so a
    mapping that mixed up layers would show in the outputs."""
    torch.manual_seed(0)
    model = TORCHVISION[variant](**kwargs).eval()
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            for tensor, low, high in ((module.running_mean, -0.2, 0.2), (module.running_var, 0.5, 1.5),
                                      (module.weight.data, 0.5, 1.5), (module.bias.data, -0.2, 0.2)):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)
    return model


@pytest.mark.parametrize("variant", ["large", "small"])
def test_counts_are_torchvisions_and_the_papers(variant):
    params_m, madds_m, exact = PAPER[variant]
    model = build_model(f"mobilenet_v3_{variant}")
    assert count_params(model) == exact == count_params(TORCHVISION[variant]())
    assert count_params(model) / 1e6 == pytest.approx(params_m, rel=0.02)
    assert count_madds(model, imgsz=224, forward=model.raw_outputs) / 1e6 == pytest.approx(madds_m, rel=0.02)


@pytest.mark.parametrize("variant", ["large", "small"])
def test_torchvision_weights_give_torchvisions_logits(variant):
    reference = _torchvision(variant)
    model = build_model(f"mobilenet_v3_{variant}")
    load_strict(model, to_our_keys(reference.state_dict(), backbone=model.backbone), source="torchvision")
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(images), reference(images), rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", ["large", "small"])
@pytest.mark.parametrize(("dilated", "reduced_tail"), [(True, False), (False, True), (True, True)])
def test_dilated_and_reduced_tail_features_are_torchvisions(variant, dilated, reduced_tail):
    """torchvision's detector builds the backbone with reduced_tail, its segmenters dilated (OS16)."""
    reference = _torchvision(variant, dilated=dilated, reduced_tail=reduced_tail)
    backbone = build_backbone(f"mobilenet_v3_{variant}", output_stride=16 if dilated else 32,
                              reduced_tail=reduced_tail).eval()
    renamed = to_our_keys(reference.state_dict(), backbone=backbone)
    load_strict(backbone, {key[len("backbone."):]: value for key, value in renamed.items()
                           if key.startswith("backbone.")}, source="torchvision")
    images = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(backbone(images)["last"], reference.features(images), rtol=0, atol=1e-4)
