"""`mobilevision bench --paper`: our parameters and multiply-adds beside the papers' tables, and
for each model a TF model zoo release exists of, its name and published accuracy."""

from __future__ import annotations

from mobilevision.bench.published import PUBLISHED


def paper_rows() -> list[dict]:
    """One dict per published row: source, model, width, imgsz, published and our counts."""
    from mobilevision.analysis.complexity import count_madds, count_params
    from mobilevision.tasks.registry import build_model
    from mobilevision.tasks.tf_releases import releases

    released = {(release.model, release.width, release.input_size): release for release in releases().values()}
    rows = []
    for row in PUBLISHED:
        # Shapes only, on the meta device: a 513 px ASPP model is counted without any arithmetic.
        model = build_model(row.model_name, width=row.width, **row.kwargs).to("meta")
        params = count_params(model)
        madds = count_madds(model, imgsz=row.imgsz, forward=model.raw_outputs)
        rows.append({"source": row.source, "model": row.model_name, "width": row.width, "imgsz": row.imgsz,
                     "paper_params_M": row.params / 1e6, "params_M": params / 1e6,
                     "paper_madds_M": row.madds / 1e6, "madds_M": madds / 1e6,
                     **_release_columns(released.get((row.model_name, row.width, row.imgsz)))})
    return rows


def _release_columns(release) -> dict:
    """The release's name and its publisher's accuracy (None where no release exists)."""
    if release is None:
        return {"release": None, "published_accuracy": None}
    return {"release": release.name, "published_accuracy": f"{release.metric} {release.accuracy:g}"}


def paper_markdown(rows: list[dict]) -> str:
    lines = [("| source | model | width | imgsz | params (paper) | params (ours) | MAdds (paper) | MAdds (ours) | "
              "release (published accuracy) |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        release = f"`{row['release']}` ({row['published_accuracy']})" if row["release"] else ""
        lines.append(f"| {row['source']} | {row['model']} | {row['width']:g} | {row['imgsz']} | "
                     f"{row['paper_params_M']:.2f}M | {row['params_M']:.2f}M | "
                     f"{row['paper_madds_M']:,.0f}M | {row['madds_M']:,.0f}M | {release} |")
    return "\n".join(lines)
