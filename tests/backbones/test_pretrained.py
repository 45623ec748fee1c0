"""Reference weights: torchvision's MobileNetV2 and timm's MobileNetV1 load through explicit key
mappings and reproduce the reference logits. State dicts come from randomly initialised reference
models built here; nothing is downloaded."""

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
import timm
import torch
import torchvision

from mobilevision.backbones import build_backbone, pretrained
from mobilevision.backbones.pretrained import catalogue, lookup, resolve_weights
from mobilevision.engine.weights import load_backbone_weights, load_weights
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.model import build_classifier


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    """Fresh BatchNorm is the identity; random statistics make a wrong mapping visible."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(module.num_features, generator=generator) * 0.1)


def _save(model: torch.nn.Module, path: Path) -> Path:
    torch.save(model.state_dict(), path)
    return path


def test_mobilenet_v2_loads_torchvision_and_gives_its_logits(tmp_path):
    reference = torchvision.models.mobilenet_v2().eval()
    _randomise_batchnorm(reference)
    ours = build_classifier(backbone="mobilenet_v2", width=1.0, num_classes=1000).eval()
    load_weights(ours, str(_save(reference, tmp_path / "tv.pth")))
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max() <= 1e-4


@pytest.mark.parametrize(("timm_name", "width"), [("mobilenetv1_100", 1.0), ("mobilenetv1_125", 1.25)])
def test_mobilenet_v1_loads_timm_and_gives_its_logits(tmp_path, timm_name, width):
    reference = timm.create_model(timm_name, pretrained=False).eval()
    _randomise_batchnorm(reference)
    ours = build_classifier(backbone="mobilenet_v1", width=width, num_classes=1000).eval()
    load_weights(ours, str(_save(reference, tmp_path / "timm.pth")))
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max() <= 1e-4


def test_safetensors_files_load(tmp_path):
    from safetensors.torch import save_file

    reference = timm.create_model("mobilenetv1_100", pretrained=False).eval()
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    ours = build_classifier(backbone="mobilenet_v1").eval()
    load_weights(ours, str(path))
    torch.testing.assert_close(ours.head.fc.weight, reference.classifier.weight)


def test_new_classifier_for_other_classes_and_backbone_only_loading(tmp_path):
    reference = torchvision.models.mobilenet_v2()
    path = str(_save(reference, tmp_path / "tv.pth"))
    finetune = build_classifier(num_classes=7)
    load_weights(finetune, path, include_head=False)
    torch.testing.assert_close(finetune.backbone.stem[0].weight, reference.features[0][0].weight)
    assert finetune.head.fc.out_features == 7
    backbone = build_classifier().backbone
    load_backbone_weights(backbone, path)
    torch.testing.assert_close(backbone.last[0].weight, reference.features[18][0].weight)
    without_last = build_backbone("mobilenet_v2", include_last_layer=False)
    load_backbone_weights(without_last, path)
    torch.testing.assert_close(without_last.blocks[16].project[0].weight, reference.features[17].conv[2].weight)


def test_weights_for_another_architecture_are_refused_with_the_keys(tmp_path):
    ours = build_classifier(backbone="mobilenet_v2", width=0.5)
    before = ours.backbone.stem[0].weight.clone()
    v1_file = str(_save(timm.create_model("mobilenetv1_100"), tmp_path / "v1.pth"))
    with pytest.raises(MobileVisionError, match="nothing was loaded.*missing.*unexpected"):
        load_weights(ours, v1_file)
    width_one = str(_save(torchvision.models.mobilenet_v2(), tmp_path / "tv.pth"))
    with pytest.raises(MobileVisionError, match=r"wrong shape \(\d+\): backbone.blocks"):
        load_weights(ours, width_one)
    resnet = str(_save(torchvision.models.resnet18(), tmp_path / "resnet.pth"))
    with pytest.raises(MobileVisionError, match=r"unexpected \(122\):.*conv1.weight"):
        load_weights(ours, resnet)
    assert torch.equal(ours.backbone.stem[0].weight, before)


def test_unreadable_or_missing_weight_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(MobileVisionError, match="broken.pth"):
        load_weights(build_classifier(), str(broken))
    with pytest.raises(MobileVisionError, match="does not exist.*torchvision:IMAGENET1K_V2"):
        load_weights(build_classifier(), str(tmp_path / "missing.pth"))


def test_named_weights_offline_say_where_to_put_the_file(tmp_path):
    with pytest.raises(MobileVisionError) as error:
        resolve_weights("torchvision:IMAGENET1K_V2")
    message = str(error.value)
    assert "https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth" in message
    assert str(tmp_path / "torch_home" / "hub" / "checkpoints" / "mobilenet_v2-7ebf99e0.pth") in message
    with pytest.raises(MobileVisionError, match="known names"):
        resolve_weights("torchvision:IMAGENET9K")


def test_named_weights_load_from_the_hub_cache_and_carry_preprocessing(tmp_path, monkeypatch):
    entry = lookup("torchvision:IMAGENET1K_V2")
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    reference = torchvision.models.mobilenet_v2().eval()
    _save(reference, cache / entry.file_name)
    with pytest.raises(MobileVisionError, match="SHA-256"):  # a random-weight file is not torchvision's
        load_weights(build_classifier(), "torchvision:IMAGENET1K_V2")
    digest = hashlib.sha256((cache / entry.file_name).read_bytes()).hexdigest()
    known = {name: replace(weights, sha256=digest) for name, weights in catalogue().items()}
    monkeypatch.setattr(pretrained, "catalogue", lambda: known)
    model = build_classifier().eval()
    loaded = load_weights(model, "torchvision:IMAGENET1K_V2")
    assert loaded.mean == (0.485, 0.456, 0.406) and loaded.resize_size == 232 and loaded.input_size == 224
    assert len(loaded.categories) == 1000 and loaded.categories[0] == "tench"
    torch.testing.assert_close(model.head.fc.bias, reference.classifier[1].bias)
    assert {e.backbone for e in catalogue().values()} == {"mobilenet_v1", "mobilenet_v2"}
