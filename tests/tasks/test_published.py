"""torchvision's published detector, segmenters and classifiers, loaded by name, compute what
torchvision's own models compute with the same file: raw outputs, final detections and class maps,
in PyTorch and through our ONNX export. Bad files are refused in one line and leave nothing in the cache.

The files are torchvision's models with random weights, saved where a download would put them
(tests/published_files.py); nothing is downloaded.
"""

import email.message
import io
import json
import urllib.response

import cv2
import numpy as np
import pytest
import torch

from mobilevision.cli.main import main
from mobilevision.deploy.export import export
from mobilevision.deploy.onnx_model import OnnxRuntimeModel
from mobilevision.deploy.runtime import load_trained
from mobilevision.tasks.published import converted_path, published
from tests.published_files import (
    DEEPLAB,
    LARGE,
    LRASPP,
    SMALL,
    SSDLITE,
    expect_hash_of,
    hub_file,
    place,
    torchvision_model,
)

# Captured before the autouse fixture replaces it: the truncated-download test runs torch.hub's
# real download code against a fake server.
REAL_DOWNLOAD = torch.hub.download_url_to_file
SIZE = 320  # the detector's size; the segmenters take any, and 320 keeps them fast
TOLERANCE = 1e-5


def _images(seed: int = 1) -> torch.Tensor:
    """(2, 3, SIZE, SIZE) images in [0, 1], as torchvision's models take them."""
    return torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def _normalised(name: str, images: torch.Tensor) -> torch.Tensor:
    """The images as our models take them: normalised with the preprocessing the weights carry."""
    entry = published(name)
    mean, std = torch.tensor(entry.mean)[:, None, None], torch.tensor(entry.std)[:, None, None]
    return (images - mean) / std


