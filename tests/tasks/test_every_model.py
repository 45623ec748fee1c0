"""Every registered model trains (forward + backward without NaN) and exports to ONNX, and
ONNX Runtime reproduces its raw outputs."""

import numpy as np
import onnxruntime
import pytest
import torch

from mobilevision.analysis.complexity import TRAINING_ONLY_MODULES
from mobilevision.deploy.onnx_export import export_onnx
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import MODELS, build_model

SMALLEST_WIDTH = {name: min(entry.widths) for name, entry in MODELS.items()}


def _as_tuple(outputs):
    return outputs if isinstance(outputs, tuple) else (outputs,)


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_backward_without_nan(name):
    model = build_model(name, width=SMALLEST_WIDTH[name], num_classes=5).train()
    images = torch.randn(2, 3, 64, 64)
    outputs = _as_tuple(model.raw_outputs(images))
    loss = sum(output.float().square().mean() for output in outputs)
    loss.backward()
    assert torch.isfinite(loss)
    # the auxiliary heads only train through their own loss, which raw_outputs does not compute
    grads = [p.grad for name, p in model.named_parameters()
             if p.requires_grad and TRAINING_ONLY_MODULES.isdisjoint(name.split("."))]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_runtime_reproduces_raw_outputs(name, tmp_path):
    model = build_model(name, width=SMALLEST_WIDTH[name], num_classes=5).eval()
    reference = _as_tuple(model.raw_outputs(torch.zeros(1, 3, 64, 64)))
    output_names = [f"output{i}" for i in range(len(reference))]
    path = export_onnx(model, tmp_path / f"{name}.onnx", imgsz=64, output_names=output_names)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):  # the batch axis is dynamic
        images = torch.randn(batch, 3, 64, 64)
        with torch.no_grad():
            expected = _as_tuple(model.raw_outputs(images))
        got = session.run(None, {"images": images.numpy()})
        for e, g in zip(expected, got, strict=True):
            assert np.abs(e.numpy() - g).max() <= 1e-4


@pytest.mark.parametrize(
    "bad",
    [torch.randn(3, 64, 64), torch.randn(1, 1, 64, 64), torch.randn(1, 4, 64, 64), torch.randn(1, 3, 16, 16)],
    ids=["no-batch-axis", "grayscale", "rgba", "too-small"],
)
def test_bad_input_shape_says_what_it_wants(bad):
    model = build_model("mobilenet_v2", width=0.35, num_classes=3).eval()
    with pytest.raises(MobileVisionError, match=r"\(N, 3, H, W\)|at least 32x32"):
        model(bad)


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(MobileVisionError, match="known models: .*mobilenet_v2.*mobilenet_v1"):
        build_model("mobilenet_v3")
