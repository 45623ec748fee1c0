"""The run folder `runs/<task>/<name>/`: its name, its arguments file and its per-epoch CSV."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import yaml


def new_run_dir(project: str | Path, task: str, name: str | None, *, exist_ok: bool) -> Path:
    """runs/<task>/<name> made fresh: exp, exp2, exp3, ... (or name, name2, ...) unless exist_ok,
    as ultralytics numbers its runs."""
    parent = Path(project) / task
    stem = name or "exp"
    candidate = parent / stem
    if not (exist_ok or not candidate.exists()):
        taken = {path.name for path in parent.iterdir()} if parent.is_dir() else set()
        numbers = [int(match.group(1)) for entry in taken if (match := re.fullmatch(re.escape(stem) + r"(\d+)", entry))]
        candidate = parent / f"{stem}{max([1, *numbers]) + 1}"
    candidate.mkdir(parents=True, exist_ok=True)  # weights/ appears with the first checkpoint
    return candidate


def write_args(run_dir: Path, args: dict) -> None:
    (run_dir / "args.yaml").write_text(yaml.safe_dump(args, sort_keys=False))


class ResultsLog:
    """results.csv: one row per epoch; columns fixed by the first row (epoch, lr, losses, metrics, ...).

    On resume the rows of epochs that will be run again are dropped, so the file matches the run.
    """

    def __init__(self, path: Path, *, resume_epoch: int | None = None) -> None:
        self.path = path
        self.rows: list[dict] = []
        if resume_epoch is not None and path.is_file():
            with open(path, newline="") as file:
                self.rows = [row for row in csv.DictReader(file) if int(row["epoch"]) < resume_epoch]

    def append(self, row: dict) -> None:
        self.rows.append({key: f"{value:.6g}" if isinstance(value, float) else value for key, value in row.items()})
        columns = list(dict.fromkeys(key for existing in self.rows for key in existing))
        with open(self.path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
