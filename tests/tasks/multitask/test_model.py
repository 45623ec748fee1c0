"""The multi-task model: each head answers as its single-task model built from the same weights,
from exactly one backbone forward per batch, and the whole model exports as one ONNX graph."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import pytest
import torch

from mobilevision.cli import main
from mobilevision.deploy.onnx_export import output_names
from mobilevision.deploy.onnx_model import OnnxRuntimeModel, read_metadata
from mobilevision.tasks.multitask.assemble import assemble
from mobilevision.tasks.multitask.model import build_multitask
from mobilevision.tasks.registry import load_checkpoint

from .conftest import IMGSZ, SINGLE_TASK, WIDTH


@pytest.fixture(scope="module")
def assembled(task_checkpoints, tmp_path_factory):
    """(single-task models, the multi-task checkpoint assembled from their checkpoints)."""
    models, paths = task_checkpoints
    out = tmp_path_factory.mktemp("assembled") / "mt.pt"
    assemble([str(path) for path in paths.values()], out=str(out))
    return models, out


def _images(count: int = 2) -> torch.Tensor:
    return torch.randn(count, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(1))


def test_each_head_equals_its_single_task_model(assembled):
    models, path = assembled
    multitask, checkpoint = load_checkpoint(path)
    assert checkpoint["model_kwargs"]["tasks"] == ["classify", "detect", "segment"]
    assert checkpoint["class_names"] == {task: names for task, (_, _, names) in SINGLE_TASK.items()}
    images = _images()
    with torch.no_grad():
        combined = multitask(images)
        single = {task: model(images) for task, model in models.items()}
    assert set(combined) == {"classify", "detect", "segment"}
    torch.testing.assert_close(combined["classify"], single["classify"], rtol=0, atol=1e-6)
    assert torch.equal(combined["segment"], single["segment"]) and combined["segment"].dtype == torch.int64
    # The untrained class map is one class everywhere (small initial logits): compare the logits,
    # which show a decoder that fused the wrong features.
    with torch.no_grad():
        logits = multitask.raw_outputs(images)[-1]
        torch.testing.assert_close(logits, models["segment"].raw_outputs(images), rtol=0, atol=1e-5)
    assert len(combined["detect"]) == len(single["detect"]) == 2
    for ours, theirs in zip(combined["detect"], single["detect"]):
        assert set(ours) == {"boxes", "scores", "labels"} and len(ours["boxes"]) > 0
        assert torch.equal(ours["labels"], theirs["labels"])
        torch.testing.assert_close(ours["boxes"], theirs["boxes"], rtol=0, atol=1e-5)
        torch.testing.assert_close(ours["scores"], theirs["scores"], rtol=0, atol=1e-6)


def test_training_losses_are_the_single_task_losses(assembled):
    models = copy.deepcopy(assembled[0])  # training mode updates BatchNorm statistics
    path = assembled[1]
    multitask, _ = load_checkpoint(path)
    images = _images()
    targets = {"classify": torch.tensor([1, 3]),
               "detect": [{"boxes": torch.tensor([[8.0, 10.0, 60.0, 50.0]]), "labels": torch.tensor([2])},
                          {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}],
               "segment": torch.randint(0, 6, (2, IMGSZ, IMGSZ), generator=torch.Generator().manual_seed(2))}
    def train_without_dropout(model):  # BatchNorm on batch statistics; no random masks to line up
        return model.train().apply(lambda module: module.eval() if isinstance(module, torch.nn.Dropout) else None)

    losses = {}
    for task, model in models.items():
        losses.update({f"{task}/{name}": value for name, value in train_without_dropout(model)(images, targets[task])
                       .items()})
    combined = train_without_dropout(multitask)(images, targets)
    assert set(combined) == {"classify/classification", "detect/bbox_regression", "detect/classification",
                             "segment/segmentation", "segment/aux"}
    for name, value in combined.items():
        torch.testing.assert_close(value, losses[name], rtol=1e-5, atol=1e-6)


def test_loss_weights_scale_each_task():
    model = build_multitask(width=WIDTH, tasks="classify,segment", num_classes=4,
                            loss_weights={"segment": 0.25}).train()
    images, targets = _images(), {"classify": torch.tensor([0, 1]), "segment": torch.zeros(2, IMGSZ, IMGSZ).long()}
    torch.manual_seed(0)
    weighted = model(images, targets)
    model.loss_weights = {"classify": 1.0, "segment": 1.0}
    torch.manual_seed(0)
    plain = model(images, targets)
    torch.testing.assert_close(weighted["segment/segmentation"], 0.25 * plain["segment/segmentation"])
    torch.testing.assert_close(weighted["classify/classification"], plain["classify/classification"])


@pytest.mark.parametrize("mode", ["eval", "raw_outputs", "train"])
def test_one_backbone_forward_per_image(mode):
    model = build_multitask(width=WIDTH, num_classes=5, imgsz=IMGSZ, deeplab={"decoder": True, "aux": True})
    images = _images(3)
    seen = []
    model.backbone.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[0]))
    if mode == "train":
        targets = {"classify": torch.tensor([0, 1, 2]), "segment": torch.zeros(3, IMGSZ, IMGSZ).long(),
                   "detect": [{"boxes": torch.tensor([[5.0, 5.0, 40.0, 40.0]]), "labels": torch.tensor([1])}] * 3}
        model.train()(images, targets)
    else:
        with torch.no_grad():
            (model.eval() if mode == "eval" else model.raw_outputs)(images)
    assert seen == [3]  # one call, on the whole batch: one backbone pass per image


def test_raw_outputs_split_back_per_task():
    model = build_multitask(width=WIDTH, tasks=["segment", "detect"], num_classes=3, imgsz=IMGSZ).eval()
    with torch.no_grad():
        raw = model.raw_outputs(_images())
    assert model.task_names == ("detect", "segment") and len(raw) == 3
    parts = model.split_raw_outputs(raw)
    assert parts["detect"][0].shape[-1] == 4 and parts["segment"].shape == (2, 3, IMGSZ, IMGSZ)
    only = build_multitask(width=WIDTH, tasks="classify", num_classes=3).eval()
    with torch.no_grad():
        logits = only.raw_outputs(_images())
    assert isinstance(logits, torch.Tensor) and torch.equal(only.postprocess(logits, image_size=(IMGSZ, IMGSZ))
                                                            ["classify"], logits)


def test_exports_as_one_graph_and_onnx_runtime_matches_pytorch(assembled, tmp_path):
    _, path = assembled
    onnx_path = tmp_path / "mt.onnx"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["export", "--weights", str(path), "--out", str(onnx_path), "--json"]) == 0
    assert json.loads(printed.getvalue())["max_abs_diff"] <= 1e-4
    assert read_metadata(onnx_path)["task"] == "multitask"
    runtime = OnnxRuntimeModel(onnx_path, threads=1)
    assert [output.name for output in runtime.session.get_outputs()] == [
        "classify_logits", "detect_box_deltas", "detect_class_logits", "segment_logits", "classes"]
    model, _ = load_checkpoint(path)
    images = _images(3)  # another batch size than the export's: the batch axis is dynamic
    with torch.no_grad():
        expected, predicted = model.raw_outputs(images), model(images)
    got = runtime.raw_outputs(images)
    for e, g in zip(expected, got, strict=True):
        assert e.shape == g.shape and (e - g).abs().max() <= 1e-4
    answered = runtime(images)  # the wrapper returns the PyTorch model's structures
    # The segmentation's class map is the graph's own output ("classes"), resized and argmaxed in ORT.
    assert answered["segment"].dtype == torch.int64
    assert set(answered) == set(predicted)
    torch.testing.assert_close(answered["classify"], predicted["classify"], rtol=0, atol=1e-4)
    assert answered["segment"].shape == predicted["segment"].shape
    assert (answered["segment"] == predicted["segment"]).float().mean() > 0.999
    for ours, theirs in zip(answered["detect"], predicted["detect"], strict=True):
        assert set(ours) == {"boxes", "scores", "labels"}
        torch.testing.assert_close(ours["scores"][:10], theirs["scores"][:10], rtol=0, atol=1e-4)


def test_only_a_segmenting_model_exports_a_class_map():
    assert output_names(build_multitask(width=0.35, tasks="classify,detect", num_classes=4)) == [
        "classify_logits", "detect_box_deltas", "detect_class_logits"]
    assert output_names(build_multitask(width=0.35, tasks="detect,segment", num_classes=4))[-2:] == [
        "segment_logits", "classes"]


def test_checkpoint_opens_with_weights_only(assembled):
    _, path = assembled
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["task"] == "multitask" and checkpoint["model_name"] == "multitask_mobilenet_v2"
