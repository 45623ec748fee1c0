"""Bookkeeping for bad data: every problem is logged with its file and reason and kept on the dataset.

A dataset owns a `ProblemLog`; `dataset.problems` lists what was found and `dataset.skipped` counts
samples that `__getitem__` refused (returned None). With DataLoader workers each worker holds its
own copy of the log, so the main process sees the per-batch `dropped` count of the collate
functions instead (see collate.py); `mobilevision data check` reads every sample in-process.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

logger = logging.getLogger("mobilevision.datasets")


class Problem(NamedTuple):
    file: str
    reason: str


class ProblemLog:
    """Problems found in one dataset, in the order they were found."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.skipped = 0

    def report(self, file: object, reason: str) -> None:
        """Record a problem that lost data (a dropped box or category) and log a warning."""
        self.problems.append(Problem(str(file), reason))
        logger.warning("%s: %s", file, reason)

    def report_many(self, file: object, reasons: list[str], *, what: str) -> None:
        """Record one problem per reason and log one warning for them all (a file with thousands of
        bad entries would otherwise bury the run's output): the count, `what` they are and the first."""
        self.problems.extend(Problem(str(file), reason) for reason in reasons)
        if reasons:
            logger.warning("%s: %d %s, the first: %s; `mobilevision data check` lists them all",
                           file, len(reasons), what, reasons[0])

    def skip(self, file: object, reason: str) -> None:
        """Record a sample that `__getitem__` returns as None."""
        self.skipped += 1
        self.report(file, f"{reason}; sample skipped")


class ReportsProblems:
    """Mixin for datasets holding a `log: ProblemLog`: exposes `problems` and `skipped`."""

    log: ProblemLog

    @property
    def problems(self) -> list[Problem]:
        return self.log.problems

    @property
    def skipped(self) -> int:
        return self.log.skipped
