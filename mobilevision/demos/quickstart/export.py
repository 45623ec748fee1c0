"""Step 5: the trained model exported to ONNX (`mobilevision export`) beside its checkpoint, where
the live and web demos find it and run it in ONNX Runtime."""

from __future__ import annotations

import shutil
from pathlib import Path

from mobilevision.deploy.export import export
from mobilevision.deploy.runtime import is_current_export


def export_onnx(checkpoint: Path, *, imgsz: int, benchmarked: Path | None = None,
                benchmarked_diff: float | None = None) -> tuple[Path, float | None, bool]:
    """(<checkpoint stem>.onnx, the largest |ONNX Runtime - PyTorch| on the raw outputs or None when
    reused, whether an export made after the checkpoint was reused). `benchmarked`: the benchmark
    step's export of the checkpoint (the same `mobilevision export` call), copied rather than made
    again when it is current, with its `benchmarked_diff`."""
    target = checkpoint.with_suffix(".onnx")
    if is_current_export(target, checkpoint=checkpoint, imgsz=imgsz):
        print(f"reusing {target}: exported from this checkpoint at {imgsz} px")
        return target, None, True
    if benchmarked is not None and is_current_export(benchmarked, checkpoint=checkpoint, imgsz=imgsz):
        shutil.copyfile(benchmarked, target)
        print(f"copied the benchmark's export {benchmarked} to {target} (BatchNorm folded): largest |ONNX Runtime - "
              f"PyTorch| on the raw outputs {benchmarked_diff:.2g}")
        return target, benchmarked_diff, False
    result = export(str(checkpoint), fmt="onnx", imgsz=imgsz, int8=False, calib=None, calib_images=0, out=str(target))
    print(f"exported {target} (BatchNorm folded): largest |ONNX Runtime - PyTorch| on the raw outputs "
          f"{result['max_abs_diff']:.2g}")
    return target, result["max_abs_diff"], False
