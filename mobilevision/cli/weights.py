"""`mobilevision weights`: every named weight the commands take, with its publisher's accuracy, its
size and whether its file is already in the torch hub cache."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from mobilevision.tasks.published import named_weights


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights", help="list the published weights by name, with accuracy, size and cache state", description=__doc__
    )
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--long", action="store_true", help="every field of each weight (URL, SHA-256, licence, cache "
                      "path, ...) instead of the table")
    view.add_argument("--json", action="store_true", help="print a JSON list on stdout instead of the table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = named_weights()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.long:
        for row in rows:
            print(row["name"])
            for key, value in row.items():
                if key != "name":
                    print(f"  {key:<12}{'-' if value is None else value}")
        return 0
    shared = {"accuracy": publisher_accuracy, "params": _params, "size": _size,
              "cached": lambda row: "yes" if row["cached"] else "no"}
    print("Published models: --weights NAME in train, val, predict, export, bench and demo\n")
    _print_table([row for row in rows if row["kind"] == "model"],
                 columns={"name": shortest_name, "task": lambda row: row["task"], **shared})
    print("\nImageNet backbone weights: --weights-backbone NAME, or classify --weights NAME --model M --width W\n")
    _print_table([row for row in rows if row["kind"] == "backbone"],
                 columns={"name": shortest_name, "model, width": lambda row: f"{row['model']} {row['width']}", **shared})
    return 0


def shortest_name(row: dict) -> str:
    """The name a user types: the builder alone for its default weights."""
    return row["alias"] or row["name"]


def publisher_accuracy(row: dict) -> str:
    """The metric as the publisher names it and its value, e.g. "box_map 21.3"."""
    return "-" if row["accuracy"] is None else f"{row['metric']} {row['accuracy']:g}"


def _params(row: dict) -> str:
    return "-" if row["params"] is None else f"{row['params'] / 1e6:.2f}M"


def _size(row: dict) -> str:
    """Exact bytes where known, else torchvision's size (in MiB, which it calls MB)."""
    mib = row["file_bytes"] / 2**20 if row["file_bytes"] else row["file_mib"]
    return "-" if mib is None else f"{mib:.1f} MiB"


def _print_table(rows: list[dict], *, columns: dict[str, Callable[[dict], str]]) -> None:
    """Each column as wide as its widest cell, two spaces apart, so that the tables fit 100 columns."""
    lines = [list(columns), *([cell(row) for cell in columns.values()] for row in rows)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    for line in lines:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())
