"""A tiny built-in dataset (`mobilevision data synth --images 30 --size 128`) and single-task models
with random heads on one random backbone, written as checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mobilevision.conventions import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.datasets import generate_dataset

WIDTH, IMGSZ = 0.5, 96
# (registry name, builder keyword arguments, class names as that task's checkpoints store them)
SINGLE_TASK = {
    "classify": ("mobilenet_v2", {"num_classes": 5}, ["background", "a", "b", "c", "d"]),
    "detect": ("ssdlite_mobilenet_v2", {"num_classes": 4, "imgsz": IMGSZ,
                                         "ssdlite": {"anchor_min_scale": 0.15, "anchor_max_scale": 0.9}},
               ["a", "b", "c"]),
    # The decoder on the stride-8 features: at width 0.5 they have the stride-4 ones' 16 channels, so
    # only the outputs would show a multi-task model that fused the wrong ones.
    "segment": ("deeplabv3_mobilenet_v2", {"num_classes": 6, "output_stride": 32,
                                           "deeplab": {"decoder": True, "decoder_stride": 8, "aux": True}},
                ["background", "a", "b", "c", "d", "e"]),
}


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("multitask_synth"), images=30, size=128, workers=1)


def randomize_batchnorm(model: nn.Module, *, seed: int) -> None:
    """Random affine parameters and running statistics: with PyTorch's defaults (and zero-initialised
    residual branches) BatchNorm is nearly the identity, which would hide a layer read from the wrong place."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.weight.data = torch.rand(size, generator=generator) + 0.5
            module.bias.data = torch.randn(size, generator=generator) * 0.1
            module.running_mean = torch.randn(size, generator=generator) * 0.1
            module.running_var = torch.rand(size, generator=generator) + 0.5


def single_task_models() -> dict[str, nn.Module]:
    """A classifier, an SSDLite and a DeepLabv3+ at output stride 32 (with the auxiliary head), with
    random heads on one random backbone (the classifier's, copied into the others), in eval mode."""
    from mobilevision.tasks.registry import build_model

    models = {}
    for seed, (task, (name, kwargs, _)) in enumerate(SINGLE_TASK.items()):
        torch.manual_seed(seed)
        models[task] = build_model(name, width=WIDTH, **kwargs).eval()
        randomize_batchnorm(models[task], seed=seed)
    shared = models["classify"].backbone.state_dict()
    for task in ("detect", "segment"):
        backbone = models[task].backbone
        backbone.load_state_dict({key: shared[key] for key in backbone.state_dict()})
    return models


def save_task_checkpoint(model: nn.Module, path: Path, *, task: str) -> Path:
    """The keys load_checkpoint reads, with ImageNet normalisation for every task (one backbone, one input)."""
    name, kwargs, class_names = SINGLE_TASK[task]
    torch.save({"task": task, "model_name": name, "model_kwargs": {"width": WIDTH, **kwargs},
                "state_dict": model.state_dict(), "ema_state_dict": None, "class_names": class_names,
                "preprocessing": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_size": IMGSZ},
                "metrics": {}}, path)
    return path


@pytest.fixture(scope="module")
def task_checkpoints(tmp_path_factory) -> tuple[dict[str, nn.Module], dict[str, Path]]:
    """(the single-task models, their checkpoints cls.pt, det.pt, seg.pt)."""
    folder = tmp_path_factory.mktemp("task_checkpoints")
    models = single_task_models()
    paths = {task: save_task_checkpoint(model, folder / f"{task[:3]}.pt", task=task) for task, model in models.items()}
    return models, paths
