"""`mobilevision export` from a checkpoint: ONNX Runtime fp32 reproduces PyTorch's raw outputs
(before NMS for detection), and the INT8 copy answers through OnnxRuntimeModel with the same
structures as the PyTorch task model."""

import contextlib
import io
import json

import pytest
import torch

from mobilevision.bench.cases import fresh_case, random_calibration
from mobilevision.cli import main
from mobilevision.deploy.fold import fold_batchnorm
from mobilevision.deploy.onnx_model import OnnxRuntimeModel, read_metadata
from mobilevision.deploy.quantize import FLOAT_OPS, quantize_int8
from mobilevision.tasks.registry import load_checkpoint

# The smallest width of each task at a size where every SSDLite level still has a 1x1 map.
TINY = {"classify": ("mobilenet_v2", 0.35, 64), "detect": ("ssdlite_mobilenet_v2", 0.5, 96),
        "segment": ("deeplabv3_mobilenet_v2", 0.5, 65)}


@pytest.fixture(scope="module", params=list(TINY))
def exported(request, tmp_path_factory):
    """(task, case, ONNX path, `mobilevision export --json` result): one export per task, shared by
    the tests below because the export is the slow part."""
    task = request.param
    folder = tmp_path_factory.mktemp(task)
    name, width, imgsz = TINY[task]
    case = fresh_case(name, width=width, imgsz=imgsz, folder=folder, class_names=[f"c{index}" for index in range(4)])
    onnx_path = folder / "model.onnx"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["export", "--weights", str(case.checkpoint), "--out", str(onnx_path), "--json"]) == 0
    return task, case, onnx_path, json.loads(printed.getvalue())


def _as_tuple(outputs):
    return outputs if isinstance(outputs, tuple) else (outputs,)


def test_exported_fp32_reproduces_pytorch(exported):
    task, case, onnx_path, result = exported
    assert result["max_abs_diff"] <= 1e-4
    assert read_metadata(onnx_path)["task"] == task

    model, _ = load_checkpoint(case.checkpoint)
    runtime = OnnxRuntimeModel(onnx_path, threads=1)
    images = torch.randn(3, 3, case.imgsz, case.imgsz, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = _as_tuple(model.raw_outputs(images))  # unfolded BatchNorm: folding is exact too
    got = _as_tuple(runtime.raw_outputs(images))
    for e, g in zip(expected, got, strict=True):
        assert e.shape == g.shape
        assert (e - g).abs().max() <= 1e-4
    if task == "segment":  # the class map comes from the graph's own argmax output
        assert runtime.class_map_output == "classes"
        with torch.no_grad():
            classes = model(images)
        from_graph = runtime(images)
        assert from_graph.shape == classes.shape == (3, case.imgsz, case.imgsz) and from_graph.dtype == torch.int64
        # Logits equal within 1e-4 can swap a near-tie, so a handful of pixels may differ.
        assert (from_graph == classes).float().mean() > 0.999


def test_int8_model_returns_the_pytorch_structures(exported, tmp_path):
    task, case, onnx_path, _ = exported
    int8_path = quantize_int8(onnx_path, tmp_path / "model-int8.onnx",
                              calibration=random_calibration(imgsz=case.imgsz, count=4, seed=0))
    assert read_metadata(int8_path)["int8"] is True
    model = fold_batchnorm(load_checkpoint(case.checkpoint)[0])
    runtime = OnnxRuntimeModel(int8_path, threads=1)
    images = torch.randn(2, 3, case.imgsz, case.imgsz)
    with torch.no_grad():
        expected = model(images)
    got = runtime(images)
    if task == "detect":
        assert isinstance(got, list) and len(got) == len(expected) == 2
        for prediction in got:
            assert set(prediction) == {"boxes", "scores", "labels"}
            assert prediction["boxes"].shape[1:] == (4,)
            assert prediction["labels"].dtype == torch.int64
            assert len(prediction["boxes"]) == len(prediction["scores"]) == len(prediction["labels"])
    else:
        assert got.shape == expected.shape and got.dtype == expected.dtype
        if task == "segment":
            assert int(got.min()) >= 0 and int(got.max()) < 4
            assert _quantized_inputs(int8_path, op_types=FLOAT_OPS) == []


def _quantized_inputs(path, *, op_types) -> list[str]:
    """Nodes of `op_types` in the ONNX file whose data input comes out of a quantised op (uint8)."""
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    quantized = {name for name, op in producer.items() if op.startswith("QLinear") or op == "QuantizeLinear"}
    return [node.name for node in graph.node if node.op_type in op_types and node.input[0] in quantized]


def test_export_refuses_a_checkpoint_with_non_finite_weights(tmp_path, capsys):
    case = fresh_case("mobilenet_v2", width=0.35, imgsz=64, folder=tmp_path, class_names=["a", "b"])
    checkpoint = torch.load(case.checkpoint, weights_only=True)
    name = next(key for key in checkpoint["state_dict"] if key.endswith("running_var"))
    checkpoint["state_dict"][name].fill_(float("nan"))
    torch.save(checkpoint, case.checkpoint)
    # One line (exit code 2) naming the checkpoint, before any calibration: not ONNX Runtime's "scale issue".
    assert main(["export", "--weights", str(case.checkpoint), "--int8", "--calib", str(tmp_path / "unused")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and str(case.checkpoint) in error and "NaN" in error
