"""TF object detection's SSD releases, without TensorFlow: each fixture is the detection zoo's
graph (SSDLite on MobileNetV2 width 0.35, SSD on MobileNetV1 width 0.25; 96 px, 11 classes) with
random sparse weights, saved and run by TensorFlow itself, anchors, box decoding and NMS included
(benchmarks/tf_exactness.py --arch ssdlite|ssd --width 0.35|0.25 --res 96 --classes 11
--sparsity 0.97). Through our loader our detector must give TensorFlow's raw outputs and its final
detections."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mobilevision.backbones.tf_checkpoint import read_tf_checkpoint
from mobilevision.cli.main import main
from mobilevision.tasks.detect.tf_od_keys import od_to_our_keys
from mobilevision.tasks.registry import build_model
from mobilevision.tasks.tf_releases import TF_SSD_POSTPROCESSING, releases

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tf"
CASES = {  # fixture folder: (our model, width, TF-slim scope)
    "ssdlite_mobilenet_v2_0.35_96": ("ssdlite_mobilenet_v2", 0.35, "MobilenetV2"),
    "ssd_mobilenet_v1_0.25_96": ("ssd_mobilenet_v1", 0.25, "MobilenetV1"),
}
TF_ORDER = [1, 0, 3, 2]  # our (x, y, ...) -> TF's (y, x, ...)
RELEASE_SCORE_THRESHOLD = 0.3  # the releases' pipeline.config, which the fixture's NMS used


def _detector(fixture: str, *, tf_conventions: bool = True):
    model_name, width, scope = CASES[fixture]
    archive = next((FIXTURES / fixture).glob("*.tgz"))
    model = build_model(model_name, width=width, num_classes=11, backbone_options={"tf_conventions": tf_conventions},
                        **{**TF_SSD_POSTPROCESSING, "score_threshold": RELEASE_SCORE_THRESHOLD})
    model.load_state_dict(od_to_our_keys(read_tf_checkpoint(archive), model.state_dict(), source=str(archive),
                                         scope=scope))
    reference = dict(np.load(FIXTURES / fixture / "tensorflow.npz", allow_pickle=False))
    images = torch.from_numpy(reference["pixels"]).permute(0, 3, 1, 2) / np.float32(127.5) - 1
    return model.eval(), images, reference


@pytest.mark.parametrize("fixture", CASES)
def test_a_tf_ssd_release_computes_what_tensorflow_computes(fixture):
    model, images, reference = _detector(fixture)
    size = tuple(images.shape[-2:])
    with torch.no_grad():
        box_deltas, class_logits = model.raw_outputs(images)
        found = model.postprocess((box_deltas, class_logits), image_size=size)[0]
    np.testing.assert_allclose(model.anchors(size).numpy()[:, TF_ORDER] / size[0], reference["anchors"], atol=1e-6)
    np.testing.assert_allclose(box_deltas.numpy()[..., TF_ORDER], reference["boxes"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(class_logits.numpy(), reference["logits"], atol=1e-4, rtol=0)
    # The final detections, as sets: boxes of equal score may come in either order.
    boxes = found["boxes"].numpy()[:, TF_ORDER] / size[0]
    ours = np.lexsort((boxes[:, 1], boxes[:, 0], found["labels"].numpy()))
    theirs = np.lexsort((reference["final_boxes"][:, 1], reference["final_boxes"][:, 0], reference["final_classes"]))
    assert len(ours) == len(theirs) == 100
    np.testing.assert_array_equal(found["labels"].numpy()[ours], reference["final_classes"][theirs])
    np.testing.assert_allclose(boxes[ours], reference["final_boxes"][theirs], atol=1e-4, rtol=0)
    np.testing.assert_allclose(found["scores"].numpy()[ours], reference["final_scores"][theirs], atol=1e-4, rtol=0)


@pytest.mark.parametrize("fixture", CASES)
def test_without_tfs_padding_the_same_weights_compute_something_else(fixture):
    model, images, reference = _detector(fixture, tf_conventions=False)
    with torch.no_grad():
        box_deltas, _ = model.raw_outputs(images)
    assert np.abs(box_deltas.numpy()[..., TF_ORDER] - reference["boxes"]).max() > 1e-2


def test_the_detection_zoos_releases_by_name():
    ssdlite, ssd = releases()["tf:ssdlite_mobilenet_v2_coco"], releases()["tf:ssd_mobilenet_v1_coco"]
    assert (ssdlite.accuracy, ssd.accuracy) == (22.0, 21.0) and ssdlite.metric == ssd.metric == "mAP"
    assert ssdlite.url.endswith("ssdlite_mobilenet_v2_coco_2018_05_09.tar.gz")
    assert ssd.url.endswith("ssd_mobilenet_v1_coco_2018_01_28.tar.gz")
    names = ssdlite.class_names()  # TF's label i is COCO category id i, as torchvision's
    assert len(names) == 90 and (names[0], names[11], names[89]) == ("person", "N/A", "toothbrush")
    # V1 paper Table 13, SSD 300 on MobileNet: 6.8M parameters.
    model = build_model(ssd.model, **ssd.model_kwargs())
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(6.8e6, rel=0.01)


def test_another_detectors_archive_is_refused_naming_it(tmp_path, capsys):
    name = "tf:ssdlite_mobilenet_v2_coco"
    path = Path(torch.hub.get_dir()) / "checkpoints" / releases()[name].file_name
    path.parent.mkdir(parents=True)
    path.write_bytes(next((FIXTURES / "ssd_mobilenet_v1_0.25_96").glob("*.tgz")).read_bytes())
    image = tmp_path / "image.jpg"
    cv2.imwrite(str(image), np.full((64, 64, 3), 127, np.uint8))
    capsys.readouterr()
    code = main(["detect", "predict", str(image), "--weights", name, "--device", "cpu"])
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(errors) == 1 and str(path) in errors[0]
    assert "variables are missing (FeatureExtractor/MobilenetV2/" in errors[0]
    assert not list((Path(torch.hub.get_dir()) / "mobilevision").glob("*"))
