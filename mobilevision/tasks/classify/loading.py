"""Getting a classifier to evaluate or run: from a run's checkpoint or from published weights."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from mobilevision.backbones.pretrained import IMAGENET_MEAN, IMAGENET_STD, read_state_dict, resolve_weights
from mobilevision.errors import MobileVisionError
from mobilevision.engine.checkpoint import load_checkpoint
from mobilevision.tasks.registry import build_model, model_entry
from mobilevision.engine.weights import load_weights


def is_checkpoint(spec: str) -> bool:
    """A file this suite wrote (as opposed to torchvision / timm weights or a named weight)."""
    import torch

    path = Path(spec)
    if not path.is_file() or path.suffix not in (".pt", ".pth"):
        return False
    try:
        return "model_name" in torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return False


def classification_model(name: str) -> None:
    if model_entry(name).task != "classify":
        raise MobileVisionError(f"--model {name} is a {model_entry(name).task} model; classify needs a classifier")


def head_classes(spec: str) -> int | None:
    """Number of classes of the weights' classifier layer (None when they have none)."""
    path, _ = resolve_weights(spec)
    state_dict = read_state_dict(path)
    for key in ("head.fc.weight", "classifier.1.weight", "classifier.weight", "fc.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return None


def load_classifier(*, weights: str, model: str, width: float) -> tuple[nn.Module, dict]:
    """(model in eval mode, info {"class_names", "preprocessing", "from_checkpoint"}) from a checkpoint
    of this suite or from published ImageNet weights (then `model` and `width` say which network they fit)."""
    if is_checkpoint(weights):
        network, checkpoint = load_checkpoint(weights)
        if checkpoint["task"] != "classify":
            raise MobileVisionError(f"{weights}: a {checkpoint['task']} checkpoint; classify needs a classifier")
        return network, {"class_names": checkpoint["class_names"], "preprocessing": checkpoint["preprocessing"],
                         "from_checkpoint": True}
    classification_model(model)
    network = build_model(model, width=width, num_classes=head_classes(weights) or 1000)
    entry = load_weights(network, weights)
    names = list(entry.categories) if entry and entry.categories else [str(i) for i in range(network.num_classes)]
    mean, std, size = (entry.mean, entry.std, entry.input_size) if entry else (IMAGENET_MEAN, IMAGENET_STD, 224)
    return network.eval(), {"class_names": names, "from_checkpoint": False,
                            "preprocessing": {"mean": list(mean), "std": list(std), "input_size": size}}
