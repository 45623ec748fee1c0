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
import itertools
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from tqdm import tqdm

from mobilevision.engine.checkpoint import package_versions, restore_rng_states, rng_states, save_atomic
from mobilevision.engine.config import TrainConfig
from mobilevision.engine.device import amp_dtype, autocast, select_device, to_device
from mobilevision.engine.distributed import any_rank, barrier, broadcast_buffers, dist_info, reduce_sum
from mobilevision.engine.ema import ModelEMA
from mobilevision.engine.evaluation import Evaluator, evaluate
from mobilevision.engine.optim import LearningRateSchedule, build_optimizer
from mobilevision.engine.run_dir import ResultsLog
from mobilevision.engine.sampling import ResumableDistributedSampler, SeededAugmentation, eval_loader, train_loader
from mobilevision.engine.time_budget import steps_within
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


def _check_finite(model: nn.Module, *, epoch: int, last_path: Path) -> None:
    """Refuse to save weights or BatchNorm statistics that are NaN or infinite.

    The loss check runs before each step, so the last step of an epoch (or a BatchNorm running
    variance that overflowed) could still put non-finite values into a checkpoint that export
    and val would then choke on far from the cause.
    """
    bad = [name for name, tensor in (*model.named_parameters(), *model.named_buffers())
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if any_rank(bool(bad)):  # one collective: every rank stops together
        raise TrainingDiverged(f"epoch {epoch + 1}: {bad[0] if bad else 'a tensor on another rank'} holds NaN or "
                               f"infinite values after training; stopped before saving, last good checkpoint: "
                               f"{_last_good(last_path)} (lower --lr or set --clip-grad)")


def fit(*, model: nn.Module, spec: ModelSpec, train_set: Dataset, val_set: Dataset, collate_fn: Callable,
        make_evaluator: Callable[[], Evaluator], config: TrainConfig, run_dir: Path,
        resume_from: dict | None = None) -> dict[str, float]:
    """Train `model` for `config.epochs` epochs (or `config.time` minutes) and return the last validation metrics.

    train_set / val_set yield samples that `collate_fn` turns into (images (N, 3, H, W), targets);
    targets may be a tensor or a list of dicts. `resume_from` is a checkpoint dict (weights/last.pt):
    the run continues at its next step with the same weights, optimizer, EMA, data order and RNG.
    Under torchrun every rank calls fit; only rank 0 prints and writes into `run_dir`.
    """
    dist = dist_info()
    device = select_device(config.device, local_rank=dist.local_rank)
    amp = amp_dtype(config.amp, device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    if config.sync_bn and dist.world_size > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = build_optimizer(model, name=config.optimizer, lr=config.lr, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    ema = ModelEMA(model, decay=config.ema_decay, ramp_steps=config.ema_ramp) if config.ema else None

    train_data = SeededAugmentation(train_set, seed=config.seed)
    sampler = ResumableDistributedSampler(train_data, num_replicas=dist.world_size, rank=dist.rank, seed=config.seed)
    loader = train_loader(train_data, sampler, batch=config.batch, workers=config.workers, collate_fn=collate_fn,
                          seed=config.seed)
    val_loader = eval_loader(val_set, rank=dist.rank, world_size=dist.world_size, batch=config.batch,
                             workers=config.workers, collate_fn=collate_fn)
    steps_per_epoch = len(loader)
    schedule = LearningRateSchedule(
        kind=config.schedule, lr=config.lr, total_steps=config.epochs * steps_per_epoch,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
        step_steps=round(config.step_epochs * steps_per_epoch), step_gamma=config.step_gamma,
    )

    last_path, best_path = run_dir / "weights" / "last.pt", run_dir / "weights" / "best.pt"
    epoch, position, global_step, best, metrics, elapsed, val_time = 0, 0, 0, None, {}, 0.0, 0.0
    if resume_from is not None:
        model.load_state_dict(resume_from["state_dict"])
        optimizer.load_state_dict(resume_from["optimizer"])
        scaler.load_state_dict(resume_from["scaler"])
        if ema is not None:
            ema.load_state_dict(resume_from["ema_state_dict"], updates=resume_from["ema_updates"])
        epoch, position = resume_from["sampler"]["epoch"], resume_from["sampler"]["position"]
        global_step, best, metrics = resume_from["global_step"], resume_from["best_metric"], resume_from["metrics"]
        elapsed = resume_from.get("elapsed_seconds", 0.0)  # absent from checkpoints of earlier versions
        restore_rng_states(resume_from["rng"])
        # A --time run's last epoch may be partial: its step count is not epochs x steps per epoch.
        schedule = dataclasses.replace(schedule, total_steps=resume_from["scheduler"].get("total_steps",
                                                                                           schedule.total_steps))
    else:
        seed_everything(config.seed + dist.rank)  # ranks differ in dropout; weights are broadcast by DDP
    train_model = model
    if dist.world_size > 1:
        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    results = ResultsLog(run_dir / "results.csv", resume_epoch=epoch) if dist.is_main else None
    main_metric = make_evaluator().main_metric

    def checkpoint(*, next_epoch: int, next_position: int) -> dict:
        return {
            "task": spec.task, "model_name": spec.model_name, "model_kwargs": dict(spec.model_kwargs),
            "state_dict": model.state_dict(), "ema_state_dict": ema.state_dict() if ema else None,
            "class_names": copy.deepcopy(spec.class_names), "preprocessing": dict(spec.preprocessing),
            "metrics": dict(metrics), "best_metric": best, "epoch": next_epoch, "global_step": global_step,
            "optimizer": optimizer.state_dict(),
            "scheduler": {"global_step": global_step, "total_steps": schedule.total_steps},
            "scaler": scaler.state_dict(), "ema_updates": ema.updates if ema else 0,
            "sampler": {"epoch": next_epoch, "position": next_position}, "rng": rng_states(),
            "elapsed_seconds": elapsed, "args": dataclasses.asdict(config), "versions": package_versions(),
        }

    while epoch < config.epochs:
        # Every epoch starts in training mode (a new model is in it, but only Module.train() applies
        # a backbone's --freeze-bn, and validation restores whatever mode it found).
        train_model.train()
        sampler.set_position(epoch, position)
        train_data.epoch = epoch
        loss_sums: dict[str, float] = {}
        steps, images_seen, started = 0, 0, time.perf_counter()
        # A --time budget may end part-way through its last epoch: no batch past it is loaded.
        batches = min(len(loader), max(0, schedule.total_steps - global_step))
        bar = tqdm(itertools.islice(loader, batches), desc=f"epoch {epoch + 1}/{config.epochs}", total=batches,
                   disable=not dist.is_main, dynamic_ncols=True)
        for batch in bar:
            images, targets = batch[0], batch[1]
            position += config.batch
            if images.shape[0] == 0:  # every sample of the batch was unreadable and dropped
                continue
            images = images.to(device, non_blocking=True, memory_format=memory_format)
            lr = schedule(global_step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast(device, amp):
                losses = train_model(images, to_device(targets, device))
            loss = sum(losses.values())
            if any_rank(not bool(torch.isfinite(loss))):
                raise TrainingDiverged(f"step {global_step + 1}: loss is {loss.item()} (not finite); training "
                                       f"stopped, last good checkpoint: {_last_good(last_path)}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.clip_grad > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            if ema is not None:
                ema.update(model)
            global_step += 1
            steps += 1
            images_seen += images.shape[0]
            for name, value in (("loss", loss), *((f"loss_{key}", item) for key, item in losses.items())):
                loss_sums[name] = loss_sums.get(name, 0.0) + value.item()
            rate = images_seen * dist.world_size / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.3g}", img_s=f"{rate:.1f}")
            if config.save_period_steps and global_step % config.save_period_steps == 0 and dist.is_main:
                save_atomic(checkpoint(next_epoch=epoch, next_position=position), last_path)
            if config.time > 0 and global_step % SIZING_PERIOD_STEPS == 0:
                so_far = reduce_sum(torch.tensor([time.perf_counter() - started], dtype=torch.float64)).item()
                config, schedule = _sized(config, schedule, steps_per_epoch=steps_per_epoch,
                                          elapsed=elapsed + so_far / dist.world_size, steps=global_step,
                                          val_seconds=val_time)
            if global_step >= schedule.total_steps:  # where a budget re-sized within the epoch ends
                break
        train_time = time.perf_counter() - started
        _check_finite(model, epoch=epoch, last_path=last_path)  # the EMA averages its states
        epoch += 1
        position = 0
        # One mean over the ranks, so every rank sizes the run alike and they stop together.
        elapsed += reduce_sum(torch.tensor([train_time], dtype=torch.float64)).item() / dist.world_size
        if config.time > 0:  # sized before deciding to validate: the budget's last epoch always validates
            config, schedule = _sized(config, schedule, steps_per_epoch=steps_per_epoch, elapsed=elapsed,
                                      steps=global_step, val_seconds=val_time)
        validated = epoch == 1 or epoch == config.epochs or epoch % config.val_period == 0
        if validated:
            evaluated = ema.module if ema is not None else model
            broadcast_buffers(evaluated)
            # Validation in full precision: the metrics in the checkpoint are the ones `val` reproduces.
            metrics = evaluate(evaluated, val_loader, (evaluator := make_evaluator()), device=device,
                               memory_format=memory_format, progress=dist.is_main)
            val_time = time.perf_counter() - started - train_time
            elapsed += reduce_sum(torch.tensor([val_time], dtype=torch.float64)).item() / dist.world_size
            if config.time > 0:
                config, schedule = _sized(config, schedule, steps_per_epoch=steps_per_epoch, elapsed=elapsed,
                                          steps=global_step, val_seconds=val_time)
        totals = reduce_sum(torch.tensor([*loss_sums.values(), steps], dtype=torch.float64)).tolist()
        mean_losses = {name: total / max(1.0, totals[-1]) for name, total in zip(loss_sums, totals)}
        improved = validated and (best is None or metrics[main_metric] > best)
        best = metrics[main_metric] if improved else best
        if dist.is_main:
            save_atomic(checkpoint(next_epoch=epoch, next_position=0), last_path)
            if improved:
                save_atomic(checkpoint(next_epoch=epoch, next_position=0), best_path)
            results.append({"epoch": epoch, "lr": schedule(max(0, global_step - 1)), **mean_losses,
                            **(metrics if validated else {}), "time": train_time,
                            "val_time": val_time if validated else 0.0,
                            "images_per_s": images_seen * dist.world_size / max(train_time, 1e-9)})
            if epoch == config.epochs:  # plotting costs seconds; tiny epochs would spend most time on it
                plot_results(results.path, run_dir / "results.png")
                evaluator.plot(run_dir)
            shown = ("  ".join(f"{name} {value:.4f}" for name, value in metrics.items()) if validated
                     else f"(validated every {config.val_period} epochs)")
            # stderr, like the progress bars: stdout stays free for a command's --json result.
            tqdm.write(f"epoch {epoch}/{config.epochs}: loss {mean_losses.get('loss', float('nan')):.4f}  {shown}",
                       file=sys.stderr)
    barrier()
    return metrics
