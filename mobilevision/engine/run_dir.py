"""The run folder `runs/<task>/<name>/`: its name, its arguments file and its per-epoch CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import yaml

from mobilevision.engine.atomic import write_atomic

# Every file of a run lives under --project: that is where another disk can be chosen.
ELSEWHERE = "use --project on another disk"


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
    write_atomic(run_dir / "args.yaml", yaml.safe_dump(args, sort_keys=False).encode(), elsewhere=ELSEWHERE)


class ResultsLog:
    """results.csv: one row per epoch; columns fixed by the first row (epoch, lr, losses, metrics, ...).

    Rows past `epochs_done` (0 for a new run; a resumed run's finished epochs) are dropped, as
    those epochs will be run again, so the file matches the run.
    Each append rewrites the file atomically: a run killed or out of disk space mid-write leaves
    the previous rows, never a truncated file.
    """

    def __init__(self, path: Path, *, epochs_done: int) -> None:
        self.path = path
        self.rows: list[dict] = []
        if epochs_done > 0 and path.is_file():
            with open(path, newline="") as file:
                self.rows = [row for row in csv.DictReader(file) if int(row["epoch"]) <= epochs_done]

    def append(self, row: dict) -> None:
        self.rows.append({key: f"{value:.6g}" if isinstance(value, float) else value for key, value in row.items()})
        columns = list(dict.fromkeys(key for existing in self.rows for key in existing))
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(self.path, text.getvalue().encode(), elsewhere=ELSEWHERE)
