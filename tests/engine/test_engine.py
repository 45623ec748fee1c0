"""The training engine on in-memory data: it overfits a batch, stops on a non-finite loss with the
last good checkpoint intact, and its schedules, parameter groups and samplers do what they say."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from mobilevision.datasets.collate import classification_collate
from mobilevision.engine import loop
from mobilevision.engine.config import TrainConfig, config_from_options
from mobilevision.engine.ema import ModelEMA
from mobilevision.engine.loop import ModelSpec, TrainingDiverged, fit
from mobilevision.engine.optim import LearningRateSchedule, parameter_groups
from mobilevision.engine.sampling import ResumableDistributedSampler, ShardSampler
from mobilevision.engine.time_budget import steps_within
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.registry import build_model, load_checkpoint

CLASSES = ["a", "b", "c", "d"]


def _run(model: nn.Module, data: Dataset, tmp_path, **options) -> dict[str, float]:
    torch.manual_seed(0)
    config = TrainConfig(**{"device": "cpu", "workers": 0, "batch": 8, "imgsz": 32, "width": 0.35, **options})
    spec = ModelSpec(task="classify", model_name="mobilenet_v2", model_kwargs={"width": 0.35, "num_classes": 4,
                     "dropout": 0.0}, class_names=CLASSES, preprocessing={"mean": [0.5] * 3, "std": [0.5] * 3,
                                                                          "input_size": 32})
    return fit(model=model, spec=spec, train_set=data, val_set=data, collate_fn=classification_collate,
               make_evaluator=lambda: ClassificationEvaluator(CLASSES), config=config, run_dir=tmp_path)


def _batch() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(8, 3, 32, 32, generator=generator), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))


def test_engine_overfits_one_batch(tmp_path):
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
    batch = _batch()
    _run(model, batch, tmp_path, epochs=15, lr=0.01, optimizer="adamw", weight_decay=0.0, schedule="cosine")
    with open(tmp_path / "results.csv") as file:
        rows = file.read().splitlines()
    first_loss, last_loss = (float(row.split(",")[2]) for row in (rows[1], rows[-1]))
    assert first_loss > 1.0 and last_loss < 0.05
    # Accuracy on that batch with its own BatchNorm statistics (the running ones lag a 15-step run).
    with torch.no_grad():
        predicted = model.train().raw_outputs(batch.tensors[0].contiguous(memory_format=torch.channels_last)).argmax(1)
    assert torch.equal(predicted, batch.tensors[1])


class DivergesAtStep(nn.Module):
    """A classifier whose loss turns NaN on its `step`-th training forward."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.inner = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
        self.step, self.calls = step, 0

    def forward(self, images, targets=None):
        if not self.training:
            return self.inner.eval()(images)
        self.calls += 1
        losses = self.inner.train()(images, targets)
        return {name: loss * math.nan if self.calls == self.step else loss for name, loss in losses.items()}

    def state_dict(self, *args, **kwargs):
        return self.inner.state_dict(*args, **kwargs)


def test_engine_stops_on_nan_loss_and_keeps_last_good_checkpoint(tmp_path):
    data = TensorDataset(torch.randn(16, 3, 32, 32), torch.arange(16) % 4)  # 2 steps per epoch
    with pytest.raises(TrainingDiverged) as error:
        _run(DivergesAtStep(5), data, tmp_path, epochs=5, save_period_steps=1)
    message = str(error.value)
    assert "\n" not in message and "step 5" in message and str(tmp_path / "weights" / "last.pt") in message
    checkpoint = torch.load(tmp_path / "weights" / "last.pt", weights_only=True)
    assert checkpoint["global_step"] == 4 and checkpoint["epoch"] == 2
    model, _ = load_checkpoint(tmp_path / "weights" / "last.pt")
    assert all(torch.isfinite(value).all() for value in model.state_dict().values() if value.is_floating_point())


class PoisonsStatisticsAtStep(DivergesAtStep):
    """A classifier whose loss stays finite but whose first BatchNorm running variance turns
    infinite on its `step`-th training forward (an overflowing statistic, not a NaN loss)."""

    def forward(self, images, targets=None):
        if not self.training:
            return self.inner.eval()(images)
        self.calls += 1
        if self.calls == self.step:  # before the forward: autograd saves the statistics it reads
            next(module for module in self.inner.modules() if isinstance(module, nn.BatchNorm2d)).running_var.fill_(math.inf)
        return self.inner.train()(images, targets)


def test_engine_refuses_to_save_non_finite_weights(tmp_path):
    data = TensorDataset(torch.randn(16, 3, 32, 32), torch.arange(16) % 4)  # 2 steps per epoch
    with pytest.raises(TrainingDiverged) as error:
        _run(PoisonsStatisticsAtStep(4), data, tmp_path, epochs=3)
    message = str(error.value)
    assert "epoch 2" in message and "running_var" in message and str(tmp_path / "weights" / "last.pt") in message
    checkpoint = torch.load(tmp_path / "weights" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(value).all() for value in checkpoint["state_dict"].values() if value.is_floating_point())


