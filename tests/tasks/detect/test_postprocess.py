"""Post-processing: original-image coordinates, per-class NMS, limits, numpy inputs."""

import numpy as np
import pytest
import torch

from mobilevision.tasks.detect.postprocess import postprocess_detections

ANCHORS = torch.tensor([
    [10.0, 10.0, 50.0, 50.0],
    [12.0, 12.0, 52.0, 52.0],   # IoU 0.82 with the first
    [60.0, 20.0, 100.0, 60.0],
    [0.0, 0.0, 128.0, 128.0],
])
NUM_CLASSES = 4


def _logits(scores_by_anchor: dict[int, tuple[int, float]]) -> torch.Tensor:
    """Logits where anchor a has class c with the given softmax probability, the rest background."""
    logits = torch.full((1, len(ANCHORS), NUM_CLASSES), -20.0)
    logits[0, :, 0] = 20.0
    for anchor, (label, probability) in scores_by_anchor.items():
        logits[0, anchor] = -20.0
        logits[0, anchor, 0] = 0.0
        logits[0, anchor, label] = float(np.log(probability / (1 - probability)))
    return logits


def test_boxes_come_back_in_original_image_coordinates():
    logits = _logits({2: (3, 0.9)})
    deltas = torch.zeros(1, len(ANCHORS), 4)
    # The network saw a 128 x 128 input; the original image was 480 high and 640 wide.
    (result,) = postprocess_detections(deltas, logits, ANCHORS, image_size=(128, 128), orig_sizes=[(480, 640)])
    assert result["labels"].tolist() == [3]
    assert result["scores"].tolist() == pytest.approx([0.9], abs=1e-4)
    assert result["boxes"][0].tolist() == pytest.approx([60 * 5, 20 * 3.75, 100 * 5, 60 * 3.75], abs=1e-3)
    assert len(result["boxes"]) == 1


def test_boxes_are_clipped_to_the_image_before_rescaling():
    logits = _logits({3: (1, 0.8)})
    deltas = torch.zeros(1, len(ANCHORS), 4)
    deltas[0, 3, 2:] = 5 * np.log(2.0)  # twice the anchor's size: (-64, -64, 192, 192)
    (result,) = postprocess_detections(deltas, logits, ANCHORS, image_size=(128, 128), orig_sizes=[(256, 512)])
    assert result["boxes"][0].tolist() == pytest.approx([0, 0, 512, 256], abs=1e-3)
    assert len(result["boxes"]) == 1


def test_nms_is_per_class():
    deltas = torch.zeros(1, len(ANCHORS), 4)
    same_class = postprocess_detections(deltas, _logits({0: (1, 0.9), 1: (1, 0.8)}), ANCHORS, image_size=(128, 128))[0]
    assert same_class["scores"].tolist() == pytest.approx([0.9], abs=1e-4)
    two_classes = postprocess_detections(deltas, _logits({0: (1, 0.9), 1: (2, 0.8)}), ANCHORS, image_size=(128, 128))[0]
    assert two_classes["labels"].tolist() == [1, 2]


def test_limits_threshold_and_numpy_inputs():
    generator = torch.Generator().manual_seed(0)
    anchors = torch.rand(500, 2, generator=generator) * 200
    anchors = torch.cat([anchors, anchors + 20], dim=1)
    deltas = torch.zeros(2, 500, 4)
    logits = torch.randn(2, 500, 6, generator=generator) * 3
    results = postprocess_detections(deltas.numpy(), logits.numpy(), anchors.numpy(), image_size=(220, 220),
                                     max_detections=50, topk_per_class=20, score_threshold=0.05)
    for result in results:
        assert len(result["boxes"]) <= 50
        assert (result["scores"] > 0.05).all()
        assert (result["scores"][:-1] >= result["scores"][1:]).all()  # best first
        assert torch.bincount(result["labels"]).max() <= 20
        assert result["labels"].min() >= 1 and result["labels"].max() <= 5


def test_nothing_above_the_threshold():
    deltas = torch.zeros(1, len(ANCHORS), 4)
    (result,) = postprocess_detections(deltas, _logits({}), ANCHORS, image_size=(128, 128))
    assert result["boxes"].shape == (0, 4) and result["labels"].dtype == torch.int64


