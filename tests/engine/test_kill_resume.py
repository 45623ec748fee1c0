"""Fault injection (issue 35): a training run SIGKILLed at random points 20 times, resumed each time,
passes through exactly the states of an uninterrupted run (weights, EMA, optimizer, RNG, data
position: bitwise) and ends where that run ends, with no temporary file left.

The runs are `mobilevision classify train` processes forked from tests/engine/fork_server.py, which
has imported the training code once; one thread each, so every run uses the same kernels."""

from __future__ import annotations

import csv
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.engine.fork_server import STATE, position, state_of
from tests.tasks.classify.conftest import write_class_folders

# 22 training processes make a slow test; they are forked children (POSIX only).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")]

KILLS = 20
# 12 images in batches of 2 for 8 epochs: 48 steps, each saved (--save-period-steps 1), and 8
# epoch-end saves. A kill comes 1 or 2 saves into a process and up to 50 ms later: 20 fit easily.
# --amp off: the same precision on every machine (--amp auto measures); at lr 0.001 fp32 stays finite
# on 1 thread as on 2 (at 0.005 a 1-thread run turned NaN at step 8).
TRAIN = ["--epochs", "8", "--save-period-steps", "1", "--ema", "--ema-ramp", "10", "--width", "0.35", "--imgsz",
         "32", "--batch", "2", "--workers", "0", "--device", "cpu", "--lr", "0.001", "--amp", "off"]


class ForkServer:
    """Starts `mobilevision` processes through fork_server.py, one at a time, and reports on them."""

    def __init__(self, root: Path, *, logs: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.engine.fork_server"], cwd=root,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
        self.logs, self.started = logs, 0

    def start(self, *argv: str, record: Path | None = None) -> int:
        """The pid of a new process running `mobilevision *argv`."""
        self.started += 1
        request = {"argv": list(argv), "log": str(self.logs / f"{self.started}.log"),
                   "record": str(record) if record else None}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._answer("pid", timeout=120)

    def wait(self) -> int:
        """The exit code of the last process started, or -signal."""
        return self._answer("status", timeout=300)

    def log(self) -> str:
        """The end of the last process's stdout and stderr."""
        return (self.logs / f"{self.started}.log").read_text()[-3000:]

    def _answer(self, key: str, *, timeout: float) -> int:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"the fork server gave no {key} in {timeout} s"
        return json.loads(self.process.stdout.readline())[key]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture
def server(tmp_path) -> Iterator[ForkServer]:
    (tmp_path / "logs").mkdir()
    started = ForkServer(Path(__file__).resolve().parents[2], logs=tmp_path / "logs")
    yield started
    started.close()


def wait_for_saves(last: Path, count: int, *, timeout: float = 120.0) -> None:
    """Until `last` has been replaced `count` times (a new inode or mtime; polled every millisecond)."""
    def identity():
        status = last.stat() if last.exists() else None
        return status and (status.st_ino, status.st_mtime_ns)

    seen, deadline = identity(), time.monotonic() + timeout
    while count > 0:
        assert time.monotonic() < deadline, f"{last} was not saved {count} more times in {timeout} s"
        time.sleep(0.001)
        if (now := identity()) not in (seen, None):
            seen, count = now, count - 1


def timeless_rows(path: Path) -> list[dict]:
    """results.csv's rows without the columns of seconds, which differ between any two runs."""
    with open(path, newline="") as file:
        return [{name: value for name, value in row.items() if name not in ("time", "val_time", "images_per_s")}
                for row in csv.DictReader(file)]


def assert_state(checkpoint_path: Path, expected: dict) -> None:
    state = state_of(torch.load(checkpoint_path, weights_only=True))
    for name in STATE:
        assert state[name] == expected[name], f"{checkpoint_path}: {name} differs from the uninterrupted run's"


def test_sigkill_at_random_points_resumes_bitwise(server, tmp_path):
    data = write_class_folders(tmp_path / "data", train_per_class=4, val_per_class=2, size=32)
    base = ["classify", "train", "--data", str(data), "--project", str(tmp_path), *TRAIN]
    states = tmp_path / "states"  # of the uninterrupted run, after each save
    states.mkdir()
    server.start(*base, "--name", "whole", record=states)
    assert server.wait() == 0, server.log()

    last = tmp_path / "classify" / "killed" / "weights" / "last.pt"
    choose = random.Random(35)
    killed_at = []
    for kill in range(KILLS):
        pid = server.start(*(["classify", "train", "--resume", str(last)] if kill else [*base, "--name", "killed"]))
        wait_for_saves(last, choose.randint(1, 2))
        time.sleep(choose.uniform(0.0, 0.05))  # anywhere: in a step, a save, an epoch's validation
        os.kill(pid, signal.SIGKILL)
        assert server.wait() == -signal.SIGKILL, f"run {kill + 1} ended before it was killed:\n{server.log()}"
        killed_at.append(position(torch.load(last, weights_only=True)))
        assert_state(last, json.loads((states / f"{killed_at[-1]}.json").read_text()))
    # What a kill in the middle of writing last.pt leaves (the 20 kills may all miss that moment):
    # the next save writes the same temporary file and renames it away.
    (last.parent / ".last.pt.tmp").write_bytes(b"the first half of a checkpoint")
    server.start("classify", "train", "--resume", str(last))
    assert server.wait() == 0, server.log()

    assert len(set(killed_at)) == KILLS, killed_at  # each run got further than the one before
    whole, run = tmp_path / "classify" / "whole", last.parent.parent
    for name in ("last.pt", "best.pt"):
        assert_state(run / "weights" / name, state_of(torch.load(whole / "weights" / name, weights_only=True)))
    assert not [*run.glob(".*"), *run.glob("weights/.*")], "a temporary file was left behind"
    # Every epoch's row, with its losses over all its steps however often it was interrupted.
    rows = timeless_rows(run / "results.csv")
    assert rows == timeless_rows(whole / "results.csv") and [row["epoch"] for row in rows] == [*"12345678"]
