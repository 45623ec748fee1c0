"""Where a training step of the quickstart's multi-task recipe spends its time.

    .venv/bin/python benchmarks/step_breakdown.py --data DIR [--steps 40 --warmup 5 --workers N --ema --amp bf16
                                                             --before adamw|depthwise|autocast --rounds 2]

DIR is a built-in dataset (`mobilevision data synth --out DIR --size 256`). The recipe is
`multitask train --recipe quick` (width 0.5, 256 px, batch 8, AdamW, clip 10) with its own loader
workers unless --workers is given, in fp32 unless --amp bf16 (what `--amp auto` takes where it
measured bf16 faster). Each step runs as the engine's loop does it (engine/loop.py
`_step`), fenced by perf_counter with a device synchronisation before every reading:

    data wait   the DataLoader's next batch: decode, augmentation and collate (in this process
                with 0 workers; with workers only what the step still waits for)
    forward     backbone and heads (the model's _head_outputs)
    loss        the rest of the model call: the heads' losses on the batch's targets
    backward    zero_grad and backward of the summed loss
    clip        the gradients' norm clipped to the recipe's --clip-grad
    optimiser   the optimizer step
    EMA         the weights' moving average (off in the recipe: --ema times it)
    other       the rest of the step: the finite-loss check and .item() of the losses

It prints the mean ms per step and share of each after `--warmup` untimed steps, and images/s.
--before also times what the engine did until this breakdown showed it slow: `adamw`, torch's CPU
default of AdamW one tensor at a time, where the engine now takes the fused CPU kernel;
`depthwise` (with --amp bf16), the strided depthwise blocks in fp32, and `autocast`, them left to
autocast (oneDNN's slow bf16 input gradient), where the engine now trains them in bf16 through
depthwise kernels only (backbones/strided_depthwise.py). The two alternate for `--rounds` rounds in
the same process; both tables are printed and the ratio of their images/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from mobilevision.backbones.blocks import ConvBNAct
from mobilevision.engine.config import config_from_options
from mobilevision.engine.device import autocast, to_device
from mobilevision.engine.ema import ModelEMA
from mobilevision.engine.machine import cpu_name
from mobilevision.engine.optim import build_optimizer, parameter_groups
from mobilevision.engine.sampling import ResumableDistributedSampler, SeededAugmentation, train_loader
from mobilevision.tasks.multitask.config import RECIPES, MultitaskTrainConfig
from mobilevision.tasks.registry import get_task

PARTS = ("data wait", "forward", "loss", "backward", "clip", "optimiser", "EMA", "other")


class Fences:
    """Seconds per part: `lap(part)` charges the time since the previous lap to `part`, after a
    device synchronisation (CUDA runs asynchronously; on a CPU each op has finished on return)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self.last = device, defaultdict(float), time.perf_counter()

    def lap(self, part: str) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.seconds[part] += now - self.last
        self.last = now


def fenced_forward(model: nn.Module, fences: Fences) -> None:
    """The model's backbone + heads pass charged to "forward"; the loss is what its call adds."""
    head_outputs = model._head_outputs

    def timed(images: torch.Tensor, **options):
        fences.lap("other")
        outputs = head_outputs(images, **options)
        fences.lap("forward")
        return outputs

    model._head_outputs = timed  # an instance attribute: this model only, for this script only


def _in_fp32(block: ConvBNAct):
    """A forward of `block` in fp32 whatever the autocast (an instance attribute: this block only)."""
    plain = block.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            with torch.autocast(x.device.type, enabled=False):
                return plain(x.float())
        return plain(x)

    return forward