def test_engine_checkpoint_opens_weights_only_and_rebuilds(tmp_path):
    model = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
    _run(model, _batch(), tmp_path, epochs=1, ema=True)
    checkpoint = torch.load(tmp_path / "weights" / "best.pt", weights_only=True)
    expected = {"task", "model_name", "model_kwargs", "state_dict", "ema_state_dict", "class_names", "preprocessing",
                "metrics", "best_metric", "epoch", "global_step", "optimizer", "scheduler", "scaler", "ema_updates",
                "sampler", "rng", "args", "versions"}
    assert expected <= set(checkpoint)
    rebuilt, _ = load_checkpoint(tmp_path / "weights" / "best.pt")
    images = torch.randn(2, 3, 32, 32)
    reference = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0).eval()
    reference.load_state_dict(checkpoint["ema_state_dict"])
    torch.testing.assert_close(rebuilt(images), reference(images))


@pytest.mark.parametrize("ramp_steps, lag_bounds", [(2000.0, (0.0, 1.0)), (100.0, (10.0, 20.0))])
def test_ema_ramp_sets_the_decay_of_each_update(ramp_steps, lag_bounds):
    # A weight that climbs by 1 per step; the EMA after step i is d_i * ema + (1 - d_i) * i with
    # d_i = 0.99 * (1 - exp(-i / ramp_steps)), so it lags by about d / (1 - d) steps once d has ramped up.
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = ModelEMA(model, decay=0.99, ramp_steps=ramp_steps)
    expected = 0.0
    for step in range(1, 301):
        nn.init.constant_(model.weight, float(step))
        ema.update(model)
        decay = 0.99 * (1.0 - math.exp(-step / ramp_steps))
        expected = decay * expected + (1.0 - decay) * step
    assert ema.module.weight.item() == pytest.approx(expected, rel=1e-5)
    # The long ramp has barely started at step 300, so its average is nearly the latest weight.
    low, high = lag_bounds
    assert low < 300 - ema.module.weight.item() < high


