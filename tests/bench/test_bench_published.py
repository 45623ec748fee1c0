"""`bench --weights torchvision:... --compare torchvision`: torchvision's own model loaded with the
same published file is timed beside ours, its outputs checked against ours first, and ours / theirs
reported. The files are torchvision's models with random weights (tests/published_files.py)."""

import json

import pytest

from mobilevision.bench.anchors import published_anchor
from mobilevision.bench.cases import checkpoint_case
from mobilevision.bench.runtimes import torchvision_model
from mobilevision.bench.same_outputs import compare_outputs
from mobilevision.cli import main
from tests.published_files import DEEPLAB, LARGE, LRASPP, SSDLITE, place

FAST = ["--iters", "2", "--warmup", "1", "--batch", "1", "--batch-iters", "1", "--calib-images", "1",
        "--threads", "1"]


@pytest.mark.slow  # 20-40 s on 2 cores, idle to busy: the ONNX export and INT8 copy every case gets
def test_a_published_detector_is_timed_beside_torchvisions_own_model_with_the_same_file(monkeypatch, tmp_path, capsys):
    place(monkeypatch, SSDLITE)
    assert main(["bench", "--weights", SSDLITE, "--compare", "torchvision", "--runtimes", "eager", *FAST,
                 "--project", str(tmp_path), "--name", "published"]) == 0
    results = json.loads((tmp_path / "bench" / "published" / "results.json").read_text())
    # Only the anchor of the published model: the random-weight anchors belong beside fresh models.
    ours, theirs = results["rows"]
    assert (ours["model"], theirs["model"]) == ("ssdlite320_mobilenet_v3_large", "tv:ssdlite320_mobilenet_v3_large.COCO_V1")
    assert ours["runtime"] == theirs["runtime"] == "eager" and theirs["median_ms"] > 0
    assert theirs["same_outputs"] is True and theirs["same_detections"] is True
    assert theirs["outputs_max_abs_diff"] <= 1e-4
    (ratio,) = results["ratios"]
    assert ratio["ratio"] == pytest.approx(ours["median_ms"] / theirs["median_ms"]) and ratio["met"] is None
    printed = capsys.readouterr().out
    assert "tv:ssdlite320_mobilenet_v3_large.COCO_V1-320, torchvision's own model with the same published file: " \
           "same outputs as ours" in printed
    assert f"| {SSDLITE} eager / torchvision's own, same file, eager |" in printed


@pytest.mark.parametrize(("name", "weights"), [(DEEPLAB, "COCO_WITH_VOC_LABELS_V1"),
                                               (LRASPP, "COCO_WITH_VOC_LABELS_V1"), (LARGE, "IMAGENET1K_V2")])
def test_segmenters_and_classifiers_compute_what_torchvision_computes_and_other_weights_do_not(name, weights,
                                                                                             monkeypatch):
    place(monkeypatch, name)
    case = checkpoint_case(name, imgsz=64)  # any size: segmenters and classifiers take any
    anchor = published_anchor(case)
    assert anchor.label == f"tv:{name.split(':')[1]}.{weights}-64"
    check = compare_outputs(case, torchvision_model(anchor.name, state_dict=anchor.state_dict), name=anchor.name,
                            seed=0)
    assert check["same_outputs"] is True and check["same_detections"] is None
    # The check sees a model that differs: torchvision's own initialisation instead of the file.
    other = compare_outputs(case, torchvision_model(anchor.name), name=anchor.name, seed=0)
    assert other["same_outputs"] is False and other["outputs_max_abs_diff"] > 1e-2


def test_the_detector_is_compared_only_at_the_size_torchvision_runs_it(monkeypatch, tmp_path, capsys):
    place(monkeypatch, SSDLITE)
    assert main(["bench", "--weights", SSDLITE, "--imgsz", "256", "--compare", "torchvision", "--runtimes", "eager",
                 "--project", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "torchvision's ssdlite320_mobilenet_v3_large runs at 320 px only" in lines[0], lines
