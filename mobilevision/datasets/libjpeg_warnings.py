"""libjpeg's corrupt-data warnings, which OpenCV lets through to stderr and nowhere else.

libjpeg decodes a JPEG whose compressed data is damaged (bytes overwritten mid-scan, a segment cut
short) as best it can and says so only in a warning, which its default handler prints on the
process's stderr ("Corrupt JPEG data: 597 extraneous bytes before marker 0xd9"). OpenCV keeps that
handler and returns the garbled pixels as a success; Pillow silences the same warnings (its
decoder's output_message does nothing), so neither API tells a damaged JPEG from a good one. The
line on file descriptor 2 is the only signal: `libjpeg_warning` points fd 2 at a scratch file for
the length of one decode and reads it back. libjpeg prints only the first warning of a decode.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# The warnings that mean the pixels are wrong (libjpeg's JWRN_* texts); "bad ICC marker" also
# starts with "Corrupt JPEG data" but only loses the colour profile.
CORRUPT_DATA = ("Corrupt JPEG data", "Premature end of JPEG file")
HARMLESS = ("Corrupt JPEG data: bad ICC marker",)

# fd 2 is process-wide: one decode at a time has it, and each process (a DataLoader worker is a
# fork) its own scratch file, as a forked child would otherwise share the parent's file offset.
_lock = threading.Lock()
_scratch: dict[int, int] = {}


def _scratch_fd() -> int:
    pid = os.getpid()
    if pid not in _scratch:
        fd, name = tempfile.mkstemp(prefix="mobilevision-libjpeg-")
        os.unlink(name)  # open for the process's life, nowhere on disk
        _scratch[pid] = fd
    return _scratch[pid]


def libjpeg_warning(decode: Callable[[], T]) -> tuple[T, str | None]:
    """Run `decode()` (an OpenCV JPEG decode) with stderr captured.

    Returns its result and libjpeg's corrupt-data warning, or None when it printed none. Anything
    else written to stderr meanwhile (another thread's output) is written back to it.
    """
    with _lock:
        try:
            saved = os.dup(2)
        except OSError:  # fd 2 is closed (a daemon): nothing to read a warning from
            return decode(), None
        scratch = _scratch_fd()
        if sys.stderr is not None:  # Python's own pending output goes out before fd 2 moves
            sys.stderr.flush()
        os.dup2(scratch, 2)
        try:
            result = decode()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        size = os.lseek(scratch, 0, os.SEEK_CUR)  # the offset fd 2 shared: the end of what was written
        os.lseek(scratch, 0, os.SEEK_SET)
        printed = os.read(scratch, size).decode(errors="replace") if size else ""
        os.ftruncate(scratch, 0)
        os.lseek(scratch, 0, os.SEEK_SET)
    warning, others = None, []
    for line in printed.splitlines(keepends=True):
        if warning is None and line.startswith(CORRUPT_DATA) and not line.startswith(HARMLESS):
            warning = line.strip()
        else:
            others.append(line)
    if others:
        os.write(2, "".join(others).encode())
    return result, warning
