"""`mobilevision bench --paper`: our parameters and multiply-adds beside the papers' tables, and
for each model a TF model zoo release exists of, its name and published accuracy beside our
latency of that model (eager PyTorch, batch 1, at the release's resolution, the network alone)."""

from __future__ import annotations

import torch

from mobilevision.bench.published import PUBLISHED
from mobilevision.bench.timing import time_calls


def paper_rows(*, warmup: int, iters: int) -> list[dict]:
    """One dict per published row: source, model, width, imgsz, published and our counts; for a
    released model also its name, published accuracy and our median latency (`iters` timed calls
    after `warmup`). Releases no table counts follow, without published counts."""
    from mobilevision.tasks.tf_releases import releases

    released = {(release.model, release.width, release.input_size): release for release in releases().values()}
    rows, timed = [], {}  # a release two sources list is timed once
    for row in PUBLISHED:
        release = released.get((row.model_name, row.width, row.imgsz))
        if release is not None and release.name not in timed:
            timed[release.name] = _release_columns(release, warmup=warmup, iters=iters)
        rows.append({"source": row.source, **_our_counts(row.model_name, width=row.width, imgsz=row.imgsz,
                                                         kwargs=row.kwargs),
                     "paper_params_M": row.params / 1e6,
                     "paper_madds_M": None if row.madds is None else row.madds / 1e6,
                     **timed.get(getattr(release, "name", None), NO_RELEASE)})
    for release in releases().values():  # a release no table counts (DeepLab's width 0.5)
        if release.name not in timed:
            kwargs = {key: value for key, value in release.model_kwargs().items() if key != "width"}
            rows.append({"source": release.source, **_our_counts(release.model, width=release.width,
                                                                 imgsz=release.input_size, kwargs=kwargs),
                         "paper_params_M": None, "paper_madds_M": None,
                         **_release_columns(release, warmup=warmup, iters=iters)})
    return rows


def _our_counts(model_name: str, *, width: float, imgsz: int, kwargs: dict) -> dict:
    """Our parameters and multiply-adds of a model, counted on the meta device: shapes only, so a
    513 px ASPP model is counted without any arithmetic."""
    from mobilevision.analysis.complexity import count_madds, count_params
    from mobilevision.tasks.registry import build_model

    model = build_model(model_name, width=width, **kwargs).to("meta")
    return {"model": model_name, "width": width, "imgsz": imgsz, "params_M": count_params(model) / 1e6,
            "madds_M": count_madds(model, imgsz=imgsz, forward=model.raw_outputs) / 1e6}


NO_RELEASE = {"release": None, "published_accuracy": None, "ours_ms": None}


def _release_columns(release, *, warmup: int, iters: int) -> dict:
    """The release's name, its publisher's accuracy and our latency of its model, random weights
    in its configuration."""
    from mobilevision.tasks.registry import build_model

    model = build_model(release.model, **release.model_kwargs()).eval()
    images = torch.randn(1, 3, release.input_size, release.input_size, generator=torch.Generator().manual_seed(0))
    timing = time_calls(model.raw_outputs, images, warmup=warmup, iters=iters)
    return {"release": release.name, "published_accuracy": f"{release.metric} {release.accuracy:g}",
            "ours_ms": timing["median_ms"]}


def paper_markdown(rows: list[dict]) -> str:
    lines = [("| source | model | width | imgsz | params (paper) | params (ours) | MAdds (paper) | MAdds (ours) | "
              "release (published accuracy) | ours, ms |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        release = f"`{row['release']}` ({row['published_accuracy']})" if row["release"] else ""
        paper_madds = "-" if row["paper_madds_M"] is None else f"{row['paper_madds_M']:,.0f}M"
        latency = "" if row["ours_ms"] is None else f"{row['ours_ms']:.1f}"
        paper_params = "-" if row["paper_params_M"] is None else f"{row['paper_params_M']:.2f}M"
        lines.append(f"| {row['source']} | {row['model']} | {row['width']:g} | {row['imgsz']} | "
                     f"{paper_params} | {row['params_M']:.2f}M | "
                     f"{paper_madds} | {row['madds_M']:,.0f}M | {release} | {latency} |")
    return "\n".join(lines)
