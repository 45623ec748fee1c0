"""Exponential moving average of a model's weights (Polyak averaging, as in timm and YOLOv5)."""

from __future__ import annotations

import copy
import math
from collections.abc import Collection

import torch
from torch import nn


class ModelEMA:
    """A frozen copy of the model whose floating-point weights and BN statistics follow
    `ema = decay * ema + (1 - decay) * model` after every optimizer step.

    The decay ramps up as `decay * (1 - exp(-updates / ramp_steps))` so that the first steps' random
    weights fade out (YOLOv5's ramp of 2000 steps). A run of a few thousand steps needs a shorter ramp:
    after ramp_steps * k updates the decay has reached only 1 - exp(-k) of its target.
    """

    def __init__(self, model: nn.Module, *, decay: float, ramp_steps: float) -> None:
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
        self.decay = decay
        self.ramp_steps = ramp_steps
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = self.decay * (1.0 - math.exp(-self.updates / self.ramp_steps))
        ema_values, model_values = [], []
        for ema_value, model_value in zip(self.module.state_dict().values(), model.state_dict().values()):
            if ema_value.is_floating_point():
                ema_values.append(ema_value)
                model_values.append(model_value.detach())
            else:
                ema_value.copy_(model_value)  # num_batches_tracked
        torch._foreach_lerp_(ema_values, model_values, 1.0 - decay)

    @torch.no_grad()
    def take(self, model: nn.Module, *, names: Collection[str]) -> None:
        """Set the copy's submodules `names` to `model`'s own weights: parts the model solved outright
        (MultiTaskModel.refit), which the average at decay 0.9998 would take thousands of steps to follow."""
        for name in names:
            self.module.get_submodule(name).load_state_dict(model.get_submodule(name).state_dict())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict[str, torch.Tensor], *, updates: int) -> None:
        self.module.load_state_dict(state_dict)
        self.updates = updates
