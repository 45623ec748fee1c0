"""Loading `--weights` into a task model or its backbone, whatever layout the file is in, and the
input normalisation those weights expect."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from mobilevision.backbones.key_mapping import load_strict, to_our_keys
from mobilevision.backbones.pretrained import PretrainedWeights, read_state_dict, resolve_weights
from mobilevision.engine.checkpoint import is_checkpoint, read_checkpoint


def load_weights(model: nn.Module, spec: str, *, include_head: bool = True) -> PretrainedWeights | None:
    """Load a path, URL or named weight into a model with `.backbone` (and `.head`).

    torchvision and timm layouts are renamed to ours first. With include_head=False the head is
    left as built (fine-tuning on other classes). Returns the named weight's metadata, if any.
    """
    state_dict, path, entry = read_weights(spec, backbone=model.backbone)
    load_strict(model, state_dict, source=str(path), ignore_prefixes=() if include_head else ("head.",))
    return entry


def read_weights(spec: str, *, backbone: nn.Module) -> tuple[dict[str, Tensor], Path, PretrainedWeights | None]:
    """The tensors of a path, URL or named weight with torchvision and timm layouts renamed to ours
    (for `backbone`), the file they came from and the named weight's metadata, if any."""
    path, entry = resolve_weights(spec)
    return to_our_keys(read_state_dict(path), backbone=backbone), path, entry


def load_backbone_weights(backbone: nn.Module, spec: str) -> PretrainedWeights | None:
    """Load only the backbone part of a classifier's weights (e.g. ImageNet into a detector)."""
    state_dict, path, entry = read_weights(spec, backbone=backbone)
    if any(key.startswith("backbone.") for key in state_dict):
        state_dict = {k[len("backbone.") :]: v for k, v in state_dict.items() if k.startswith("backbone.")}
    # A segmentation backbone is built without MobileNetV2's 1280-channel last layer (DeepLab's
    # "MobileNetV2*"); the classifier's weights for it are then not needed.
    skipped = ("last.",) if getattr(backbone, "last", True) is None else ()
    load_strict(backbone, state_dict, source=str(path), ignore_prefixes=skipped)
    return entry


def initial_preprocessing(config, *, mean: Sequence[float], std: Sequence[float]) -> dict:
    """Mean, std and size a network in training is fed with: `mean` and `std`, unless the weights it
    starts from (--weights, else --weights-backbone) were trained with others (a checkpoint's own,
    a named weight's), and config.imgsz."""
    source = config.weights or config.weights_backbone
    if source and is_checkpoint(source):
        saved = read_checkpoint(source)["preprocessing"]
        mean, std = saved["mean"], saved["std"]
    elif source:
        _, entry = resolve_weights(source)
        if entry is not None:
            mean, std = entry.mean, entry.std
    return {"mean": list(mean), "std": list(std), "input_size": config.imgsz}
