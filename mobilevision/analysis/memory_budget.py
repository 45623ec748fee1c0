"""Memory-efficient mode from a byte budget: for each MobileNetV2 block, the fewest channel groups
whose analytic activation peak fits (`--memory-budget 256KiB`).

Each block is counted alone, on its real input shape at the given image size: its input, its
output, one group's slices, and the image the caller holds, with every module's inputs alive
until it returns (as eager PyTorch holds them; analysis/memory.py), so that the real forward, not
only the ideal schedule, fits. Fewer groups run faster (fewer, larger kernels; see
benchmarks/memory_efficient.py), so the smallest k that fits is the one to use. Layers that are
not inverted residuals (heads, the last 1x1 conv, the SSDLite tap block) are not split; the
whole forward's peak is reported beside the budget so that one of them exceeding it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mobilevision.analysis.memory import (
    ActivationMemory,
    analytic_activation_memory,
    format_bytes,
    trace_activation_memory,
)
from mobilevision.backbones.memory_efficient import (
    SplitPlan,
    SplitUnit,
    disable_memory_efficient,
    enable_memory_efficient,
    split_units,
)
from mobilevision.errors import MobileVisionError


@dataclass(frozen=True)
class BudgetPlan:
    """The groups chosen for a budget, each block's analytic peak with them, and the whole forward's
    (both counted with module inputs held, as eager PyTorch runs)."""

    plan: SplitPlan
    budget_bytes: int
    block_peak_bytes: dict[str, int]
    network: ActivationMemory

    def describe(self) -> str:
        """One line: the budget, the groups, and where the network's peak is if it is over budget."""
        text = f"budget {format_bytes(self.budget_bytes)}: {self.plan.describe()}"
        if self.network.peak_bytes > self.budget_bytes:
            text += (f"; network peak {format_bytes(self.network.peak_bytes)} at {self.network.peak_at}, over the "
                     "budget outside the split blocks")
        return text


def unit_inputs(model: nn.Module, units: list[SplitUnit], *, imgsz: int, forward: Callable | None) -> dict:
    """{unit name: a zero tensor shaped as its input, (1, C, H, W)} from one batch-1 forward of
    `forward` (default `model`) on an imgsz x imgsz image; block 0's input is the image."""
    shapes, handles = {}, []
    for unit in units:
        hooked = unit.backbone if unit.index == 0 else unit.block

        def capture(_module, args, name=unit.name) -> None:
            shapes[name] = args[0].shape

        handles.append(hooked.register_forward_pre_hook(capture))
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            (forward or model)(torch.zeros(1, 3, imgsz, imgsz, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return {name: torch.zeros(shape, device=device) for name, shape in shapes.items()}


def _fewest_groups(peak_at: Callable[[int], int], *, hidden: int, budget: int) -> int | None:
    """The smallest k in 1..hidden with peak_at(k) <= budget, or None. A block's peak falls as k
    rises (its largest group shrinks), so: double k until it fits, then bisect."""
    too_few, k = 0, 1
    while peak_at(k) > budget:
        if k == hidden:
            return None
        too_few, k = k, min(2 * k, hidden)
    while k - too_few > 1:
        middle = (too_few + k) // 2
        if peak_at(middle) <= budget:
            k = middle
        else:
            too_few = middle
    return k


def plan_memory_budget(model: nn.Module, *, imgsz: int, budget_bytes: int, bytes_per_element: int,
                       forward: Callable | None = None) -> BudgetPlan:
    """Switch `model` to memory-efficient mode with, per block, the fewest groups whose analytic
    peak (at `bytes_per_element` per value, on one imgsz x imgsz image) is at most `budget_bytes`.
    `forward` is the part of the model that runs (task models: raw_outputs)."""
    disable_memory_efficient(model)
    units, _ = split_units(model)
    was_training = model.training
    model.eval()
    try:
        inputs = unit_inputs(model, units, imgsz=imgsz, forward=forward)
        chosen, peaks = {}, {}
        image_bytes = 3 * imgsz * imgsz * bytes_per_element
        for unit in units:
            counted: dict[int, int] = {}

            def peak_at(k: int, unit=unit, counted=counted) -> int:
                if k not in counted:
                    unit.block.split_groups = k
                    counted[k] = trace_activation_memory(unit.forward, inputs[unit.name], weights=unit.backbone,
                                                         bytes_per_element=bytes_per_element,
                                                         hold_module_inputs=True).peak_bytes
                # Block 0's input is the image; later blocks run while the caller still holds it.
                return counted[k] + (image_bytes if unit.index > 0 else 0)

            k = _fewest_groups(peak_at, hidden=unit.hidden, budget=budget_bytes)
            if k is None:
                raise MobileVisionError(
                    f"memory budget {format_bytes(budget_bytes)} is too small for {unit.name} at {imgsz} px: it needs "
                    f"{format_bytes(peak_at(unit.hidden))} even in {unit.hidden} groups (its input, its output and the "
                    "image stay whole); raise the budget or lower the input size")
            chosen[unit.name], peaks[unit.name] = k, peak_at(k)
        plan = enable_memory_efficient(model, groups=chosen)
        network = analytic_activation_memory(model, imgsz=imgsz, bytes_per_element=bytes_per_element, forward=forward,
                                             hold_module_inputs=True)
    except BaseException:
        disable_memory_efficient(model)
        raise
    finally:
        model.train(was_training)
    return BudgetPlan(plan=plan, budget_bytes=budget_bytes, block_peak_bytes=peaks, network=network)
