"""The checks every command's flags share, as argparse `type=` functions: a value out of range is
refused while parsing, before any work, in one line that names the flag (argparse adds it), the
value and the range (main.OneLineParser prints it), with exit code 2. `train` checks its config
the same way in engine/config.py's check_config.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path


def _checked(text: str, *, parse: Callable[[str], float], valid: Callable[[float], bool], expected: str):
    try:
        value = parse(text)
    except ValueError:
        value = None
    # NaN and infinity parse as floats and fail no comparison written as `value <= 0`.
    if value is None or not math.isfinite(value) or not valid(value):
        raise argparse.ArgumentTypeError(f"{text} is not {expected}")
    return value


def positive_int(text: str) -> int:
    """A count or a size: 1 or more (--imgsz, --batch, --topk, --iters)."""
    return _checked(text, parse=int, valid=lambda value: value >= 1, expected="a whole number of 1 or more")


def non_negative_int(text: str) -> int:
    """0 or more (--workers: 0 loads in the main process)."""
    return _checked(text, parse=int, valid=lambda value: value >= 0, expected="a whole number of 0 or more")


def positive_float(text: str) -> float:
    """A finite number above 0 (--width)."""
    return _checked(text, parse=float, valid=lambda value: value > 0, expected="a number above 0")


def probability(text: str) -> float:
    """A score threshold from 0 to 1 (--conf)."""
    return _checked(text, parse=float, valid=lambda value: 0 <= value <= 1, expected="a number from 0 to 1")


def port(text: str) -> int:
    """A TCP port: 1 to 65535."""
    return _checked(text, parse=int, valid=lambda value: 1 <= value <= 65535, expected="a port from 1 to 65535")


def output_file(text: str) -> str:
    """A file to write: not a folder, in a folder that exists and may be written to."""
    path = Path(text)
    folder = path.parent  # "." for a bare file name
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name in it")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: folder {folder} does not exist; create it or write elsewhere")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: folder {folder} is not writable; write elsewhere")
    return text
