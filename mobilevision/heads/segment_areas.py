"""Class logits read from a segmentation: a linear layer on the log of each class's predicted area."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Keeps the log finite for a class the segmentation gives no pixel; a fraction below it is as good as none.
MIN_AREA_FRACTION = 1e-4
# Scales the log areas, so that the zero-initialised weights reach a decisive comparison within a
# short run (without it, a 10-minute run left them a third of what they fit to: docs/benchmarks.md).
LOG_AREA_GAIN = 4.0
# refit's samples: the latest training images, about half an epoch of the quickstart's 7600. On a
# 10.5-minute quickstart model (its learnt read: val top-1 0.863), a read refitted on 800, 1600 and
# 3200 training images reached 0.865, 0.885 and 0.903 (docs/experiments.md).
MEMORY_SAMPLES = 4000
MIN_REFIT_SAMPLES = 200  # fewer would fit the read to a handful of images
REFIT_ITERATIONS = 100
REFIT_L2 = 1e-4


class SegmentAreaReader(nn.Module):
    """Segmentation logits (N, S, H, W) -> class logits (N, C), to be added to a classifier's.

    For a label that names the image's largest object, the segmentation already holds the answer:
    the class with the most pixels. Where the image's global pooling dilutes a small object into
    the background, or two near-equal objects into each other's evidence, per-pixel classes still
    count them apart. Log areas make the layer's job a comparison: a positive weight on each
    class's own log area ranks classes by area. Zero-initialised, so before training (or in a
    model assembled from heads trained alone) the classifier's logits are unchanged.

    Gradient steps alone learn it slowly, as the segmentation it reads is still changing (weights a
    third of their fitted size after a 10-minute run). Given the classifier's own logits, the best
    read is a convex problem (multinomial logistic regression in 56-odd weights), so `refit` solves
    it outright on the most recent training samples that `read(..., labels=)` remembered.
    """

    def __init__(self, segment_classes: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(segment_classes, num_classes)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.memory: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # not state: not saved

    @staticmethod
    def log_areas(segment_logits: torch.Tensor) -> torch.Tensor:
        """(N, S, H, W) -> (N, S): each class's mean softmax probability, its log scaled by LOG_AREA_GAIN."""
        # Detached: the segmentation head learns from its own labels only, and the classifier
        # learns to read it rather than to bend it.
        areas = segment_logits.detach().float().softmax(dim=1).mean(dim=(2, 3))
        return LOG_AREA_GAIN * areas.clamp(min=MIN_AREA_FRACTION).log()

    def forward(self, segment_logits: torch.Tensor) -> torch.Tensor:
        return self.fc(self.log_areas(segment_logits))

    @property
    def remembered(self) -> int:
        """How many training samples the memory holds."""
        return sum(len(labels) for *_, labels in self.memory)

    def read(self, own_logits: torch.Tensor, segment_logits: torch.Tensor, *,
             labels: torch.Tensor | None = None) -> torch.Tensor:
        """own_logits (N, C) + the read of segment_logits (N, S, H, W); with the batch's labels (N,)
        the pair is remembered for `refit` (the last MEMORY_SAMPLES of them)."""
        log_areas = self.log_areas(segment_logits)
        if labels is not None:
            self.memory.append((own_logits.detach().float(), log_areas, labels.detach()))
            while self.remembered - len(self.memory[0][2]) >= MEMORY_SAMPLES:
                self.memory.pop(0)
        return own_logits + self.fc(log_areas)

    def refit(self) -> bool:
        """Set the weights to minimise the cross-entropy of own logits + read over the remembered
        samples (L-BFGS from the current weights, a little L2 on the weights); False, and nothing
        changed, while fewer than MIN_REFIT_SAMPLES are remembered."""
        if self.remembered < MIN_REFIT_SAMPLES:
            return False
        own, log_areas, labels = (torch.cat(part) for part in zip(*self.memory))
        weight = self.fc.weight.detach().float().clone().requires_grad_(True)
        bias = self.fc.bias.detach().float().clone().requires_grad_(True)
        solver = torch.optim.LBFGS([weight, bias], max_iter=REFIT_ITERATIONS, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            solver.zero_grad()
            value = F.cross_entropy(own + log_areas @ weight.T + bias, labels) + REFIT_L2 * weight.square().sum()
            value.backward()
            return value

        with torch.enable_grad():
            solver.step(loss)
        with torch.no_grad():
            self.fc.weight.copy_(weight)
            self.fc.bias.copy_(bias)
        return True
