"""The `mobilevision` command line: parses arguments, then calls into tasks/, datasets/ and demos/.

Each command group lives beside the code it drives and adds its own sub-parser through an
`add_commands(subparsers)` function; this file only assembles them and turns a
`MobileVisionError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from mobilevision.errors import MobileVisionError


def build_parser() -> argparse.ArgumentParser:
    from mobilevision.bench import command as bench_command
    from mobilevision.cli import data as data_commands
    from mobilevision.cli import demo as demo_commands
    from mobilevision.cli import info as info_command
    from mobilevision.cli import quickstart as quickstart_command
    from mobilevision.deploy import export as export_command
    from mobilevision.tasks.classify import command as classify_command
    from mobilevision.tasks.detect import command as detect_command
    from mobilevision.tasks.multitask import command as multitask_command
    from mobilevision.tasks.segment import command as segment_command

    parser = argparse.ArgumentParser(
        prog="mobilevision",
        description="MobileNetV2 / MobileNetV1 classification, SSDLite detection and Mobile DeepLabv3 "
        "segmentation: train, evaluate, predict, export, benchmark and demo.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info_command.add_commands(subparsers)
    quickstart_command.add_commands(subparsers)
    data_commands.add_commands(subparsers)
    classify_command.add_commands(subparsers)
    detect_command.add_commands(subparsers)
    segment_command.add_commands(subparsers)
    multitask_command.add_commands(subparsers)
    export_command.add_commands(subparsers)
    bench_command.add_commands(subparsers)
    demo_commands.add_commands(subparsers)
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
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("mobilevision: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