def test_engine_no_weight_decay_on_batchnorm_and_biases():
    model = build_model("mobilenet_v2", width=0.35, num_classes=4)
    decay, no_decay = parameter_groups(model, weight_decay=4e-5)
    assert all(p.ndim == 4 or p is model.head.fc.weight for p in decay["params"])
    assert any(p is model.head.fc.bias for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_engine_schedules_warm_up_then_decay():
    cosine = LearningRateSchedule(kind="cosine", lr=1.0, total_steps=110, warmup_steps=10)
    assert cosine(0) == pytest.approx(0.01) and cosine(10) == pytest.approx(1.0) and cosine(60) == pytest.approx(0.5)
    assert cosine(110) == pytest.approx(0.0, abs=1e-12)
    poly = LearningRateSchedule(kind="poly", lr=1.0, total_steps=100)
    assert poly(50) == pytest.approx(0.5**0.9)
    step = LearningRateSchedule(kind="step", lr=0.045, total_steps=1000, step_steps=10, step_gamma=0.98)
    assert step(9) == pytest.approx(0.045) and step(25) == pytest.approx(0.045 * 0.98**2)


def test_engine_time_budget_sizes_the_run_in_whole_steps():
    # 480 s budget, 100 steps done in 62 s (0.62 s each): 418 s left hold 674 more (674.2 rounded down).
    assert steps_within(budget_seconds=480, elapsed_seconds=62, steps_done=100) == 774
    # Steps slowed to a mean of 0.8 s: after 400 (320 s), 160 s hold exactly 200 more.
    assert steps_within(budget_seconds=480, elapsed_seconds=320, steps_done=400) == 600
    # Spent (or overspent): the run ends with the step just done.
    assert steps_within(budget_seconds=480, elapsed_seconds=500, steps_done=700) == 700
    with pytest.raises(ValueError, match="steps_done"):
        steps_within(budget_seconds=60, elapsed_seconds=0, steps_done=0)
    with pytest.raises(MobileVisionError, match="--time must not be negative, got -1.0"):
        config_from_options(TrainConfig, {"time": -1.0}, recipes={})


def test_engine_time_budget_ends_the_run_and_records_it(tmp_path):
    model = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
    _run(model, _batch(), tmp_path, epochs=5, time=1e-6)  # spent by the first epoch
    with open(tmp_path / "results.csv") as file:
        assert len(file.read().splitlines()) == 2  # header + epoch 1
    checkpoint = torch.load(tmp_path / "weights" / "last.pt", weights_only=True)
    # The resized --epochs is what a resumed run reads back, so --resume sees a finished run.
    assert checkpoint["args"]["epochs"] == 1 and checkpoint["epoch"] == 1
    assert checkpoint["elapsed_seconds"] > 0


def _budgeted_run(tmp_path, monkeypatch, *, images: int, budget_steps: int) -> tuple[list[dict], dict]:
    """(results.csv rows, last.pt) of a 50-epoch --time run on `images` random images in batches of
    8, whose budget always holds `budget_steps` steps; cosine at lr 0.01 without warm-up."""
    monkeypatch.setattr(loop, "_steps_in_budget", lambda config, **_: budget_steps)
    data = TensorDataset(torch.randn(images, 3, 32, 32, generator=torch.Generator().manual_seed(0)),
                         torch.arange(images) % 4)
    model = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
    _run(model, data, tmp_path, epochs=50, time=10.0, lr=0.01, optimizer="adamw", schedule="cosine",
         warmup_epochs=0.0)
    with open(tmp_path / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return rows, torch.load(tmp_path / "weights" / "last.pt", weights_only=True)


def test_engine_time_budget_cuts_the_last_epoch_where_the_budget_ends(tmp_path, monkeypatch):
    # 32 images in batches of 8: 4 steps an epoch. A budget that holds 6 steps gives a second,
    # partial epoch of 2 steps, which validates, and a schedule that ends at the 6th step.
    rows, checkpoint = _budgeted_run(tmp_path, monkeypatch, images=32, budget_steps=6)
    assert [row["epoch"] for row in rows] == ["1", "2"] and all(row["top1"] for row in rows)
    # Cosine over 6 steps, read at the last one (step 5): 0.01 * (1 + cos(pi * 5 / 6)) / 2.
    assert float(rows[1]["lr"]) == pytest.approx(0.01 * (1 + math.cos(math.pi * 5 / 6)) / 2)
    assert checkpoint["global_step"] == 6 and checkpoint["args"]["epochs"] == 2
    assert checkpoint["scheduler"]["total_steps"] == 6


def test_engine_time_budget_is_sized_within_an_epoch_longer_than_it(tmp_path, monkeypatch):
    # 64 images in batches of 8: 8 steps an epoch. Sized every 2 steps, a budget that holds 3 ends
    # the run after the 3rd step, inside the first epoch, which validates, with the schedule ended there.
    monkeypatch.setattr(loop, "SIZING_PERIOD_STEPS", 2)
    rows, checkpoint = _budgeted_run(tmp_path, monkeypatch, images=64, budget_steps=3)
    assert [row["epoch"] for row in rows] == ["1"] and rows[0]["top1"]
    assert float(rows[0]["lr"]) == pytest.approx(0.01 * (1 + math.cos(math.pi * 2 / 3)) / 2)
    assert checkpoint["global_step"] == 3 and checkpoint["args"]["epochs"] == 1
    assert checkpoint["scheduler"]["total_steps"] == 3


def test_engine_val_period_validates_the_first_every_nth_and_the_last_epoch(tmp_path):
    model = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
    refits = []  # a model's refit (MultiTaskModel's) runs before each validation, at no other time
    model.refit = lambda: refits.append(len(refits)) or []
    _run(model, _batch(), tmp_path, epochs=5, val_period=3, lr=0.01, optimizer="adamw")
    with open(tmp_path / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows if row["top1"]] == ["1", "3", "5"] and refits == [0, 1, 2]
    assert all(float(row["val_time"]) == 0.0 for row in rows if not row["top1"])
    # best.pt comes from a validated epoch and carries that epoch's metrics.
    best = torch.load(tmp_path / "weights" / "best.pt", weights_only=True)
    row = rows[best["epoch"] - 1]
    assert row["top1"] and best["metrics"]["top1"] == pytest.approx(float(row["top1"]), abs=1e-5)
    with pytest.raises(MobileVisionError, match="--val-period must be positive, got 0"):
        config_from_options(TrainConfig, {"val_period": 0}, recipes={})


def test_engine_ema_takes_what_a_refit_solved(tmp_path):
    """With --ema the validated copy is the average: a part the model solved outright before
    validation must reach it at once, not at the average's 0.02% per step."""
    model = build_model("mobilenet_v2", width=0.35, num_classes=4, dropout=0.0)
    name = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)][-1]

    def refit() -> list[str]:
        with torch.no_grad():
            model.get_submodule(name).weight.fill_(0.5)
        return [name]

    model.refit = refit
    _run(model, _batch(), tmp_path, epochs=1, ema=True, lr=0.01)
    ema_weights = torch.load(tmp_path / "weights" / "best.pt", weights_only=True)["ema_state_dict"]
    assert torch.equal(ema_weights[f"{name}.weight"], torch.full_like(ema_weights[f"{name}.weight"], 0.5))


def test_engine_samplers_resume_and_shard_without_padding():
    data = list(range(10))
    full = list(ResumableDistributedSampler(data, num_replicas=1, rank=0, seed=3))
    sampler = ResumableDistributedSampler(data, num_replicas=1, rank=0, seed=3)
    sampler.set_position(0, start=4)
    assert list(sampler) == full[4:] and len(sampler) == 6
    shards = [list(ShardSampler(7, rank=rank, world_size=2)) for rank in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(7))
