"""classify_from_segment: the multi-task classifier adds a read of the segmentation's class areas
to its logits, in PyTorch and in the exported graph alike."""

from __future__ import annotations

import pytest
import torch

from mobilevision.deploy.onnx_export import export_onnx, output_names
from mobilevision.deploy.onnx_model import ort_session
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.multitask.model import build_multitask

from .conftest import IMGSZ, WIDTH

OPTIONS = {"width": WIDTH, "num_classes": {"classify": 5, "detect": 4, "segment": 6}, "imgsz": IMGSZ,
           "deeplab": {"decoder": True, "decoder_stride": 8, "loss_stride": 4}}


def _models() -> tuple[torch.nn.Module, torch.nn.Module]:
    """(plain, with the reader): the same weights, the reader's random."""
    plain = build_multitask(**OPTIONS).eval()
    reading = build_multitask(**OPTIONS, classify_from_segment=True).eval()
    missing, unexpected = reading.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing == ["segment_areas.fc.weight", "segment_areas.fc.bias"]
    torch.nn.init.normal_(reading.segment_areas.fc.weight, generator=torch.Generator().manual_seed(3))
    return plain, reading


def _images(count: int = 2) -> torch.Tensor:
    return torch.randn(count, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(4))


def test_classifier_logits_gain_the_area_read_and_nothing_else_changes():
    plain, reading = _models()
    images = _images()
    with torch.no_grad():
        before, after = plain.raw_outputs(images), reading.raw_outputs(images)
        read = reading.segment_areas(after[-1])
    assert read.abs().max() > 0.1
    torch.testing.assert_close(after[0], before[0] + read, rtol=0, atol=1e-5)
    for ours, theirs in zip(after[1:], before[1:], strict=True):
        assert torch.equal(ours, theirs)


def test_classification_loss_trains_the_reader_not_the_segmentation_head():
    _, reading = _models()
    reading.train()
    targets = {"classify": torch.tensor([1, 3]), "segment": torch.zeros(2, IMGSZ, IMGSZ).long(),
               "detect": [{"boxes": torch.tensor([[5.0, 5.0, 40.0, 40.0]]), "labels": torch.tensor([1])}] * 2}
    reading(_images(), targets)["classify/classification"].backward()
    assert reading.segment_areas.fc.weight.grad.abs().sum() > 0
    assert all(parameter.grad is None for parameter in reading.tasks["segment"].parameters())


def test_needs_both_heads():
    with pytest.raises(MobileVisionError, match="classify_from_segment needs the classify and segment heads"):
        build_multitask(width=WIDTH, tasks="classify,detect", num_classes=4, classify_from_segment=True)


def test_onnx_runtime_computes_the_same_classifier_logits(tmp_path):
    _, reading = _models()
    path = export_onnx(reading, tmp_path / "mt.onnx", imgsz=IMGSZ,
                       output_names=output_names(reading))
    images = _images(3)
    with torch.no_grad():
        expected = reading.raw_outputs(images)[0]
    got = ort_session(path, threads=1).run(["classify_logits"], {"images": images.numpy()})[0]
    assert (torch.from_numpy(got) - expected).abs().max() <= 1e-4
