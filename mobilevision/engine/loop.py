"""`fit`: the one training loop every task uses: a plain, explicit loop (no hooks).

Per step: learning rate from the schedule, forward in autocast (the task model returns a dict of
named losses; their sum is minimised), a finite-loss check, backward (with a GradScaler for fp16),
optional clipping, optimizer step, EMA update, and every `save_period_steps` a checkpoint. Per
epoch: validation through the task's evaluator (the first, every `val_period`-th and the last
epoch), results.csv, weights/last.pt and best.pt; plots at the end. With `--time` the run is
sized in steps after every epoch and every 100 steps, so its last epoch may stop part-way, where the
budget ends.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from tqdm import tqdm

from mobilevision.engine.amp import AmpTrial, amp_cache, amp_dtype, amp_key, step_timer
from mobilevision.engine.checkpoint import package_versions, restore_rng_states, rng_states, save_atomic
from mobilevision.engine.config import TrainConfig
from mobilevision.engine.device import autocast, select_device, to_device
from mobilevision.engine.distributed import any_rank, barrier, broadcast_buffers, dist_info, reduce_sum
from mobilevision.engine.ema import ModelEMA
from mobilevision.engine.evaluation import Evaluator, evaluate
from mobilevision.engine.optim import LearningRateSchedule, build_optimizer
from mobilevision.engine.run_dir import ELSEWHERE, ResultsLog
from mobilevision.engine.sampling import ResumableDistributedSampler, SeededAugmentation, eval_loader, train_loader
from mobilevision.engine.time_budget import PACE_STEPS, PACE_WARMUP_STEPS, Pace, PaceProbe, budget_line, steps_within
from mobilevision.errors import MobileVisionError
from mobilevision.visualize.plots import plot_results

# `--time` re-sizes the run every this many steps as well as after every epoch: an epoch longer than
# the budget (a large dataset, a short run) would otherwise spend all of it on the schedule's first
# guess of the length, its learning rate never decayed.
SIZING_PERIOD_STEPS = 100


def _steps_in_budget(config: TrainConfig, *, elapsed: float, steps: int, val_seconds: float) -> int:
    """`--time`: the steps the budget holds. A run that validates only every few epochs keeps the
    last validation's time in reserve, as its final epoch validates on top of the steps' mean."""
    reserve = val_seconds if config.val_period > 1 else 0.0
    return steps_within(budget_seconds=60 * config.time - reserve, elapsed_seconds=elapsed, steps_done=steps)


def _sized(config: TrainConfig, schedule: LearningRateSchedule, *, steps_per_epoch: int, elapsed: float,
           steps: int, val_seconds: float) -> tuple[TrainConfig, LearningRateSchedule]:
    """`--time`: the schedule re-sized to the steps the budget holds, `--epochs` to the epochs they
    start (the last one may be partial)."""
    total = _steps_in_budget(config, elapsed=elapsed, steps=steps, val_seconds=val_seconds)
    return (dataclasses.replace(config, epochs=math.ceil(total / steps_per_epoch)),
            dataclasses.replace(schedule, total_steps=total))


class TrainingDiverged(MobileVisionError):
    """The loss became NaN or infinite; the last checkpoint on disk is the last good state."""


@dataclass(frozen=True)
class ModelSpec:
    """What a checkpoint records so the model can be rebuilt and used without the training code."""

    task: str
    model_name: str
    model_kwargs: dict
    class_names: list[str] | dict[str, list[str]]  # a multi-task model's: per task
    preprocessing: dict  # {"mean": [3 floats], "std": [3 floats], "input_size": int}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _last_good(last_path: Path) -> str:
    """The checkpoint a diverged run points the user back to."""
    return str(last_path) if last_path.is_file() else "none saved yet"


def _check_finite(run: _Run, *, last_path: Path) -> None:
    """Refuse to save (or validate) weights or BatchNorm statistics that are NaN or infinite.

    The loss check runs before each step, so the step itself (or a BatchNorm running variance that
    overflowed) can still put non-finite values into the model; saved, they would overwrite the
    last good checkpoint, and export and val would choke on them far from the cause.
    """
    modules = (("", run.model), ("ema: ", run.ema.module)) if run.ema is not None else (("", run.model),)
    bad = [prefix + name for prefix, module in modules
           for name, tensor in (*module.named_parameters(), *module.named_buffers())
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if any_rank(bool(bad)):  # one collective: every rank stops together
        where = bad[0] if bad else "a tensor on another rank"
        raise TrainingDiverged(f"epoch {run.epoch + 1}, step {run.global_step}: {where} holds NaN or infinite values; "
                               f"stopped before saving, last good checkpoint: {_last_good(last_path)} (lower --lr "
                               "or set --clip-grad)")


def _save(run: _Run, paths: list[Path], *, next_epoch: int, next_position: int, last_path: Path) -> None:
    """The one way a checkpoint reaches disk: the finite check on every rank (a collective), then
    rank 0 writes each of `paths` atomically."""
    _check_finite(run, last_path=last_path)
    if dist_info().is_main:
        checkpoint = run.checkpoint(next_epoch=next_epoch, next_position=next_position)
        for path in paths:
            save_atomic(checkpoint, path, elsewhere=ELSEWHERE)


@dataclass
class _EpochStats:
    """The running sums of the epoch in progress, which its results.csv row reports. A checkpoint
    saved mid-epoch carries them, so that after a resume the row still covers the whole epoch."""

    loss_sums: dict[str, float] = field(default_factory=dict)  # "loss" and "loss_<name>", summed over steps
    steps: int = 0
    images: int = 0
    started: float = field(default_factory=time.perf_counter)
    train_time: float = 0.0

    def state_dict(self) -> dict:
        return {"loss_sums": dict(self.loss_sums), "steps": self.steps, "images": self.images,
                "seconds": time.perf_counter() - self.started}

    @classmethod
    def from_state(cls, state: dict) -> _EpochStats:
        return cls(loss_sums=dict(state["loss_sums"]), steps=state["steps"], images=state["images"],
                   started=time.perf_counter() - state["seconds"])


@dataclass
class _Run:
    """One training run: what its steps change and what its checkpoints record."""

    config: TrainConfig  # re-sized by --time as the run goes
    spec: ModelSpec
    model: nn.Module
    train_model: nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: ModelEMA | None
    schedule: LearningRateSchedule
    device: torch.device
    amp: torch.dtype | None
    memory_format: torch.memory_format
    epoch: int = 0
    position: int = 0  # samples of the current epoch done
    global_step: int = 0
    best: float | None = None
    metrics: dict = field(default_factory=dict)
    elapsed: float = 0.0  # seconds of training and validation, mean over ranks
    val_time: float = 0.0  # seconds of the last validation
    stats: _EpochStats = field(default_factory=_EpochStats)  # of the epoch in progress

    def checkpoint(self, *, next_epoch: int, next_position: int) -> dict:
        return {
            "task": self.spec.task, "model_name": self.spec.model_name, "model_kwargs": dict(self.spec.model_kwargs),
            "state_dict": self.model.state_dict(), "ema_state_dict": self.ema.state_dict() if self.ema else None,
            "class_names": copy.deepcopy(self.spec.class_names), "preprocessing": dict(self.spec.preprocessing),
            "metrics": dict(self.metrics), "best_metric": self.best, "epoch": next_epoch,
            "global_step": self.global_step, "optimizer": self.optimizer.state_dict(),
            "scheduler": {"global_step": self.global_step, "total_steps": self.schedule.total_steps},
            "scaler": self.scaler.state_dict(), "ema_updates": self.ema.updates if self.ema else 0,
            "sampler": {"epoch": next_epoch, "position": next_position}, "rng": rng_states(),
            "epoch_stats": self.stats.state_dict() if next_position else None,
            "elapsed_seconds": self.elapsed, "args": dataclasses.asdict(self.config), "versions": package_versions(),
        }

    def resume(self, checkpoint: dict) -> None:
        """Continue at the checkpoint's next step: weights, optimizer, EMA, data position, RNG."""
        self.model.load_state_dict(checkpoint["state_dict"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint["ema_state_dict"], updates=checkpoint["ema_updates"])
        self.epoch, self.position = checkpoint["sampler"]["epoch"], checkpoint["sampler"]["position"]
        self.global_step, self.best = checkpoint["global_step"], checkpoint["best_metric"]
        self.metrics = checkpoint["metrics"]
        self.elapsed = checkpoint.get("elapsed_seconds", 0.0)  # absent from checkpoints of earlier versions
        # Rank 0's sums only (they are what it saved): under torchrun the resumed epoch's mean loss
        # covers rank 0's steps before the kill and every rank's after it.
        if checkpoint.get("epoch_stats") and dist_info().is_main:
            self.stats = _EpochStats.from_state(checkpoint["epoch_stats"])
        restore_rng_states(checkpoint["rng"])
        # A --time run's last epoch may be partial: its step count is not epochs x steps per epoch.
        total = checkpoint["scheduler"].get("total_steps", self.schedule.total_steps)
        self.schedule = dataclasses.replace(self.schedule, total_steps=total)

    def resize(self, *, steps_per_epoch: int, elapsed: float) -> None:
        """--time: the run re-sized to what the budget holds after `elapsed` seconds."""
        self.config, self.schedule = _sized(self.config, self.schedule, steps_per_epoch=steps_per_epoch,
                                            elapsed=elapsed, steps=self.global_step, val_seconds=self.val_time)


def _start(model: nn.Module, *, spec: ModelSpec, config: TrainConfig, steps_per_epoch: int,
           sample: Callable[[], tuple]) -> _Run:
    """The run's device, mixed precision, optimizer, gradient scaler, EMA and schedule. `sample()`:
    a training batch (images, targets), which `--amp auto` on a CPU may time steps on."""
    dist = dist_info()
    device = select_device(config.device, local_rank=dist.local_rank)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    if config.sync_bn and dist.world_size > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    amp = amp_dtype(config.amp, device, trial=_amp_trial(model, spec=spec, config=config, sample=sample, device=device,
                                                       memory_format=memory_format), log=_log_on_main)
    schedule = LearningRateSchedule(
        kind=config.schedule, lr=config.lr, total_steps=config.epochs * steps_per_epoch,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
        step_steps=round(config.step_epochs * steps_per_epoch), step_gamma=config.step_gamma,
    )
    return _Run(config=config, spec=spec, model=model, train_model=model,
                optimizer=build_optimizer(model, name=config.optimizer, lr=config.lr, momentum=config.momentum,
                                          nesterov=config.nesterov, weight_decay=config.weight_decay),
                scaler=torch.amp.GradScaler(device.type, enabled=amp == torch.float16),
                ema=ModelEMA(model, decay=config.ema_decay, ramp_steps=config.ema_ramp) if config.ema else None,
                schedule=schedule, device=device, amp=amp, memory_format=memory_format)


def _amp_trial(model: nn.Module, *, spec: ModelSpec, config: TrainConfig, sample: Callable[[], tuple],
               device: torch.device, memory_format: torch.memory_format) -> AmpTrial | None:
    """What `--amp auto` times on a CPU; None under torchrun, where the processes share the cores and
    would time each other (and SyncBatchNorm's copies would wait on each other): fp32 there."""
    if dist_info().world_size > 1:
        return None
    key = amp_key(model_name=spec.model_name, model_kwargs=spec.model_kwargs, imgsz=config.imgsz, batch=config.batch,
                  channels_last=config.channels_last)
    return AmpTrial(key=key, cache=amp_cache(),
                    seconds_per_step=step_timer(model, sample=sample, device=device, memory_format=memory_format))


def _log_on_main(line: str) -> None:
    if dist_info().is_main:  # stderr: stdout stays free for a command's --json result
        print(line, file=sys.stderr, flush=True)


def _step(run: _Run, images: torch.Tensor, targets, *, last_path: Path) -> tuple[torch.Tensor, dict, float]:
    """One optimizer step on a batch: (summed loss, the named losses, the learning rate used)."""
    lr = run.schedule(run.global_step)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    with autocast(run.device, run.amp):
        losses = run.train_model(images, to_device(targets, run.device))
    loss = sum(losses.values())
    if any_rank(not bool(torch.isfinite(loss))):
        raise TrainingDiverged(f"step {run.global_step + 1}: loss is {loss.item()} (not finite); training "
                               f"stopped, last good checkpoint: {_last_good(last_path)}")
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if run.config.clip_grad > 0:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.model.parameters(), run.config.clip_grad)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if run.ema is not None:
        run.ema.update(run.model)
    run.global_step += 1
    return loss, losses, lr