def run(config: MultitaskTrainConfig, *, steps: int, warmup: int, amp: torch.dtype | None,
        before: str | None) -> tuple[dict[str, float], float]:
    """({part: ms summed over the timed steps}, seconds of the timed steps); before: "adamw" steps
    AdamW one tensor at a time (torch's CPU default), "depthwise" trains the strided depthwise
    blocks in fp32, "autocast" leaves them to autocast."""
    device = torch.device("cpu")
    setup = get_task("multitask").training_setup(config, resume_from=None)
    model = setup.model.to(memory_format=torch.channels_last).train()
    data = SeededAugmentation(setup.train_set, seed=config.seed)
    sampler = ResumableDistributedSampler(data, num_replicas=1, rank=0, seed=config.seed)
    loader = train_loader(data, sampler, batch=config.batch, workers=config.workers,
                          collate_fn=get_task("multitask").collate, seed=config.seed)
    if len(loader) < warmup + steps:
        raise SystemExit(f"--data holds {len(loader)} batches of {config.batch}; --warmup + --steps need "
                         f"{warmup + steps}")
    if before in ("depthwise", "autocast"):
        for module in model.modules():
            if isinstance(module, ConvBNAct) and module.strided_depthwise:
                module.strided_depthwise = False
                if before == "depthwise":  # the whole block in fp32, as the engine trained it before
                    module.forward = _in_fp32(module)
    if before == "adamw":
        optimizer = torch.optim.AdamW(parameter_groups(model, weight_decay=config.weight_decay), lr=config.lr)
    else:
        optimizer = build_optimizer(model, name=config.optimizer, lr=config.lr, momentum=config.momentum,
                                    nesterov=config.nesterov, weight_decay=config.weight_decay)
    ema = ModelEMA(model, decay=config.ema_decay, ramp_steps=config.ema_ramp) if config.ema else None
    fences = Fences(device)
    fenced_forward(model, fences)
    batches = iter(loader)
    for step in range(warmup + steps):
        if step == warmup:
            fences.seconds.clear()
            started = time.perf_counter()
        fences.lap("other")
        images, targets = next(batches)
        images = images.to(device, memory_format=torch.channels_last)
        targets = to_device(targets, device)
        fences.lap("data wait")
        with autocast(device, amp):
            losses = model(images, targets)
        loss = sum(losses.values())
        fences.lap("loss")
        if not bool(torch.isfinite(loss)):
            raise SystemExit(f"step {step}: loss {loss.item()}")
        fences.lap("other")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        fences.lap("backward")
        nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        fences.lap("clip")
        optimizer.step()
        fences.lap("optimiser")
        if ema is not None:
            ema.update(model)
        fences.lap("EMA")
        for value in (loss, *losses.values()):
            value.item()  # the loop's per-step loss sums and progress bar
    fences.lap("other")
    return {part: 1000 * fences.seconds[part] for part in PARTS}, time.perf_counter() - started


def print_table(title: str, milliseconds: dict[str, float], *, steps: int, images_per_s: float) -> None:
    step_ms = sum(milliseconds.values()) / steps
    print(f"\n{title}\n| part | ms per step | share |\n|---|---|---|")
    for part, ms in milliseconds.items():
        print(f"| {part} | {ms / steps:.1f} | {ms / steps / step_ms:.0%} |")
    print(f"| step | {step_ms:.1f} | 100% |\n{images_per_s:.1f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a built-in dataset (mobilevision data synth)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (allocator, oneDNN kernels)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: the recipe's)")
    parser.add_argument("--ema", action="store_true", help="keep an EMA of the weights (the recipe does not)")
    parser.add_argument("--amp", choices=("off", "bf16"), default="off", help="autocast of the forward pass")
    parser.add_argument("--before", choices=("adamw", "depthwise", "autocast"), default=None,
                        help="also time the engine before a change: per-tensor AdamW, strided depthwise blocks in "
                             "fp32, or left to autocast")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each variant, alternated")
    args = parser.parse_args()
    options = {"recipe": "quick", "data": str(args.data), "device": "cpu", "amp": args.amp}
    config = config_from_options(MultitaskTrainConfig, options, recipes=RECIPES)
    config = dataclasses.replace(config, ema=args.ema or config.ema,
                                 workers=config.workers if args.workers is None else args.workers)
    before = {"adamw": "before (per-tensor AdamW)", "depthwise": "before (strided depthwise in fp32)",
              "autocast": "before (strided depthwise left to autocast)"}.get(args.before)
    variants = {"engine": None, before: args.before} if args.before else {"engine": None}
    milliseconds = {name: dict.fromkeys(PARTS, 0.0) for name in variants}
    seconds = dict.fromkeys(variants, 0.0)
    for _ in range(args.rounds):
        for name, variant in variants.items():
            torch.manual_seed(config.seed)
            parts, elapsed = run(config, steps=args.steps, warmup=args.warmup,
                                 amp=torch.bfloat16 if args.amp == "bf16" else None, before=variant)
            milliseconds[name] = {part: milliseconds[name][part] + ms for part, ms in parts.items()}
            seconds[name] += elapsed
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"multitask --recipe quick: width {config.width:g}, {config.imgsz} px, batch {config.batch}, "
          f"{config.workers} workers, EMA {'on' if config.ema else 'off'}, {'bf16' if args.amp == 'bf16' else 'fp32'}, {torch.get_num_threads()} threads; "
          f"{args.rounds} x {args.steps} steps, each after {args.warmup}; {cpu_name()}, load average {load}")
    steps = args.rounds * args.steps
    rates = {name: steps * config.batch / seconds[name] for name in variants}
    for name in variants:
        print_table(name, milliseconds[name], steps=steps, images_per_s=rates[name])
    if args.before:
        print(f"\nengine / before: {rates['engine'] / rates[before]:.3f}x images/s")


if __name__ == "__main__":
    main()
