"""Optimizers (no weight decay on BatchNorm parameters and biases) and per-step learning-rate schedules."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mobilevision.errors import MobileVisionError


def parameter_groups(model: nn.Module, *, weight_decay: float) -> list[dict]:
    """Two groups: weights of convs / linears with decay, and every 1-d parameter (BatchNorm scale
    and shift, biases) without, as in the MobileNet and torchvision recipes (decaying BN scales
    shrinks the features the next layer normalises anyway)."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, *, name: str, lr: float, momentum: float, nesterov: bool,
                    weight_decay: float) -> torch.optim.Optimizer:
    groups = parameter_groups(model, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if name == "rmsprop":
        # The MobileNet papers' TF RMSProp: decay 0.9, momentum 0.9; TF puts epsilon inside the
        # square root, so its 0.001 is about 0.0316 here (as torchvision's references convert it).
        return torch.optim.RMSprop(groups, lr=lr, alpha=0.9, eps=0.0316, momentum=momentum)
    if name == "adamw":
        # On a CPU torch steps AdamW one tensor at a time (foreach and fused are its CUDA defaults);
        # the fused CPU kernel does the same update in one pass over all of them (docs/benchmarks.md).
        on_cpu = all(parameter.device.type == "cpu" for group in groups for parameter in group["params"])
        return torch.optim.AdamW(groups, lr=lr, fused=True if on_cpu else None)
    raise MobileVisionError(f"--optimizer must be sgd, rmsprop or adamw, got {name!r}")


@dataclass(frozen=True)
class LearningRateSchedule:
    """lr(step) for a run of `total_steps`: linear warm-up from `warmup_start` x lr, then cosine to 0,
    poly (power 0.9, as DeepLab) to 0, or step decay by `step_gamma` every `step_steps` steps.

    Being a pure function of the step, the schedule's whole state is the global step.
    """

    kind: str
    lr: float
    total_steps: int
    warmup_steps: int = 0
    step_steps: int = 1
    step_gamma: float = 0.98
    warmup_start: float = 0.01  # torchvision references' lr_warmup_decay
    poly_power: float = 0.9

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (self.warmup_start + (1.0 - self.warmup_start) * step / self.warmup_steps)
        if self.kind == "step":
            return self.lr * self.step_gamma ** ((step - self.warmup_steps) // max(1, self.step_steps))
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        if self.kind == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.kind == "poly":
            return self.lr * (1.0 - progress) ** self.poly_power
        raise MobileVisionError(f"--schedule must be cosine, poly or step, got {self.kind!r}")
