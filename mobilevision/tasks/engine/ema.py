"""Exponential moving average of a model's weights (Polyak averaging, as in timm and YOLOv5)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

# The decay ramps up as 1 - exp(-updates / RAMP_STEPS) so that the first steps' random weights
# fade out instead of dominating short runs (YOLOv5's choice of 2000 steps).
RAMP_STEPS = 2000


class ModelEMA:
    """A frozen copy of the model whose floating-point weights and BN statistics follow
    `ema = decay * ema + (1 - decay) * model` after every optimizer step."""

    def __init__(self, model: nn.Module, *, decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = self.decay * (1.0 - math.exp(-self.updates / RAMP_STEPS))
        ema_values, model_values = [], []
        for ema_value, model_value in zip(self.module.state_dict().values(), model.state_dict().values()):
            if ema_value.is_floating_point():
                ema_values.append(ema_value)
                model_values.append(model_value.detach())
            else:
                ema_value.copy_(model_value)  # num_batches_tracked
        torch._foreach_lerp_(ema_values, model_values, 1.0 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict[str, torch.Tensor], *, updates: int) -> None:
        self.module.load_state_dict(state_dict)
        self.updates = updates
