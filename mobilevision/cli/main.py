"""The `mobilevision` command line: parses arguments, then calls the layers below.

Each command group adds its own sub-parser through an `add_commands(subparsers)` function in a
module of this package named after it; this file only assembles them and turns a
`MobileVisionError`, and a flag argparse refuses, into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from mobilevision.errors import MobileVisionError


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors as one line like every other error here (not the usage first);
    the sub-parsers of the commands are of this class too (add_subparsers' default)."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from mobilevision.cli import bench, data, demo, export, info, quickstart, tasks, weights

    parser = OneLineParser(
        prog="mobilevision",
        description="MobileNetV2 / MobileNetV1 classification, SSDLite detection and Mobile DeepLabv3 "
        "segmentation: train, evaluate, predict, export, benchmark and demo.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (info, weights, quickstart, data, tasks, export, bench, demo):
        group.add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from mobilevision.engine.allocator import keep_freed_memory

    # Before the first big tensor: training steps then re-use freed memory (allocator.py says why).
    keep_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MobileVisionError as error:
        print(f"mobilevision: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; silence the flush at exit instead of a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - open until the process exits
        return 0
    except KeyboardInterrupt:
        print("mobilevision: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
