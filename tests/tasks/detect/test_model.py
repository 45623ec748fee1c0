"""The SSDLite task model: training and eval contracts, learning one batch.

Export of raw_outputs to ONNX and ONNX Runtime parity (1e-4, dynamic batch) are checked for both
registered detectors by tests/tasks/test_every_model.py."""

import pytest
import torch
from torchvision.ops import box_iou

import mobilevision.tasks.detect.model as detect_model
from mobilevision.analysis.complexity import count_madds, count_params
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.detect.model import build_ssdlite
from mobilevision.tasks.detect.postprocess import postprocess_detections
from mobilevision.tasks.registry import build_model, model_entry


def _targets():
    return [
        {"boxes": torch.tensor([[8.0, 10.0, 40.0, 50.0], [30.0, 30.0, 60.0, 62.0]]), "labels": torch.tensor([1, 2])},
        {"boxes": torch.tensor([[2.0, 40.0, 20.0, 60.0]]), "labels": torch.tensor([3])},
    ]


def _tiny(**kwargs):
    torch.manual_seed(0)
    return build_ssdlite(backbone="mobilenet_v2", width=0.35, num_classes=4, imgsz=64, **kwargs)


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "mobilenet_v1"])
def test_training_mode_returns_named_losses_that_backpropagate(backbone):
    model = build_ssdlite(backbone=backbone, width=0.25, num_classes=4, imgsz=64).train()
    losses = model(torch.randn(2, 3, 64, 64), _targets())
    assert set(losses) == {"bbox_regression", "classification"}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.head.parameters())


def test_eval_mode_returns_detections_in_original_coordinates():
    model = _tiny().eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        detections = model(images, orig_sizes=[(480, 640), (64, 64)])
        box_deltas, class_logits = model.raw_outputs(images)
    assert box_deltas.shape == (2, 3 * 4 * 4 + 6 * (2 * 2 + 4), 4)
    assert class_logits.shape == (2, box_deltas.shape[1], 4)
    assert len(detections) == 2 and len(detections[0]["boxes"]) == 100
    assert detections[0]["boxes"][:, 2].max() > 64 and (detections[0]["boxes"][:, 2] <= 640).all()
    assert (detections[0]["boxes"][:, 3] <= 480).all()
    # The same raw outputs through the shared post-processing give the same detections.
    again = postprocess_detections(box_deltas, class_logits, model.anchors((64, 64)), image_size=(64, 64),
                                   orig_sizes=[(480, 640), (64, 64)])
    torch.testing.assert_close(again[0]["boxes"], detections[0]["boxes"])


def test_torchvision_anchors_and_focal_loss_options():
    model = _tiny(ssdlite={"anchor_layout": "torchvision", "class_loss": "focal"}, box_loss="l1")
    images = torch.randn(2, 3, 64, 64)
    assert model.anchors((64, 64)).shape[0] == 6 * (16 + 4 + 1 + 1 + 1 + 1)
    losses = model.train()(images, _targets())
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    with torch.no_grad():
        detections = model.eval()(images)
    # Focal-loss logits start at a 1% prior and are read with a sigmoid.
    assert 0.005 < detections[0]["scores"].max() < 0.05


def _keywords_passed(monkeypatch, function: str, keyword: str) -> list:
    """The values of `keyword` in every later call of detect.model's `function` (which still runs)."""
    seen, original = [], getattr(detect_model, function)

    def spy(*args, **kwargs):
        seen.append(kwargs[keyword])
        return original(*args, **kwargs)

    monkeypatch.setattr(detect_model, function, spy)
    return seen


def test_match_iou_reaches_the_loss(monkeypatch):
    seen = _keywords_passed(monkeypatch, "multibox_loss", "iou_threshold")
    _tiny(ssdlite={"match_iou": 0.35}).train()(torch.randn(2, 3, 64, 64), _targets())
    assert seen == [0.35]
    with pytest.raises(MobileVisionError, match="match_iou"):
        build_ssdlite(ssdlite={"match_iou": 0.0})


def test_nms_iou_reaches_the_postprocessing(monkeypatch):
    seen = _keywords_passed(monkeypatch, "postprocess_detections", "nms_iou")
    with torch.no_grad():
        _tiny(ssdlite={"nms_iou": 0.45}).eval()(torch.randn(1, 3, 64, 64))
    assert seen == [0.45]
    with pytest.raises(MobileVisionError, match="nms_iou"):
        build_ssdlite(ssdlite={"nms_iou": 1.5})


