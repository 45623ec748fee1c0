"""Files a run writes (checkpoints, results.csv, args.yaml) replaced whole or not at all."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mobilevision.errors import MobileVisionError

# A full disk: ENOSPC, or a user's quota (EDQUOT) that says the same to whoever writes.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def temporary_path(path: Path) -> Path:
    """Where `path` is written before the rename: hidden, in the same folder (a rename across
    disks is not atomic), and one fixed name, so a write killed half-way leaves one file that
    the next write of `path` overwrites, not one more per process."""
    return path.with_name(f".{path.name}.tmp")


def write_atomic(path: Path, data: bytes | memoryview, *, elsewhere: str) -> None:
    """Write `data` to a temporary file, fsync it, rename it over `path`, fsync the folder: a reader
    (or a run killed mid-write) finds the old file or the new one, never half of one.

    A failed write (full disk, no permission) removes the temporary file, leaves `path` as it was
    and is a one-line user error whose fix ends with `elsewhere` ("use --project on another disk").
    """
    temporary = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno in _NO_SPACE:
            raise MobileVisionError(f"{path}: not written, no space left on its disk (the previous {path.name}, if "
                                    f"any, is intact); free space or {elsewhere}") from error
        raise MobileVisionError(f"{path}: not written ({error.strerror or error}); {elsewhere}") from error
