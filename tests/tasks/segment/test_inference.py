"""Multi-scale + flip inference and ONNX export of the segmentation logits."""

import numpy as np
import onnxruntime
import pytest
import torch

from mobilevision.deploy.onnx_export import export_onnx
from mobilevision.tasks.segment.inference import multiscale_probabilities, scaled_size
from mobilevision.tasks.segment.model import build_deeplabv3


def test_scaled_sizes_follow_tf_deeplab():
    assert [scaled_size(513, s) for s in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)] == [257, 385, 513, 641, 769, 897]
    assert scaled_size(40, 0.5) == 32  # never below the backbone's minimum input


def test_multiscale_probabilities_at_the_input_size():
    model = build_deeplabv3(width=0.35, num_classes=4).eval()
    images = torch.randn(2, 3, 65, 97)
    probabilities = multiscale_probabilities(model, images, scales=(0.75, 1.0, 1.25))
    assert probabilities.shape == (2, 4, 65, 97)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(2, 65, 97), atol=1e-5)


def test_one_scale_without_flip_is_the_plain_softmax():
    model = build_deeplabv3(width=0.35, num_classes=4).eval()
    images = torch.randn(1, 3, 65, 65)
    with torch.no_grad():
        expected = model.raw_outputs(images).softmax(dim=1)
    assert torch.allclose(multiscale_probabilities(model, images, scales=(1.0,), flip=False), expected, atol=1e-6)


def test_flip_averaging_is_mirror_symmetric():
    """Averaging an image with its mirror makes the prediction of the mirrored image the mirror."""
    model = build_deeplabv3(width=0.35, num_classes=4).eval()
    images = torch.randn(1, 3, 65, 65)
    direct = multiscale_probabilities(model, images, scales=(1.0,))
    mirrored = multiscale_probabilities(model, images.flip(3), scales=(1.0,))
    assert torch.allclose(direct, mirrored.flip(3), atol=1e-5)


@pytest.mark.parametrize("options", [{"decoder": True, "aux": True}], ids=["v3plus-os8-aux"])
def test_onnx_runtime_reproduces_the_logits(options, tmp_path):
    """The registered models are exported in tests/tasks/test_every_model.py; this covers the
    decoder (a second resize) at output stride 8, with the training-only aux head left out."""
    model = build_deeplabv3(width=0.35, num_classes=5, output_stride=8, deeplab=options).eval()
    path = export_onnx(model, tmp_path / "deeplab.onnx", imgsz=65, output_names=["logits"])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = torch.randn(2, 3, 65, 65)
    with torch.no_grad():
        expected = model.raw_outputs(images).numpy()
    (got,) = session.run(None, {"images": images.numpy()})
    assert got.shape == (2, 5, 65, 65)
    assert np.abs(expected - got).max() <= 1e-4
