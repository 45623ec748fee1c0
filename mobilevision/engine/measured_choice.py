"""A choice made by timing on this machine (a runtime, a training precision), remembered in a small
JSON file so that the next run on the same machine and the same model reuses it without timing again.

The file maps a key (a dict: the CPU's name, the model's identity, sizes, versions) to what was
chosen and the measurements behind it. A key that differs in anything is a new measurement. A file
that cannot be read is treated as empty; one that cannot be written costs only the reuse.
"""

from __future__ import annotations

import json
from pathlib import Path

from mobilevision.engine.atomic import write_atomic
from mobilevision.errors import MobileVisionError


def key_text(key: dict) -> str:
    """One stable string per key: sorted, so dicts built in any order match."""
    return json.dumps(key, sort_keys=True)


def read_choices(path: Path) -> dict[str, dict]:
    """{key_text: entry} stored in `path`; empty when it is missing, unreadable or not ours."""
    try:
        choices = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return choices if isinstance(choices, dict) else {}


def cached_choice(path: Path, *, key: dict) -> dict | None:
    """The entry stored under `key` in `path`, or None."""
    entry = read_choices(path).get(key_text(key))
    return entry if isinstance(entry, dict) else None


def store_choice(path: Path, *, key: dict, entry: dict, keep: dict[str, dict] | None = None) -> str | None:
    """Write `entry` under `key` into `path` beside `keep` (default: the file's other entries).
    None when written, else why not (a read-only folder, a full disk): the choice still holds for
    this run, it is only measured again next time."""
    choices = read_choices(path) if keep is None else dict(keep)
    choices[key_text(key)] = entry
    try:
        write_atomic(path, json.dumps(choices, indent=1, sort_keys=True).encode(), elsewhere="it is measured again "
                     "next time")
    except (MobileVisionError, OSError) as error:  # OSError: the temporary file's clean-up failed too
        return str(error)
    return None


def provenance(*, measured_now: bool, cache: Path, not_cached: str | None) -> str:
    """Where a choice comes from, for its one line: "cached in <file>", "measured now; cached in
    <file>" or "measured now; not cached: <why>"."""
    if not measured_now:
        return f"cached in {cache}"
    return f"measured now; cached in {cache}" if not_cached is None else f"measured now; not cached: {not_cached}"
