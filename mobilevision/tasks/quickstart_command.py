"""`mobilevision quickstart`: the end-to-end tour that `make demo` runs.

Not built yet (issue "The quickstart"); until then it says what it will do and exits non-zero,
so `make demo` never pretends to have shown something it did not.
"""

from __future__ import annotations

import argparse

PLAN = """mobilevision quickstart is not implemented yet. When it is, it will:
  1. generate the built-in dataset (mobilevision data synth);
  2. train a MobileNetV2 multi-task model (classification, SSDLite, DeepLabv3) with a quick recipe;
  3. evaluate it (top-1, COCO mAP, mIoU) and print the table;
  4. benchmark it against MobileNetV1 at the same width and print that table;
  5. export it to ONNX, render an annotated demo video and a gallery of predictions;
  6. start the web demo on 127.0.0.1 (--no-serve stops before that).
Meanwhile `mobilevision info` lists the models the suite can build."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quickstart", help="the end-to-end tour (not implemented yet)")
    parser.add_argument("--no-serve", action="store_true", help="stop before starting the web demo")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(PLAN)
    return 3
