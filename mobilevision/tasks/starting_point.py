"""--weights as the starting point of a training run, as torchvision's references and ultralytics
fine-tune: the weights decide the architecture (Task.config_from_weights), and on data with other
classes only the layers sized by the class count start fresh.

A starting point is a checkpoint of this suite (a run's weights, or a published model's, which
its `torchvision:<name>` converts once, tasks/published.py), or else a published classifier's
file (`torchvision:IMAGENET1K_V2`, a torchvision or timm state dict), renamed to our keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from mobilevision.backbones.key_mapping import class_layers, load_strict
from mobilevision.engine.checkpoint import is_checkpoint
from mobilevision.tasks.checkpoint_file import read_checkpoint
from mobilevision.tasks.published import resolve_checkpoint
from mobilevision.tasks.registry import model_entry


@dataclass(frozen=True)
class StartingPoint:
    """--weights that name a checkpoint: the model it holds and its weights."""

    weights: str  # as given: a path, or a published model's name
    path: str  # the checkpoint file (a published name's converted file)
    checkpoint: dict

    @property
    def model_name(self) -> str:
        return self.checkpoint["model_name"]

    def model_kwargs(self) -> dict:
        """The builder's arguments the checkpoint records, completed with its registered model's
        defaults (a head's options dict key by key), as `build_model` builds it."""
        return model_entry(self.model_name).with_defaults(**self.checkpoint["model_kwargs"])

    def architecture(self) -> dict:
        """The arguments that make its registered model (the registry entry's defaults: backbone
        and its options, anchor layout, detection limits), with the checkpoint's values."""
        kwargs = self.model_kwargs()
        return {name: kwargs[name] for name in model_entry(self.model_name).defaults}

    def preprocessing(self, *, input_size: int) -> dict:
        """The normalisation the weights were trained with, for inputs of `input_size`."""
        return {**self.checkpoint["preprocessing"], "input_size": input_size}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The EMA weights when the run kept them (its metrics describe them), else the weights."""
        return self.checkpoint.get("ema_state_dict") or self.checkpoint["state_dict"]


def read_starting_point(weights: str | None) -> StartingPoint | None:
    """--weights as a checkpoint, a published name resolved to its converted file (converted now
    if needed); None without --weights or for weights that are no checkpoint (a classifier's
    published file, a URL, a named ImageNet weight)."""
    if not weights:
        return None
    path = resolve_checkpoint(weights)
    if not is_checkpoint(path):
        return None
    return StartingPoint(weights=weights, path=path, checkpoint=read_checkpoint(path))


def load_starting_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, weights: str, source: str,
                          fresh_prefixes: tuple[str, ...] = (), background_classes: int = 0) -> str | None:
    """Load `state_dict` into `model` (which has `num_classes`, background included): all of it
    when the shapes match; for other classes all but the modules of its class layers (class_layers),
    which keep their initialisation. Modules under `fresh_prefixes` (training-only heads) are never
    loaded. Anything else that does not fit is a one-line error naming `source`, and nothing is
    loaded. Returns the line that says what was re-initialised, None when nothing was.
    """
    loaded = {key: tensor for key, tensor in state_dict.items() if not key.startswith(fresh_prefixes)}
    class_keys, found = class_layers(model.state_dict(), loaded, num_classes=model.num_classes)
    replaced = sorted({key.rpartition(".")[0] for key in class_keys})
    skipped = (*fresh_prefixes, *(f"{module}." for module in replaced))
    load_strict(model, loaded, source=source, ignore_prefixes=skipped)
    if not replaced:
        return None
    kept = sum(not key.startswith(skipped) for key in loaded)
    fresh = [prefix.rstrip(".") for prefix in fresh_prefixes if any(key.startswith(prefix) for key in state_dict)]
    return (f"{weights}: {found - background_classes} -> {model.num_classes - background_classes} classes; kept "
            f"{kept} tensors, re-initialised {', '.join(replaced)} (class layers)"
            + (f", {', '.join(fresh)} (training only)" if fresh else ""))
