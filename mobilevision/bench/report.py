"""The bench's results as a Markdown table (terminal), results.csv and results.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# One row per (model, runtime). metric is top1 / mAP / miou by task, empty without --data.
# act_*_kib: activation memory at batch 1 (runtimes.activation_memory); measured is empty for ONNX
# Runtime. memory_plan: the channel groups of a memory-efficient (*_split) row. same_outputs and
# outputs_max_abs_diff: a torchvision row with published weights against ours (same_outputs.py).
COLUMNS = ("label", "model", "task", "width", "imgsz", "params", "madds", "runtime", "median_ms", "p90_ms",
           "min_ms", "images_per_s", "peak_rss_mib", "act_analytic_kib", "act_measured_kib", "memory_plan",
           "metric_name", "metric", "export_max_abs_diff", "same_outputs", "outputs_max_abs_diff")


def _cell(value, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def results_markdown(rows: list[dict], *, batch: int) -> str:
    lines = [(f"| model | width | imgsz | params | MAdds | runtime | median ms | p90 ms | min ms | img/s @{batch} | "
              "peak RSS MiB | act. KiB analytic | act. KiB measured | metric |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        params = f"{row['params'] / 1e6:.2f}M" if row.get("params") else ""
        madds = f"{row['madds'] / 1e6:,.0f}M" if row.get("madds") else ""
        metric = f"{row['metric_name']} {row['metric']:.4f}" if row.get("metric") not in (None, "") else ""
        lines.append(f"| {row['model']} | {_cell(row['width'])} | {row['imgsz']} | {params} | {madds} | "
                     f"{row['runtime']} | {_cell(row.get('median_ms'))} | {_cell(row.get('p90_ms'))} | {_cell(row.get('min_ms'))} | "
                     f"{_cell(row.get('images_per_s'))} | {_cell(row.get('peak_rss_mib'), 0)} | "
                     f"{_cell(row.get('act_analytic_kib'), 0)} | {_cell(row.get('act_measured_kib'), 0)} | {metric} |")
    return "\n".join(lines)


def ratios_markdown(ratios: list[dict]) -> str:
    lines = ["| goal | ours ms | theirs ms | ours/theirs | goal <= | met | ours/theirs of min ms |",
             "|---|---|---|---|---|---|---|"]
    for ratio in ratios:
        met = {True: "yes", False: "NO", None: ""}[ratio["met"]]  # None: a ratio without a goal
        lines.append(f"| {ratio['goal']} | {ratio['ours_ms']:.1f} | {ratio['theirs_ms']:.1f} | "
                     f"{ratio['ratio']:.2f} | {_cell(ratio['at_most'], 2)} | {met} | "
                     f"{_cell(ratio['ratio_of_min'], 2)} |")
    return "\n".join(lines)


def write_results(folder: Path, *, rows: list[dict], ratios: list[dict], settings: dict) -> None:
    """results.csv (COLUMNS) and results.json ({"settings", "rows", "ratios"}) in `folder`."""
    with open(folder / "results.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (folder / "results.json").write_text(json.dumps({"settings": settings, "rows": rows, "ratios": ratios},
                                                    indent=1))
