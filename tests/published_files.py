"""torchvision's published models with random weights, saved where a download would put them.

A test places the file under the hub cache's name (`$TORCH_HOME/hub/checkpoints/`, which the
autouse fixture points at an empty folder) and substitutes the file's SHA-256 for the publisher's
in the catalogue, so the suite loads it by name exactly as it would load the real download.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torchvision.models import detection, mobilenet_v3_large, mobilenet_v3_small, segmentation

from mobilevision.backbones.pretrained import hub_file as cached_file_path
from mobilevision.tasks.published import catalogue, published

SSDLITE = "torchvision:ssdlite320_mobilenet_v3_large"
DEEPLAB = "torchvision:deeplabv3_mobilenet_v3_large"
LRASPP = "torchvision:lraspp_mobilenet_v3_large"
LARGE = "torchvision:mobilenet_v3_large"
SMALL = "torchvision:mobilenet_v3_small"

# The published files' architectures: COCO's 91 ids for the detector, VOC's 21 classes (and
# DeepLab's auxiliary classifier, which its published file holds) for the segmenters, ImageNet's
# 1000 for the classifiers.
BUILDERS = {
    SSDLITE: lambda: detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91),
    DEEPLAB: lambda: segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                               num_classes=21, aux_loss=True),
    LRASPP: lambda: segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21),
    LARGE: lambda: mobilenet_v3_large(weights=None),
    SMALL: lambda: mobilenet_v3_small(weights=None),
}


def torchvision_model(name: str, *, seed: int = 0) -> nn.Module:
    """torchvision's model of `name` in eval mode, with random weights spread like trained ones.

    torchvision's own initialisation leaves BatchNorm at identity and the class logits nearly equal,
    so detection scores tie and the order among ties is arbitrary; spread weights make every score
    distinct, and a comparison of final detections meaningful."""
    torch.manual_seed(seed)
    model = BUILDERS[name]()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="linear")
            if module.bias is not None:
                nn.init.normal_(module.bias, std=0.1)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, std=0.5)
            module.running_mean.normal_(std=0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def hub_file(name: str) -> Path:
    """Where torch.hub keeps the publisher's file of `name` (under the current TORCH_HOME)."""
    return cached_file_path(Path(published(name).meta()["url"]).name)


def place(monkeypatch, name: str, *, state_dict: dict | None = None, seed: int = 0) -> nn.Module:
    """Save `state_dict` (default: a random torchvision model's) as the published file of `name`
    and make the catalogue expect its hash; returns the torchvision model."""
    model = torchvision_model(name, seed=seed)
    path = hub_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict() if state_dict is None else state_dict, path)
    expect_hash_of(monkeypatch, name, path=path)
    return model


def expect_hash_of(monkeypatch, name: str, *, path: Path) -> None:
    """The catalogue's entry of `name` (under all its names) expects the SHA-256 of `path`."""
    entry = published(name)
    patched = replace(entry, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    for key, value in list(catalogue().items()):
        if value is entry:
            monkeypatch.setitem(catalogue(), key, patched)
