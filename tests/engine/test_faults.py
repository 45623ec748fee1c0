"""Faults a training run meets, each ending in one line and exit code 2 with the last good checkpoint
intact (issue 35): non-finite flags and weights, --resume with other flags or other classes, a full
disk. Runs go through the command line in-process, on 12 images of 32 px (6 steps an epoch)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.data import TensorDataset

from mobilevision.cli.main import main
from mobilevision.engine import atomic
from mobilevision.engine.loop import TrainingDiverged
from tests.engine.test_engine import PoisonsStatisticsAtStep, _run
from tests.tasks.classify.conftest import write_class_folders

# fp32 whatever --amp auto would measure (bf16 and fp32 runs differ), at an lr these 6-image runs survive.
TINY = ["--width", "0.35", "--imgsz", "32", "--batch", "2", "--workers", "0", "--device", "cpu", "--amp", "off"]


def train(capsys, *args: str) -> tuple[int, str]:
    """(exit code, the error line or "") of `mobilevision classify train ...` run in this process."""
    capsys.readouterr()
    code = main(["classify", "train", *args])
    stderr = capsys.readouterr().err
    error = stderr[stderr.find("mobilevision: error: "):] if "mobilevision: error: " in stderr else ""
    assert error.count("\n") <= 1, error  # one line
    return code, error.strip()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """data.yaml over class folders blue, green, red (4 training and 2 validation images each)."""
    root = write_class_folders(tmp_path_factory.mktemp("data"), train_per_class=4, val_per_class=2, size=32)
    (root / "data.yaml").write_text(yaml.safe_dump({"format": "folder", "class_names": ["blue", "green", "red"]}))
    return root


@pytest.fixture(scope="module")
def interrupted(dataset, tmp_path_factory) -> Path:
    """weights/last.pt of a 2-epoch run stopped after its first epoch: a 1-epoch run whose
    checkpoint is told it had 2 (the only differences between the two at that point)."""
    project = tmp_path_factory.mktemp("project")
    assert main(["classify", "train", "--data", str(dataset / "data.yaml"), "--project", str(project), "--name", "run",
                 "--epochs", "1", *TINY]) == 0
    last = project / "classify" / "run" / "weights" / "last.pt"
    checkpoint = torch.load(last, weights_only=True)
    checkpoint["args"]["epochs"] = 2
    checkpoint["scheduler"]["total_steps"] = 12
    torch.save(checkpoint, last)
    return last


@pytest.fixture
def run_copy(interrupted, tmp_path) -> Path:
    """A copy of the interrupted run's last.pt that a test may resume (and so change)."""
    shutil.copytree(interrupted.parent.parent, tmp_path / "run")
    return tmp_path / "run" / "weights" / "last.pt"


def assert_unchanged(last: Path, *, before: bytes) -> None:
    """A refused resume left the run's last.pt as it was, and it still loads with weights_only."""
    assert last.read_bytes() == before
    assert torch.load(last, weights_only=True)["global_step"] == 6


# --- 1. non-finite values never reach a checkpoint --------------------------------------------------


@pytest.mark.parametrize("flag, value", [("--lr", "nan"), ("--lr", "inf"), ("--momentum", "nan"),
                                         ("--clip-grad", "inf"), ("--warmup-epochs", "nan")])
def test_non_finite_flag_is_refused_in_one_line(capsys, dataset, tmp_path, flag, value):
    code, error = train(capsys, "--data", str(dataset), "--project", str(tmp_path), flag, value, *TINY)
    assert code == 2 and error == f"mobilevision: error: {flag} must be a finite number, got {float(value)}"
    assert not (tmp_path / "classify").exists()  # refused before the run folder is made


def test_mid_epoch_save_refuses_non_finite_weights_and_keeps_last_good(tmp_path):
    # 2 steps an epoch, a save after every step; the 3rd step (epoch 2) turns a BatchNorm running
    # variance infinite while its loss stays finite: only the save's own check can catch it.
    data = TensorDataset(torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 4)
    with pytest.raises(TrainingDiverged) as error:
        _run(PoisonsStatisticsAtStep(3), data, tmp_path, epochs=3, save_period_steps=1)
    last = tmp_path / "weights" / "last.pt"
    assert str(error.value) == (f"epoch 2, step 3: inner.backbone.stem.1.running_var holds NaN or infinite values; stopped "
                                f"before saving, last good checkpoint: {last} (lower --lr or set --clip-grad)")
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == 2
    assert all(torch.isfinite(value).all() for value in checkpoint["state_dict"].values() if value.is_floating_point())


# --- 2. --resume continues the run it names, or says why not ------------------------------------------


def test_resume_refuses_flags_that_change_the_run(capsys, run_copy):
    before = run_copy.read_bytes()
    code, error = train(capsys, "--resume", str(run_copy), "--epochs", "3", "--lr", "0.001", "--batch", "4",
                        "--device", "cpu")
    assert code == 2 and error == (f"mobilevision: error: --resume {run_copy} continues the run with its own options, "
                                   "which --epochs 3 (the run's 2), --batch 4 (the run's 2), --lr 0.001 (the run's "
                                   "0.05) would change; leave those flags out, or start a new run from its weights with "
                                   f"--weights {run_copy}")
    assert_unchanged(run_copy, before=before)