def test_one_original_size_per_image():
    deltas = torch.zeros(2, len(ANCHORS), 4)
    with pytest.raises(ValueError, match="1 original sizes for a batch of 2"):
        postprocess_detections(deltas, torch.cat([_logits({})] * 2), ANCHORS, image_size=(128, 128), orig_sizes=[(10, 10)])


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_thresholding_top_k_and_torchvision_nms_class_by_class(seed):
    """The batched per-class NMS against the plain recipe: per class, scores above the threshold,
    the best top-k of them, torchvision's nms; then the best max_detections over all classes."""
    from torchvision.ops import box_convert, nms

    generator = torch.Generator().manual_seed(seed)
    centres = torch.rand(400, 2, generator=generator) * 200
    anchors = box_convert(torch.cat([centres, 20 + torch.rand(400, 2, generator=generator) * 60], 1), "cxcywh", "xyxy")
    deltas = torch.randn(1, 400, 4, generator=generator)
    logits = torch.randn(1, 400, 6, generator=generator) * 2
    (result,) = postprocess_detections(deltas, logits, anchors, image_size=(200, 200), score_threshold=0.2,
                                       topk_per_class=30, nms_iou=0.5, max_detections=40)

    (everything,) = postprocess_detections(deltas, logits, anchors, image_size=(200, 200), score_threshold=0.0,
                                           topk_per_class=400, nms_iou=1.0, max_detections=10**6)
    scores = logits[0].softmax(-1)[:, 1:]
    assert len(everything["scores"]) == scores.numel()  # nms_iou=1 keeps all: every decoded box is here
    boxes = {}
    for box, score, label in zip(everything["boxes"], everything["scores"], everything["labels"]):
        boxes[(int(label), round(float(score), 6))] = box
    expected = []
    for label in range(1, 6):
        class_scores = scores[:, label - 1]
        chosen = class_scores.argsort(descending=True)[:30]
        chosen = chosen[class_scores[chosen] > 0.2]
        class_boxes = torch.stack([boxes[(label, round(float(class_scores[i]), 6))] for i in chosen.tolist()])
        for index in nms(class_boxes, class_scores[chosen], 0.5).tolist():
            expected.append((float(class_scores[chosen[index]]), label, class_boxes[index]))
    expected = sorted(expected, key=lambda item: -item[0])[:40]
    assert result["scores"].tolist() == pytest.approx([score for score, _, _ in expected])
    assert result["labels"].tolist() == [label for _, label, _ in expected]
    assert torch.allclose(result["boxes"], torch.stack([box for _, _, box in expected]))


@pytest.mark.parametrize(("shift", "threshold", "max_detections"), [(-7.0, 1e-8, 100), (0.0, 0.3, 100), (-3.0, 0.05, 7),
                                                                    (-9.0, 0.05, 100)])
def test_no_cap_before_nms_equals_nms_on_every_candidate(shift, threshold, max_detections):
    """topk_per_class=0 (TF's SSD: no cap before NMS) takes each class's candidates in growing
    numbers; it must give exactly what NMS on all of them gives, whether the detections fill
    max_detections (a trained model's many low scores) or fall short of it (few above the threshold)."""
    generator = torch.Generator().manual_seed(int(-shift))
    centres = torch.rand(1500, 2, generator=generator) * 300
    anchors = torch.cat([centres - 20, centres + 20], 1)
    deltas = torch.randn(1, 1500, 4, generator=generator)
    logits = torch.randn(1, 1500, 11, generator=generator) * 2 + shift
    options = {"image_size": (300, 300), "score_activation": "sigmoid", "score_threshold": threshold,
               "nms_iou": 0.6, "max_detections": max_detections}
    (fast,) = postprocess_detections(deltas, logits, anchors, topk_per_class=0, **options)
    (everything,) = postprocess_detections(deltas, logits, anchors, topk_per_class=1500, **options)
    assert len(fast["scores"]) > 0
    for key in ("boxes", "scores", "labels"):
        assert torch.equal(fast[key], everything[key])
