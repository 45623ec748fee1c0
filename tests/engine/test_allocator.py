"""The allocator setting of `mobilevision` commands: freed memory is re-used instead of re-faulted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Allocates and frees 258 MiB in 3 MiB tensors, writing every page, ten times; prints the minor
# page faults of the loop (each is a fresh page the kernel had to zero).
CHILD = """
import resource, torch
from mobilevision.engine.allocator import keep_freed_memory
applied = keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    blocks = [torch.empty(3 << 18).fill_(1.0) for _ in range(86)]
    del blocks
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env: str) -> tuple[bool, int]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    result = subprocess.run([sys.executable, "-c", CHILD], env={**environ, **env}, capture_output=True, text=True,
                            check=True)
    applied, faults = result.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_memory_is_reused_and_the_setting_can_be_turned_off():
    applied, kept = _faults()
    skipped, system = _faults(MOBILEVISION_SYSTEM_MALLOC="1")
    assert applied and not skipped
    # A round is 66k pages of 4 KiB: kept memory faults the first round only. glibc's own dynamic
    # thresholds faulted between 2 and 10 rounds' worth here (133k-660k), depending on the run.
    assert kept < 1.3 * 66048, kept
    assert system > 1.5 * kept, (system, kept)