def _torchvision_raw(name: str, model, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """torchvision's raw head outputs: SSD's (box regression, class logits) before decoding,
    a segmenter's full-size logits, a classifier's logits."""
    if name == SSDLITE:
        # torchvision's transform resizes to 320 (the identity here) and normalises as we do
        features = list(model.backbone(_normalised(name, images)).values())
        head = model.head(features)
        return head["bbox_regression"], head["cls_logits"]
    outputs = model(_normalised(name, images))
    return (outputs["out"] if isinstance(outputs, dict) else outputs,)


def _as_tuple(outputs) -> tuple[torch.Tensor, ...]:
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def _assert_same_detections(ours: list[dict], theirs: list[dict], *, box_tolerance: float) -> None:
    """The same boxes in the same order: torchvision's labels are COCO ids, ours too."""
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert len(reference["boxes"]) > 0
        assert torch.equal(mine["labels"], reference["labels"])
        torch.testing.assert_close(mine["scores"], reference["scores"], atol=TOLERANCE, rtol=0)
        torch.testing.assert_close(mine["boxes"], reference["boxes"], atol=box_tolerance, rtol=0)


@pytest.mark.parametrize("name", [SSDLITE, DEEPLAB, LRASPP, LARGE, SMALL])
def test_loaded_by_name_computes_what_torchvision_computes(name, monkeypatch):
    reference = place(monkeypatch, name)
    trained = load_trained(name, device="cpu", runtime="torch", log=lambda line: None)
    assert trained.weights == name and trained.task == published(name).task
    network = trained.network.eval()
    images = _images()
    with torch.no_grad():
        ours = _as_tuple(network.raw_outputs(_normalised(name, images)))
        theirs = _torchvision_raw(name, reference, images)
        for mine, expected in zip(ours, theirs, strict=True):
            torch.testing.assert_close(mine, expected, atol=TOLERANCE, rtol=0)
        if name == SSDLITE:  # torchvision's score threshold, top-k, NMS and its cap of 300
            _assert_same_detections(network(_normalised(name, images)), reference(list(images)), box_tolerance=1e-4)
        elif trained.task == "segment":
            assert torch.equal(network(_normalised(name, images)), theirs[0].argmax(1))


def test_class_names_and_preprocessing_travel_with_the_weights(monkeypatch):
    place(monkeypatch, SSDLITE)
    detector = load_trained(SSDLITE, device="cpu", runtime="torch")
    # COCO's 91 ids with their gaps: label i is COCO category id i, background dropped
    assert len(detector.class_names) == 90 and detector.class_names[0] == "person"
    assert detector.class_names[11] == "N/A" and detector.class_names[89] == "toothbrush"
    assert detector.preprocessing == {"mean": [0.5] * 3, "std": [0.5] * 3, "input_size": 320}
    place(monkeypatch, LRASPP)
    segmenter = load_trained(LRASPP, device="cpu", runtime="torch")
    assert segmenter.class_names[:2] == ["background", "aeroplane"] and len(segmenter.class_names) == 21
    assert segmenter.preprocessing["input_size"] == 520
    place(monkeypatch, SMALL)
    classifier = load_trained(SMALL, device="cpu", runtime="torch")
    assert classifier.class_names[0] == "tench" and len(classifier.class_names) == 1000
    assert classifier.preprocessing["input_size"] == 224


@pytest.mark.parametrize("name", [SSDLITE, LRASPP, DEEPLAB])
def test_the_onnx_export_computes_what_torchvision_computes(name, monkeypatch, tmp_path):
    reference = place(monkeypatch, name)
    target = tmp_path / "model.onnx"
    result = export(name, fmt="onnx", imgsz=SIZE, int8=False, calib=None, calib_images=0, out=str(target))
    assert target.is_file() and result["max_abs_diff"] <= 1e-3
    network = OnnxRuntimeModel(target, threads=1)
    images = _images(seed=2)
    with torch.no_grad():
        theirs = _torchvision_raw(name, reference, images)
        ours = _as_tuple(network.raw_outputs(_normalised(name, images)))
        for mine, expected in zip(ours, theirs, strict=True):
            torch.testing.assert_close(mine, expected, atol=TOLERANCE, rtol=0)
        if name == SSDLITE:
            _assert_same_detections(network(_normalised(name, images)), reference(list(images)), box_tolerance=1e-3)
        else:
            assert torch.equal(network(_normalised(name, images)), theirs[0].argmax(1))


# --- bad input: one line, exit 2, nothing left in the cache -----------------------------------


def _predict(tmp_path, capsys, name: str = SSDLITE) -> tuple[int, list[str]]:
    image = tmp_path / "image.jpg"
    cv2.imwrite(str(image), np.full((64, 64, 3), 127, np.uint8))
    capsys.readouterr()
    code = main(["detect", "predict", str(image), "--weights", name, "--device", "cpu", "--json"])
    return code, capsys.readouterr().err.strip().splitlines()


def _cache_files() -> set[str]:
    hub = hub_file(SSDLITE).parent.parent
    return {str(path.relative_to(hub)) for path in hub.rglob("*") if path.is_file()} if hub.is_dir() else set()


def test_offline_names_the_url_and_the_path_to_copy_the_file_to(tmp_path, capsys):
    code, errors = _predict(tmp_path, capsys)
    assert code == 2 and len(errors) == 1
    assert published(SSDLITE).meta()["url"] in errors[0] and str(hub_file(SSDLITE)) in errors[0]
    assert _cache_files() == set()


def test_a_file_with_the_wrong_hash_is_refused_naming_it(monkeypatch, tmp_path, capsys):
    place(monkeypatch, SSDLITE)
    path = hub_file(SSDLITE)
    path.write_bytes(path.read_bytes()[:-1000])  # cut short: a copy that did not finish
    code, errors = _predict(tmp_path, capsys)
    assert code == 2 and len(errors) == 1 and str(path) in errors[0] and "SHA-256" in errors[0]
    assert _cache_files() == {f"checkpoints/{path.name}"}  # the user's file is theirs; nothing converted


def test_a_truncated_download_leaves_nothing_in_the_cache(monkeypatch, tmp_path, capsys):
    whole = tmp_path / "whole.pth"
    torch.save(torchvision_model(SSDLITE).state_dict(), whole)
    expect_hash_of(monkeypatch, SSDLITE, path=whole)

    def cut_short(request):
        """The server announces the whole file and sends half of it."""
        headers = email.message.Message()
        headers["Content-Length"] = str(whole.stat().st_size)
        return urllib.response.addinfourl(io.BytesIO(whole.read_bytes()[: whole.stat().st_size // 2]),
                                          headers=headers, url=request.full_url)

    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)
    monkeypatch.setattr(torch.hub, "urlopen", cut_short)
    code, lines = _predict(tmp_path, capsys)
    errors = [line for line in lines if "%|" not in line]  # the download's progress bar shows first
    assert len(lines) > len(errors)
    assert code == 2 and len(errors) == 1 and "wrong SHA-256" in errors[0] and "nothing was kept" in errors[0]
    assert _cache_files() == set()


def test_another_models_file_is_refused_naming_it(monkeypatch, tmp_path, capsys):
    lraspp = torchvision_model(LRASPP).state_dict()
    place(monkeypatch, SSDLITE, state_dict=lraspp)
    code, errors = _predict(tmp_path, capsys)
    assert code == 2 and len(errors) == 1 and str(hub_file(SSDLITE)) in errors[0]
    assert "another model's file" in errors[0]
    assert not converted_path(published(SSDLITE)).exists()


def test_a_file_for_80_classes_is_refused_naming_the_count(monkeypatch, tmp_path, capsys):
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    coco80 = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=80).state_dict()
    place(monkeypatch, SSDLITE, state_dict=coco80)
    code, errors = _predict(tmp_path, capsys)
    assert code == 2 and len(errors) == 1
    assert str(hub_file(SSDLITE)) in errors[0] and "80 classes" in errors[0] and "91" in errors[0]
    assert not converted_path(published(SSDLITE)).exists()


def _coco_val(root, *, images: torch.Tensor) -> None:
    """A COCO tree (val split) of `images` (N, 3, 320, 320) in [0, 1], with COCO's 80 categories
    under their own ids (1..90, with gaps) and a few boxes of the highest and of gap-following ids."""
    categories = [{"id": category_id, "name": name} for category_id, name
                  in enumerate(published(SSDLITE).meta()["categories"]) if name not in ("__background__", "N/A")]
    (root / "val").mkdir(parents=True)
    (root / "annotations").mkdir()
    entries, annotations = [], []
    for image_id, image in enumerate(images, start=1):
        pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        cv2.imwrite(str(root / "val" / f"{image_id}.png"), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        entries.append({"id": image_id, "file_name": f"{image_id}.png", "width": SIZE, "height": SIZE})
        for category_id, box in ((1, [10, 20, 100, 150]), (13, [150, 40, 60, 60]), (90, [200, 200, 80, 50])):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category_id,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    document = {"images": entries, "annotations": annotations, "categories": categories}
    (root / "annotations" / "instances_val.json").write_text(json.dumps(document))


def test_val_on_coco_scores_the_detectors_own_category_ids(monkeypatch, tmp_path, capsys):
    """torchvision's detector labels boxes with COCO ids, our COCO reader with ranks 1..80: val
    renumbers, so the results file holds the ids torchvision's model gives, with its scores."""
    reference = place(monkeypatch, SSDLITE)
    images = (_images(seed=3) * 255).round() / 255  # what a PNG keeps
    _coco_val(tmp_path / "coco", images=images)
    assert main(["detect", "val", "--data", str(tmp_path / "coco"), "--weights", SSDLITE, "--device", "cpu",
                 "--workers", "0", "--project", str(tmp_path / "runs"), "--name", "coco"]) == 0
    results = json.loads((tmp_path / "runs" / "detect" / "coco" / "predictions.json").read_text())
    with torch.no_grad():
        expected = reference(list(images))
    for image_id, detections in enumerate(expected, start=1):
        ours = sorted((r for r in results if r["image_id"] == image_id), key=lambda r: -r["score"])[:20]
        assert [r["category_id"] for r in ours] == detections["labels"][:20].tolist()
        np.testing.assert_allclose([r["score"] for r in ours], detections["scores"][:20].numpy(), atol=1e-4)
