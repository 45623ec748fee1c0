"""The pace a run's first steps set: timed after the warm-up steps, reported once, and a --time run's
up-front line of what its budget reaches."""

from __future__ import annotations

import types

import torch
from torch.utils.data import TensorDataset

from mobilevision.datasets.collate import classification_collate
from mobilevision.engine import loop, time_budget
from mobilevision.engine.config import TrainConfig
from mobilevision.engine.loop import ModelSpec, fit
from mobilevision.engine.time_budget import Pace, PaceProbe, budget_line
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.registry import build_model

CLASSES = ["a", "b", "c", "d"]
BATCH = 4
# The probe's warm-up and timed steps in these runs (a run states its pace after 5 + 20).
WARMUP, TIMED = 1, 2


def test_probe_times_the_steps_after_the_warmup_and_reports_once(monkeypatch):
    clock = iter(range(100))  # one second a reading
    monkeypatch.setattr(time_budget, "time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    reported = []
    probe = PaceProbe(report=reported.append, warmup=2, steps=3)
    for _ in range(2):
        probe.step_done(images=99)  # warm-up: not counted; the clock starts at the end of the second
    for _ in range(5):
        probe.step_done(images=8)
    # 3 steps of 8 images between the readings 0 and 1: 24 images/s, reported once.
    assert reported == [24.0]


def test_budget_line_says_the_epochs_the_budget_holds():
    line = budget_line(Pace(images_per_s=20.0, images_per_epoch=4000), minutes=10)
    assert line.startswith("--time 10: 20.0 images/s over the first steps, so the budget trains about 3.0 epochs "
                           "of 4000 images")


def _fit(tmp_path, monkeypatch, **options):
    """One epoch of WARMUP + TIMED + 1 steps of BATCH images at 32 px."""
    monkeypatch.setattr(loop, "PACE_WARMUP_STEPS", WARMUP)
    monkeypatch.setattr(loop, "PACE_STEPS", TIMED)
    images = BATCH * (WARMUP + TIMED + 1)
    data = TensorDataset(torch.randn(images, 3, 32, 32, generator=torch.Generator().manual_seed(0)),
                         torch.arange(images) % 4)
    torch.manual_seed(0)
    config = TrainConfig(device="cpu", workers=0, batch=BATCH, imgsz=32, width=0.35, epochs=1, lr=0.001, amp="off",
                         **options.pop("config", {}))
    spec = ModelSpec(task="classify", model_name="mobilenet_v2", model_kwargs={"width": 0.35, "num_classes": 4},
                     class_names=CLASSES, preprocessing={"mean": [0.5] * 3, "std": [0.5] * 3, "input_size": 32})
    fit(model=build_model("mobilenet_v2", width=0.35, num_classes=4), spec=spec, train_set=data, val_set=data,
        collate_fn=classification_collate, make_evaluator=lambda: ClassificationEvaluator(CLASSES), config=config,
        run_dir=tmp_path, **options)
    return images


def test_fit_hands_its_first_steps_pace_to_on_pace(tmp_path, monkeypatch):
    paces = []
    images = _fit(tmp_path, monkeypatch, on_pace=paces.append)
    (pace,) = paces
    assert pace.images_per_epoch == images and pace.images_per_s > 0


def test_a_time_run_says_up_front_what_its_budget_reaches(tmp_path, monkeypatch, capsys):
    steps = WARMUP + TIMED + 1
    monkeypatch.setattr(loop, "_steps_in_budget", lambda config, **_: steps)
    _fit(tmp_path, monkeypatch, config={"time": 10.0})
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("--time 10: ")]
    assert len(lines) == 1 and f"epochs of {BATCH * steps} images" in lines[0]
