"""The quickstart's up-front estimate: what its budget reaches at a measured speed, on a fast and a slow CPU."""

from __future__ import annotations

import dataclasses

from mobilevision.demos.quickstart.estimate import announce, estimate_lines
from mobilevision.engine.time_budget import Pace
from mobilevision.tasks.multitask.config import RECIPES

EPOCH = 7600  # the quickstart's train split
RECIPE = RECIPES["quick"].config
TOOK = "the goals (top-1 0.9, mAP@.5 0.8, mIoU 0.75) took 4 epochs of the default 7600 training images"


def test_a_fast_cpu_is_told_its_budget_reaches_the_goals():
    # 50 images/s: 10.5 minutes hold 31500 images, 4.1 epochs of 7600.
    assert estimate_lines(Pace(images_per_s=50.0, images_per_epoch=EPOCH), minutes=10.5, epochs=None) == [
        "50.0 images/s measured over the first steps: the 10.5-minute budget trains about 4.1 epochs of 7600 images",
        f"{TOOK}: this should reach them",
    ]


def test_a_slow_cpu_is_told_it_falls_short_and_how_long_the_goals_take():
    # 18 images/s: 10.5 minutes hold 1.5 epochs; 4 epochs are 30400 images, 28 minutes.
    assert estimate_lines(Pace(images_per_s=18.0, images_per_epoch=EPOCH), minutes=10.5, epochs=None) == [
        "18.0 images/s measured over the first steps: the 10.5-minute budget trains about 1.5 epochs of 7600 images",
        f"{TOOK}, so expect less; `mobilevision quickstart --epochs 4` reaches them in about 28 min of training at this speed",
    ]


def test_epochs_given_instead_of_minutes_are_timed():
    pace = Pace(images_per_s=18.0, images_per_epoch=EPOCH)
    assert estimate_lines(pace, minutes=None, epochs=4) == [
        "18.0 images/s measured over the first steps: 4 epochs of 7600 images take about 28 min",
        f"{TOOK}: this should reach them",
    ]
    assert "expect less" in estimate_lines(pace, minutes=None, epochs=2)[1]


def test_a_smaller_dataset_needs_the_epochs_that_see_as_many_images():
    # 4 x 7600 images are 8 epochs of 3800.
    (_, goals) = estimate_lines(Pace(images_per_s=18.0, images_per_epoch=3800), minutes=10.5, epochs=None)
    assert "`mobilevision quickstart --epochs 8` reaches them in about 28 min" in goals


def test_announce_reads_the_runs_budget_or_epochs(capsys):
    pace = Pace(images_per_s=18.0, images_per_epoch=EPOCH)
    announce(pace, config=dataclasses.replace(RECIPE, time=10.5))
    assert capsys.readouterr().out.splitlines() == estimate_lines(pace, minutes=10.5, epochs=None)
    announce(pace, config=dataclasses.replace(RECIPE, time=0.0, epochs=4))
    assert capsys.readouterr().out.splitlines() == estimate_lines(pace, minutes=None, epochs=4)
