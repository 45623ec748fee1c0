"""The machine a measurement was taken on: figures (latency, a runtime or precision chosen by timing)
from another CPU do not compare, so they are printed and cached with its name."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; elsewhere what Python's platform module says)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "an unknown CPU"
