"""Memory-efficient inference: a model's MobileNetV2 blocks switched to channel-group execution.

Each inverted residual of a MobileNetV2 backbone (block 0 fused with the stem) is a split unit,
named by its module path ("backbone.blocks.3"); a unit with k groups holds hidden / k channels
of its expanded tensor at a time (backbones/split.py). The switch sets attributes only: the
state_dict, BatchNorm folding (deploy/fold.py) and checkpoints are unchanged, and outputs
equal the normal mode's up to float rounding. The SSDLite tap block stays unsplit where the
detector reads its whole expansion. Choosing k from a byte budget is analysis/memory_budget.py's job.

    with memory_efficient(model, groups=4):
        logits = model(images)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from mobilevision.backbones.blocks import InvertedResidual
from mobilevision.backbones.mobilenet_v2 import MobileNetV2
from mobilevision.errors import MobileVisionError


@dataclass(frozen=True)
class SplitUnit:
    """One inverted residual that can run split: `hidden` expanded channels, at most that many groups."""

    name: str
    block: InvertedResidual
    backbone: MobileNetV2
    index: int

    @property
    def hidden(self) -> int:
        return self.block.hidden_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The unit alone: (N, C_in, H, W) -> block output; block 0's input is the image (stem fused)."""
        return self.backbone.stem_and_first_block(x) if self.index == 0 else self.block(x)


@dataclass(frozen=True)
class SplitPlan:
    """Groups per unit name, and the blocks left whole with the reason."""

    groups: dict[str, int]
    unsplit: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line, e.g. "2 of 16 blocks split (backbone.blocks.0 in 6, backbone.blocks.1 in 16);
        backbone.blocks.13 whole: its whole expansion is the c4_expand feature"."""
        split = {name: k for name, k in self.groups.items() if k > 1}
        text = f"{len(split)} of {len(self.groups)} blocks split"
        if split:
            text += f" ({', '.join(f'{name} in {k}' for name, k in split.items())})"
        return text + "".join(f"; {name} whole: {reason}" for name, reason in self.unsplit.items())


def split_units(model: nn.Module) -> tuple[list[SplitUnit], dict[str, str]]:
    """(units that can be split, {name: reason} of blocks that must stay whole), in forward order."""
    units, unsplit = [], {}
    for prefix, backbone in model.named_modules():
        if not isinstance(backbone, MobileNetV2):
            continue
        for index, block in enumerate(backbone.blocks):
            name = f"{prefix}.blocks.{index}" if prefix else f"blocks.{index}"
            if backbone.keeps_expansion(index):
                unsplit[name] = "its whole expansion is the c4_expand feature"
            else:
                units.append(SplitUnit(name=name, block=block, backbone=backbone, index=index))
    if not units and not unsplit:
        raise MobileVisionError(f"{type(model).__name__} has no MobileNetV2 backbone: memory-efficient mode splits "
                                "inverted residual blocks, which MobileNetV1 does not have")
    return units, unsplit


def enable_memory_efficient(model: nn.Module, *, groups: int | Mapping[str, int]) -> SplitPlan:
    """Run every split unit of `model` in `groups` channel groups (int: every unit, capped at its
    hidden channels; mapping: unit name -> k, units not named stay whole). Returns the plan."""
    units, unsplit = split_units(model)
    by_name = {unit.name: unit for unit in units}
    if isinstance(groups, Mapping):
        unknown = sorted(set(groups) - set(by_name))
        if unknown:
            raise MobileVisionError(f"no split unit {unknown}; units: {', '.join(by_name)}"
                                    + "".join(f"; {name} stays whole: {why}" for name, why in unsplit.items()))
        chosen = dict(groups)
    else:
        chosen = {unit.name: min(groups, unit.hidden) for unit in units}
    for name, k in chosen.items():
        if not 1 <= k <= by_name[name].hidden:
            raise MobileVisionError(f"{name}: {k} groups; use 1 to {by_name[name].hidden} (its expanded channels)")
    disable_memory_efficient(model)
    for name, k in chosen.items():
        by_name[name].block.split_groups = k
    return SplitPlan(groups=chosen, unsplit=unsplit)


def disable_memory_efficient(model: nn.Module) -> None:
    """Back to the normal mode: every inverted residual whole."""
    for module in model.modules():
        if isinstance(module, InvertedResidual):
            module.split_groups = 1


@contextmanager
def memory_efficient(model: nn.Module, *, groups: int | Mapping[str, int]) -> Iterator[SplitPlan]:
    """enable_memory_efficient for the `with` body, then the normal mode again."""
    plan = enable_memory_efficient(model, groups=groups)
    try:
        yield plan
    finally:
        disable_memory_efficient(model)
