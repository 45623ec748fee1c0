"""The run's record: summary.json (everything the run measured and wrote) and summary.md (the same
as the tables README shows)."""

from __future__ import annotations

import json
from pathlib import Path

from mobilevision.demos.quickstart.benchmark import comparison_markdown
from mobilevision.demos.quickstart.evaluation import evaluation_markdown


def summary_markdown(summary: dict) -> str:
    """summary.json's content as Markdown: settings, the two tables, the files and each step's time."""
    settings = summary["settings"]
    lines = [
        "# mobilevision quickstart",
        "",
        (f"Multi-task model (classification + SSDLite + DeepLabv3, one backbone pass), recipe `{settings['recipe']}`: "
         f"width {settings['width']:g}, {settings['imgsz']} px, {settings['epochs']} epochs, on {settings['images']} "
         f"built-in images ({settings['images'] - settings['val_images']} train, {settings['val_images']} val), "
         f"on {summary['machine']['cpu']} ({summary['machine']['cores']} cores)."),
        "",
        "## Evaluation on the val split",
        "",
        evaluation_markdown(summary["evaluation"]),
        "",
        "## MobileNetV2 against MobileNetV1",
        "",
        comparison_markdown(summary["benchmark"]["rows"]),
        "",
        summary["benchmark"]["note"] + " Accuracy: PyTorch on the val split (the evaluation above).",
        "",
        "## Files",
        "",
        *(f"- {name}: `{path}`" for name, path in summary["files"].items()),
        "",
        "## Time",
        "",
        *(f"- {step}: {seconds:.0f} s" for step, seconds in summary["seconds"].items()),
        f"- total: {sum(summary['seconds'].values()) / 60:.1f} min"
        + (f"; reused from an earlier run: {', '.join(summary['reused'])}" if summary["reused"] else ""),
    ]
    return "\n".join(lines) + "\n"


def write_summary(folder: Path, summary: dict) -> tuple[Path, Path]:
    """(summary.json, summary.md) written into `folder`."""
    json_path, markdown_path = folder / "summary.json", folder / "summary.md"
    json_path.write_text(json.dumps(summary, indent=1))
    markdown_path.write_text(summary_markdown(summary))
    return json_path, markdown_path
