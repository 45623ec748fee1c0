"""`mobilevision info`: every model the suite can build, with params and multiply-adds."""

from __future__ import annotations

import argparse
import json

from mobilevision.analysis.complexity import count_madds, count_params
from mobilevision.cli.flag_types import positive_int
from mobilevision.tasks.registry import MODELS, build_model, model_entry


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="list the models with params and multiply-adds", description=__doc__
    )
    parser.add_argument("--imgsz", type=positive_int, default=None,
                        help="input size in pixels (default: each model's own)")
    parser.add_argument("--model", default=None, help="only this model name (default: all)")
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout instead of the table")
    parser.set_defaults(run=run)


def model_rows(*, imgsz: int | None, names: list[str]) -> list[dict]:
    """One row per model and width: name, task, width, imgsz, num_classes, params, madds."""
    rows = []
    for name in names:
        entry = model_entry(name)
        size = imgsz or entry.imgsz
        for width in entry.widths:
            model = build_model(name, width=width, num_classes=entry.num_classes)
            rows.append(
                {
                    "name": name,
                    "task": entry.task,
                    "width": width,
                    "imgsz": size,
                    "num_classes": entry.num_classes,
                    "params": count_params(model),
                    "madds": count_madds(model, imgsz=size, forward=model.raw_outputs),
                }
            )
    return rows


def run(args: argparse.Namespace) -> int:
    names = [args.model] if args.model else list(MODELS)
    rows = model_rows(imgsz=args.imgsz, names=names)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    name_width = max(len(row["name"]) for row in rows) + 2
    print(f"{'model':<{name_width}}{'task':<10}{'width':>6}{'imgsz':>7}{'classes':>9}{'params':>12}{'MAdds':>10}")
    for row in rows:
        print(
            f"{row['name']:<{name_width}}{row['task']:<10}{row['width']:>6.2f}{row['imgsz']:>7}{row['num_classes']:>9}"
            f"{row['params'] / 1e6:>11.3f}M{row['madds'] / 1e6:>9.1f}M"
        )
    return 0
