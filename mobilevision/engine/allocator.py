"""Keep freed memory in the process instead of handing it back to the kernel after every step (glibc).

glibc serves big blocks with mmap and gives them back with munmap, and trims the heap top when
it is free; a training step frees and re-allocates the same activations each time, so the kernel
zero-fills fresh pages for every step: on a 2-core CPU that system time nearly halved the
images/s of a detection step (docs/benchmarks.md). The cost is a resident size that stays at its
peak, which training reaches anyway.

Set MOBILEVISION_SYSTEM_MALLOC=1 to leave the allocator as the system configured it; MALLOC_*
variables of your own also take precedence (glibc reads them at start-up, before this runs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameter numbers from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
# mmap only above 32 MiB (glibc's largest allowed threshold), never trim, and grow the heap by
# 1 GiB at a time: a step's activations are then re-used, not re-faulted.
SETTINGS = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: (1 << 31) - 1, M_TOP_PAD: 1 << 30}


def keep_freed_memory() -> bool:
    """Applies SETTINGS through mallopt where glibc is the allocator; True when it did."""
    if not sys.platform.startswith("linux") or os.environ.get("MOBILEVISION_SYSTEM_MALLOC") == "1":
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all(mallopt(param, value) == 1 for param, value in SETTINGS.items())