def _train_epoch(run: _Run, loader, *, steps_per_epoch: int, last_path: Path, pace: PaceProbe) -> _EpochStats:
    """The steps of epoch `run.epoch` from `run.position` on, each batch once; a --time budget may
    end it part-way (no batch past it is loaded). `pace` is told of every step."""
    dist, config, stats = dist_info(), run.config, run.stats
    # Every epoch starts in training mode (a new model is in it, but only Module.train() applies a
    # backbone's --freeze-bn, and validation restores whatever mode it found).
    run.train_model.train()
    batches = min(len(loader), max(0, run.schedule.total_steps - run.global_step))
    bar = tqdm(itertools.islice(loader, batches), desc=f"epoch {run.epoch + 1}/{config.epochs}", total=batches,
               disable=not dist.is_main, dynamic_ncols=True)
    for batch in bar:
        images, targets = batch[0], batch[1]
        run.position += config.batch
        if images.shape[0] == 0:  # every sample of the batch was unreadable and dropped
            continue
        images = images.to(run.device, non_blocking=True, memory_format=run.memory_format)
        loss, losses, lr = _step(run, images, targets, last_path=last_path)
        stats.steps += 1
        stats.images += images.shape[0]
        for name, value in (("loss", loss), *((f"loss_{key}", item) for key, item in losses.items())):
            stats.loss_sums[name] = stats.loss_sums.get(name, 0.0) + value.item()
        rate = stats.images * dist.world_size / (time.perf_counter() - stats.started)
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.3g}", img_s=f"{rate:.1f}")
        pace.step_done(images=images.shape[0])
        if config.save_period_steps and run.global_step % config.save_period_steps == 0:
            _save(run, [last_path], next_epoch=run.epoch, next_position=run.position, last_path=last_path)
        if config.time > 0 and run.global_step % SIZING_PERIOD_STEPS == 0:
            so_far = reduce_sum(torch.tensor([time.perf_counter() - stats.started], dtype=torch.float64)).item()
            run.resize(steps_per_epoch=steps_per_epoch, elapsed=run.elapsed + so_far / dist.world_size)
        if run.global_step >= run.schedule.total_steps:  # where a budget re-sized within the epoch ends
            break
    stats.train_time = time.perf_counter() - stats.started
    return stats


