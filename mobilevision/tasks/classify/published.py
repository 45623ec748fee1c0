"""A classifier from published ImageNet weights (torchvision:, timm: names, URLs, files), with the
class names and preprocessing that travel with them."""

from __future__ import annotations

from mobilevision.backbones.pretrained import read_state_dict, resolve_weights
from mobilevision.conventions import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.engine.weights import load_weights
from mobilevision.tasks.base import TrainedModel
from mobilevision.tasks.registry import build_model


def head_classes(spec: str) -> int | None:
    """Number of classes of the weights' classifier layer (None when they have none)."""
    path, _ = resolve_weights(spec)
    state_dict = read_state_dict(path)
    for key in ("head.fc.weight", "classifier.1.weight", "classifier.weight", "fc.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return None


def load_published(weights: str, *, model: str, width: float) -> TrainedModel:
    """The `model` network at `width` with the published `weights` loaded, in eval mode."""
    network = build_model(model, width=width, num_classes=head_classes(weights) or 1000)
    entry = load_weights(network, weights)
    names = list(entry.categories) if entry and entry.categories else [str(i) for i in range(network.num_classes)]
    mean, std, size = (entry.mean, entry.std, entry.input_size) if entry else (IMAGENET_MEAN, IMAGENET_STD, 224)
    return TrainedModel(network.eval(), task="classify", model_name=model, class_names=names,
                        preprocessing={"mean": list(mean), "std": list(std), "input_size": size}, weights=weights,
                        from_checkpoint=False, publisher_names=True)
