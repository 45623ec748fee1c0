"""`mobilevision bench --paper`: our parameters and multiply-adds beside the papers' tables."""

from __future__ import annotations

from mobilevision.bench.published import PUBLISHED


def paper_rows() -> list[dict]:
    """One dict per published row: source, model, width, imgsz, published and our counts."""
    from mobilevision.analysis.complexity import count_madds, count_params
    from mobilevision.tasks.registry import build_model

    rows = []
    for row in PUBLISHED:
        # Shapes only, on the meta device: a 513 px ASPP model is counted without any arithmetic.
        model = build_model(row.model_name, width=row.width, **row.kwargs).to("meta")
        params = count_params(model)
        madds = count_madds(model, imgsz=row.imgsz, forward=model.raw_outputs)
        rows.append({"source": row.source, "model": row.model_name, "width": row.width, "imgsz": row.imgsz,
                     "paper_params_M": row.params / 1e6, "params_M": params / 1e6,
                     "paper_madds_M": row.madds / 1e6, "madds_M": madds / 1e6})
    return rows


def paper_markdown(rows: list[dict]) -> str:
    lines = ["| source | model | width | imgsz | params (paper) | params (ours) | MAdds (paper) | MAdds (ours) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['source']} | {row['model']} | {row['width']:g} | {row['imgsz']} | "
                     f"{row['paper_params_M']:.2f}M | {row['params_M']:.2f}M | "
                     f"{row['paper_madds_M']:,.0f}M | {row['madds_M']:,.0f}M |")
    return "\n".join(lines)