def _first_batch(data: Dataset, *, batch: int, collate_fn: Callable) -> tuple:
    """(images (N, 3, H, W), targets) of the first `batch` samples of `data`."""
    return collate_fn([data[index] for index in range(min(batch, len(data)))])


def _pace_probe(config: TrainConfig, *, images_per_epoch: int, on_pace: Callable[[Pace], None] | None) -> PaceProbe:
    """The first steps' pace goes to `on_pace` on rank 0, or, in a --time run, into a line saying
    what the budget will reach."""
    dist = dist_info()

    def report(images_per_s: float) -> None:
        pace = Pace(images_per_s=images_per_s * dist.world_size, images_per_epoch=images_per_epoch)
        if not dist.is_main:
            return
        if on_pace is not None:
            on_pace(pace)
        elif config.time > 0:
            tqdm.write(budget_line(pace, minutes=config.time), file=sys.stderr)

    return PaceProbe(report=report, warmup=PACE_WARMUP_STEPS, steps=PACE_STEPS)


def _mean_over_ranks(seconds: float) -> float:
    """One mean over the ranks, so every rank sizes the run alike and they stop together."""
    return reduce_sum(torch.tensor([seconds], dtype=torch.float64)).item() / dist_info().world_size


def fit(*, model: nn.Module, spec: ModelSpec, train_set: Dataset, val_set: Dataset, collate_fn: Callable,
        make_evaluator: Callable[[], Evaluator], config: TrainConfig, run_dir: Path,
        resume_from: dict | None = None, on_pace: Callable[[Pace], None] | None = None) -> dict[str, float]:
    """Train `model` for `config.epochs` epochs (or `config.time` minutes) and return the last validation metrics.

    train_set / val_set yield samples that `collate_fn` turns into (images (N, 3, H, W), targets);
    targets may be a tensor or a list of dicts. `resume_from` is a checkpoint dict (weights/last.pt):
    the run continues at its next step with the same weights, optimizer, EMA, data order and RNG.
    `on_pace` receives the speed of the run's first steps (time_budget.PaceProbe) on rank 0; without
    it a --time run logs what its budget will reach at that speed. Under torchrun every rank calls
    fit; only rank 0 prints and writes into `run_dir`.
    """
    dist = dist_info()
    train_data = SeededAugmentation(train_set, seed=config.seed)
    sampler = ResumableDistributedSampler(train_data, num_replicas=dist.world_size, rank=dist.rank, seed=config.seed)
    loader = train_loader(train_data, sampler, batch=config.batch, workers=config.workers, collate_fn=collate_fn,
                          seed=config.seed)
    val_loader = eval_loader(val_set, rank=dist.rank, world_size=dist.world_size, batch=config.batch,
                             workers=config.workers, collate_fn=collate_fn)
    steps_per_epoch = len(loader)
    # Seeds are set after _start (or restored by resume): a batch taken for --amp auto's timing
    # changes no run's data or weights.
    sample = functools.partial(_first_batch, train_data, batch=config.batch, collate_fn=collate_fn)
    run = _start(model, spec=spec, config=config, steps_per_epoch=steps_per_epoch, sample=sample)
    if resume_from is not None:
        run.resume(resume_from)
    else:
        seed_everything(config.seed + dist.rank)  # ranks differ in dropout; weights are broadcast by DDP
    if dist.world_size > 1:
        run.train_model = DistributedDataParallel(run.model, device_ids=[run.device.index]
                                                  if run.device.type == "cuda" else None)
    last_path, best_path = run_dir / "weights" / "last.pt", run_dir / "weights" / "best.pt"
    results = ResultsLog(run_dir / "results.csv", epochs_done=run.epoch) if dist.is_main else None
    main_metric = make_evaluator().main_metric
    pace = _pace_probe(run.config, images_per_epoch=steps_per_epoch * config.batch * dist.world_size, on_pace=on_pace)

    while run.epoch < run.config.epochs:
        if run.position == 0:  # else a run resumed mid-epoch, which goes on with the sums it saved
            run.stats = _EpochStats()
        sampler.set_position(run.epoch, run.position)
        train_data.epoch = run.epoch
        stats = _train_epoch(run, loader, steps_per_epoch=steps_per_epoch, last_path=last_path, pace=pace)
        _check_finite(run, last_path=last_path)  # before validation computes metrics of NaN weights
        run.epoch, run.position = run.epoch + 1, 0
        run.elapsed += _mean_over_ranks(stats.train_time)
        if run.config.time > 0:  # sized before deciding to validate: the budget's last epoch always validates
            run.resize(steps_per_epoch=steps_per_epoch, elapsed=run.elapsed)
        epoch, config = run.epoch, run.config
        validated = epoch == 1 or epoch == config.epochs or epoch % config.val_period == 0
        if validated:
            # A model may solve a part of itself outright from the training samples it last saw (the
            # multi-task model's segmentation read: MultiTaskModel.refit), so validate and save that.
            # A run resumed within the memory's half epoch refits on the samples since it resumed.
            if hasattr(run.model, "refit"):
                refitted = run.model.refit()
                if run.ema is not None:  # the validated and exported copy reads with the solved weights too
                    run.ema.take(run.model, names=refitted)
            evaluated = run.ema.module if run.ema is not None else run.model
            broadcast_buffers(evaluated)
            # Validation in full precision: the metrics in the checkpoint are the ones `val` reproduces.
            run.metrics = evaluate(evaluated, val_loader, (evaluator := make_evaluator()), device=run.device,
                                   memory_format=run.memory_format, progress=dist.is_main)
            run.val_time = time.perf_counter() - stats.started - stats.train_time
            run.elapsed += _mean_over_ranks(run.val_time)
            if config.time > 0:
                run.resize(steps_per_epoch=steps_per_epoch, elapsed=run.elapsed)
                config = run.config
        totals = reduce_sum(torch.tensor([*stats.loss_sums.values(), stats.steps], dtype=torch.float64)).tolist()
        mean_losses = {name: total / max(1.0, totals[-1]) for name, total in zip(stats.loss_sums, totals)}
        improved = validated and (run.best is None or run.metrics[main_metric] > run.best)
        run.best = run.metrics[main_metric] if improved else run.best
        # last.pt is written last: it marks the epoch done, so a run killed before it does the epoch's
        # end again on resume and neither its results.csv row, its plots nor its best.pt are lost.
        if dist.is_main:
            results.append({"epoch": epoch, "lr": run.schedule(max(0, run.global_step - 1)), **mean_losses,
                            **(run.metrics if validated else {}), "time": stats.train_time,
                            "val_time": run.val_time if validated else 0.0,
                            "images_per_s": stats.images * dist.world_size / max(stats.train_time, 1e-9)})
            if epoch == config.epochs:  # plotting costs seconds; tiny epochs would spend most time on it
                plot_results(results.path, run_dir / "results.png")
                evaluator.plot(run_dir)
        _save(run, [best_path, last_path] if improved else [last_path], next_epoch=epoch, next_position=0,
              last_path=last_path)
        if dist.is_main:
            shown = ("  ".join(f"{name} {value:.4f}" for name, value in run.metrics.items()) if validated
                     else f"(validated every {config.val_period} epochs)")
            # stderr, like the progress bars: stdout stays free for a command's --json result.
            tqdm.write(f"epoch {epoch}/{config.epochs}: loss {mean_losses.get('loss', float('nan')):.4f}  {shown}",
                       file=sys.stderr)
    barrier()
    return run.metrics
