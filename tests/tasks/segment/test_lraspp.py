"""LR-ASPP on MobileNetV3-Large against torchvision's lraspp_mobilenet_v3_large (random weights,
never a download): the same parameters, logits and class maps from the same state dict."""

from __future__ import annotations

import torch
from torchvision.models.segmentation import lraspp_mobilenet_v3_large

from mobilevision.analysis.complexity import count_params
from mobilevision.backbones.key_mapping import load_strict, to_our_keys
from mobilevision.tasks.registry import build_model


def _torchvision() -> torch.nn.Module:
    torch.manual_seed(0)
    model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None).eval()
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():  # BatchNorm far from the identity, so a mixed-up layer shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) * 0.4 - 0.2)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model


def test_torchvision_state_dict_gives_its_logits_and_class_map():
    reference = _torchvision()
    model = build_model("lraspp_mobilenet_v3_large")
    assert count_params(model) == count_params(reference) == 3_221_538
    load_strict(model, to_our_keys(reference.state_dict(), backbone=model.backbone), source="torchvision")
    images = torch.randn(2, 3, 130, 97)  # odd sizes: both resize with align_corners=False
    with torch.no_grad():
        expected = reference(images)["out"]
        torch.testing.assert_close(model.eval().raw_outputs(images), expected, rtol=0, atol=1e-5)
        assert torch.equal(model(images), expected.argmax(dim=1))


def test_lraspp_head_trains_on_any_backbone():
    for backbone in ("mobilenet_v2", "mobilenet_v1", "mobilenet_v3_small"):
        model = build_model("deeplabv3_mobilenet_v2", backbone=backbone, width=0.5, num_classes=3,
                            deeplab={"head": "lraspp", "loss_stride": 2}).train()
        losses = model(torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64)))
        sum(losses.values()).backward()
        assert torch.isfinite(losses["segmentation"])