def test_resume_from_another_directory_takes_where_flags_and_finishes(capsys, run_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run stored its --data absolute
    code, _ = train(capsys, "--resume", str(run_copy), "--device", "cpu", "--workers", "0", "--lr", "0.05")
    assert code == 0
    checkpoint = torch.load(run_copy, weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["global_step"] == 12 and Path(checkpoint["args"]["data"]).is_absolute()
    rows = (run_copy.parent.parent / "results.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "1", "2"]  # epoch 1's row kept
    code, error = train(capsys, "--resume", str(run_copy))
    assert code == 2 and error == (f"mobilevision: error: --resume {run_copy}: that run already finished all 2 epochs; "
                                   f"to train on, start a new run from it with --weights {run_copy}")


def test_resume_refuses_classes_in_another_order(capsys, run_copy, dataset, tmp_path):
    moved = shutil.copytree(dataset, tmp_path / "moved")
    (moved / "data.yaml").write_text(yaml.safe_dump({"format": "folder", "class_names": ["red", "green", "blue"]}))
    checkpoint = torch.load(run_copy, weights_only=True)
    checkpoint["args"]["data"] = str(tmp_path / "gone" / "data.yaml")  # the run's data moved away
    torch.save(checkpoint, run_copy)
    before = run_copy.read_bytes()
    code, error = train(capsys, "--resume", str(run_copy), "--data", str(moved / "data.yaml"))
    assert code == 2 and error == (f"mobilevision: error: --resume {run_copy}: --data {moved / 'data.yaml'} has class 0 "
                                   "'red' where the run has 'blue' (the classes in another order); resume on the run's "
                                   f"own dataset, or start a new run with --weights {run_copy}")
    assert_unchanged(run_copy, before=before)


def test_resume_refuses_another_class_count(capsys, run_copy, dataset, tmp_path):
    more = shutil.copytree(dataset, tmp_path / "more")
    for split in ("train", "val"):
        shutil.copytree(more / split / "red", more / split / "yellow")
    checkpoint = torch.load(run_copy, weights_only=True)
    checkpoint["args"]["data"] = str(more)  # the dataset the run trained on gained a class
    torch.save(checkpoint, run_copy)
    before = run_copy.read_bytes()
    code, error = train(capsys, "--resume", str(run_copy))
    assert code == 2 and error == (f"mobilevision: error: --resume {run_copy}: --data {more} has 4 classes, the run was "
                                   f"trained on 3; resume on the run's own dataset, or start a new run with --weights "
                                   f"{run_copy}")
    assert_unchanged(run_copy, before=before)


def test_resume_refuses_other_data_while_the_runs_exists(capsys, run_copy, dataset, tmp_path):
    other = shutil.copytree(dataset, tmp_path / "other")
    code, error = train(capsys, "--resume", str(run_copy), "--data", str(other))
    stored = torch.load(run_copy, weights_only=True)["args"]["data"]
    assert code == 2 and error == (f"mobilevision: error: --resume {run_copy} continues the run on its own data "
                                   f"{stored}, not --data {other}: leave --data out, or start a new run from its "
                                   f"weights with --weights {run_copy}")


# --- 6 and 9a. a full disk: one line, the previous file intact, no temporary file left ---------------


class FullDiskAfter:
    """`open` for atomic.py whose writes of `name` fail as on a full disk (half the bytes written,
    then ENOSPC) from the `after + 1`-th on; other files open normally."""

    def __init__(self, name: str, *, after: int) -> None:
        self.name, self.after, self.opened = name, after, 0

    def __call__(self, path, mode="r", *args, **kwargs):
        file = open(path, mode, *args, **kwargs)  # noqa: SIM115 (atomic.py's `with` closes it)
        if Path(path).name != f".{self.name}.tmp":
            return file
        self.opened += 1
        if self.opened > self.after:
            def write(data):
                file.raw.write(memoryview(data)[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            file.write = write
        return file


@pytest.mark.parametrize("name, saved_before", [("last.pt", 4), ("results.csv", 1)])
def test_full_disk_is_one_line_and_keeps_the_last_good_file(capsys, dataset, tmp_path, monkeypatch, name,
                                                            saved_before):
    # last.pt is written after every step: its 5th write (step 5) fails. results.csv: its 2nd (epoch 2).
    writes = FullDiskAfter(name, after=saved_before)
    monkeypatch.setattr(atomic, "open", writes, raising=False)
    shutil.copytree(dataset, tmp_path / "data")
    code, error = train(capsys, "--data", str(tmp_path / "data"), "--project", str(tmp_path), "--name", "run",
                        "--epochs", "2", "--save-period-steps", "1", "--lr", "0.001", *TINY)
    run = tmp_path / "classify" / "run"
    path = run / "weights" / name if name == "last.pt" else run / name
    assert code == 2 and error == (f"mobilevision: error: {path}: not written, no space left on its disk (the previous "
                                   f"{name}, if any, is intact); free space or use --project on another disk")
    assert not [*run.glob(".*"), *run.glob("weights/.*")], "a temporary file was left behind"
    if name == "last.pt":
        checkpoint = torch.load(path, weights_only=True)
        assert checkpoint["global_step"] == saved_before and all(
            torch.isfinite(value).all() for value in checkpoint["state_dict"].values() if value.is_floating_point())
    else:
        assert [line.split(",")[0] for line in path.read_text().splitlines()] == ["epoch", "1"]
