"""INT8 by ONNX Runtime static quantisation, calibrated on real images of a dataset."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from mobilevision.deploy.onnx_model import read_metadata, write_metadata


# Ops left in float between the quantised convolutions: ONNX Runtime's uint8 Resize, Softmax and
# ArgMax ran slower than its float ones (the quickstart's multi-task graph, 2 threads of an AMD EPYC:
# kernels 7.1 ms with them quantised, 4.6 without, fp32 6.5-7.9; docs/benchmarks.md).
FLOAT_OPS = ("Resize", "Softmax", "ArgMax")


class _Batches:
    """onnxruntime's CalibrationDataReader protocol over (N, 3, H, W) float32 arrays."""

    def __init__(self, input_name: str, batches: Iterable[np.ndarray]) -> None:
        self.input_name = input_name
        self._batches: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}


def quantize_int8(fp32_path: Path, int8_path: Path, *, calibration: Iterable[np.ndarray]) -> Path:
    """Write an INT8 copy of `fp32_path`, with activation ranges from the `calibration` batches.

    QOperator format with per-channel weights: on x86 CPUs ONNX Runtime runs it faster than the
    QDQ format (shared/reference/numbers.md). The graph is
    pre-processed (shape inference, fusion) first, as ONNX Runtime recommends for static
    quantisation.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.registry import QLinearOpsRegistry
    from onnxruntime.quantization.shape_inference import quant_pre_process

    metadata = read_metadata(fp32_path)
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        # The quantiser prints its progress, and warns on the root logger about every int64 shape
        # tensor it leaves unquantised (the decoder's resize sizes): neither is the user's to act on.
        with contextlib.redirect_stdout(io.StringIO()), _root_warnings_off():
            quantize_static(
                str(prepared),
                str(int8_path),
                _Batches("images", calibration),
                quant_format=QuantFormat.QOperator,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                op_types_to_quantize=[op for op in QLinearOpsRegistry if op not in FLOAT_OPS],
            )
    write_metadata(int8_path, {**metadata, "int8": True})
    return int8_path


@contextlib.contextmanager
def _root_warnings_off() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)