def test_training_without_targets_and_bad_settings_fail_clearly():
    with pytest.raises(MobileVisionError, match="targets"):
        _tiny().train()(torch.randn(2, 3, 64, 64))
    with pytest.raises(MobileVisionError, match="output_stride"):
        build_ssdlite(output_stride=16)
    with pytest.raises(MobileVisionError, match="anchor layout"):
        build_ssdlite(ssdlite={"anchor_layout": "yolo"})


def test_registry_entries_build_and_count():
    for name in ("ssdlite_mobilenet_v2", "ssdlite_mobilenet_v1"):
        entry = model_entry(name)
        assert (entry.task, entry.imgsz, entry.num_classes) == ("detect", 300, 91)
    model = build_model("ssdlite_mobilenet_v1", width=0.25, num_classes=91)
    assert count_madds(model, imgsz=300, forward=model.raw_outputs) > count_madds(model.backbone, imgsz=300)


@pytest.fixture
def one_thread():
    """A 64 px batch is a few hundred tiny ops: one thread runs them faster than two that contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_overfits_one_batch(one_thread):
    model = _tiny().train()
    images = torch.randn(2, 3, 64, 64)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(100):
        loss = sum(model(images, _targets()).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.15 * history[0], (history[0], history[-1])
    # And it now finds the objects it was shown. BatchNorm stays on batch statistics: after 100
    # steps its running averages still lag behind the weights.
    with torch.no_grad():
        detections = postprocess_detections(*model.raw_outputs(images), model.anchors((64, 64)), image_size=(64, 64))
    for detection, target in zip(detections, _targets()):
        count = len(target["labels"])
        assert sorted(detection["labels"][:count].tolist()) == sorted(target["labels"].tolist())
        assert detection["scores"][count - 1] > 0.9
        assert box_iou(detection["boxes"][:count], target["boxes"]).max(dim=1).values.min() > 0.8


def test_auxiliary_segmentation_loss_is_the_multitask_models_and_leaves_predictions_alone():
    """--aux-segment's detector: its losses equal the multi-task model's (detect + segment, DeepLab's
    loss on the stride-4 grid) built from the same weights, and in eval mode it predicts exactly
    what the plain SSDLite with its detection weights predicts."""
    from mobilevision.tasks.multitask.model import build_multitask

    model = _tiny(aux_segment_classes=5, aux_segment_weight=0.5)
    class_maps = torch.randint(0, 5, (2, 64, 64))
    class_maps[0, :8] = 255  # ignored pixels
    targets = [{**target, "class_map": class_map} for target, class_map in zip(_targets(), class_maps)]
    images = torch.randn(2, 3, 64, 64)
    torch.manual_seed(1)  # the same dropout masks in both models' DeepLab heads
    losses = model.train()(images, targets)
    assert set(losses) == {"bbox_regression", "classification", "aux_segment"}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.aux_segment.parameters())

    reference = build_multitask(width=0.35, tasks="detect,segment", num_classes={"detect": 4, "segment": 5},
                                loss_weights={"segment": 0.5}, imgsz=64, deeplab={"loss_stride": 4})
    prefixes = {"backbone.": "backbone.", "head.": "tasks.detect.head.", "aux_segment.": "tasks.segment."}
    renamed = {prefixes[prefix] + key[len(prefix):]: value for key, value in model.state_dict().items()
               for prefix in prefixes if key.startswith(prefix)}
    reference.load_state_dict(renamed)
    torch.manual_seed(1)
    expected = reference.train()(images, {"detect": _targets(), "segment": class_maps})
    torch.testing.assert_close(losses["aux_segment"], expected["segment/segmentation"])
    torch.testing.assert_close(losses["classification"], expected["detect/classification"])

    plain = _tiny()
    assert count_params(model) == count_params(plain)  # the counted detector leaves the training-only head out
    plain.load_state_dict({key: value for key, value in model.state_dict().items()
                           if not key.startswith("aux_segment.")})
    with torch.no_grad():
        for ours, theirs in zip(model.eval()(images), plain.eval()(images)):
            torch.testing.assert_close(ours["boxes"], theirs["boxes"])
            torch.testing.assert_close(ours["scores"], theirs["scores"])
