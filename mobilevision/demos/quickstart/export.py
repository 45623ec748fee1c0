"""Step 5: the trained model exported to ONNX (`mobilevision export`) beside its checkpoint, where
the live and web demos find it and run it in ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

from mobilevision.deploy.export import export
from mobilevision.deploy.runtime import is_current_export


def export_onnx(checkpoint: Path, *, imgsz: int) -> tuple[Path, float | None, bool]:
    """(<checkpoint stem>.onnx, the largest |ONNX Runtime - PyTorch| on the raw outputs or None when
    reused, whether an export made after the checkpoint was reused)."""
    target = checkpoint.with_suffix(".onnx")
    if is_current_export(target, checkpoint=checkpoint, imgsz=imgsz):
        print(f"reusing {target}: exported from this checkpoint at {imgsz} px")
        return target, None, True
    result = export(str(checkpoint), fmt="onnx", imgsz=imgsz, int8=False, calib=None, calib_images=0, out=str(target))
    print(f"exported {target} (BatchNorm folded): largest |ONNX Runtime - PyTorch| on the raw outputs "
          f"{result['max_abs_diff']:.2g}")
    return target, result["max_abs_diff"], False
