"""The built-in dataset: deterministic bytes, real formats, variety, and not solvable by thresholds."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
from pycocotools.coco import COCO

from mobilevision.datasets.synth.generate import generate_dataset
from mobilevision.datasets.synth.scene import MIN_SIZE_FRACTION, render_scene
from mobilevision.datasets.synth.shapes import CLASS_NAMES

from .conftest import IMAGES, SEED, SIZE


def _hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_in_any_process_layout(synth_root, tmp_path):
    # The fixture used one process; two workers render the scenes in another order.
    again = generate_dataset(tmp_path / "again", images=IMAGES, seed=SEED, size=SIZE, workers=2)
    assert _hashes(again) == _hashes(synth_root)
    other = generate_dataset(tmp_path / "other", images=4, seed=SEED + 1, size=SIZE, workers=1)
    assert _hashes(other)["voc/JPEGImages/000000.jpg"] != _hashes(synth_root)["voc/JPEGImages/000000.jpg"]


def test_layout_and_splits(synth_root):
    val = list(range(IMAGES - round(IMAGES * 0.2), IMAGES))  # the last 20% by default
    for split in ("train", "val"):
        coco = COCO(str(synth_root / "coco/annotations" / f"instances_{split}.json"))
        assert [c["name"] for c in coco.loadCats(sorted(coco.getCatIds()))] == list(CLASS_NAMES)
        names = (synth_root / "voc/ImageSets/Segmentation" / f"{split}.txt").read_text().split()
        assert names == (synth_root / "voc/ImageSets/Main" / f"{split}.txt").read_text().split()
        assert len(coco.imgs) == len(names) == (len(val) if split == "val" else IMAGES - len(val))
        assert (names == [f"{index:06d}" for index in val]) == (split == "val")
        folder_files = sorted(p.name for p in (synth_root / "folders" / split).rglob("*.jpg"))
        assert folder_files == sorted(f"{n}.jpg" for n in names)
    marker = json.loads((synth_root / "mobilevision_synth.json").read_text())
    assert marker["seed"] == SEED and marker["class_names"] == list(CLASS_NAMES) and marker["val_images"] == len(val)


def test_scenes_vary_in_count_size_class_and_colour():
    scenes = [render_scene(seed=SEED, index=i, size=320) for i in range(120)]
    counts = [len(s.instances) for s in scenes]
    assert 0 in counts and max(counts) >= 5
    instances = [inst for s in scenes for inst in s.instances]
    sides = np.array([max(inst.box[2] - inst.box[0], inst.box[3] - inst.box[1]) for inst in instances])
    assert sides.min() <= 2 * MIN_SIZE_FRACTION * 320 and sides.max() >= 0.4 * 320
    assert {inst.label for inst in instances} == set(range(1, len(CLASS_NAMES) + 1))
    # Colour is not a class cue: each class's mean colours spread over most of the cube.
    image_of = {id(inst): s.image for s in scenes for inst in s.instances}
    for label in range(1, len(CLASS_NAMES) + 1):
        colours = np.array([image_of[id(i)][i.mask].mean(0) for i in instances if i.label == label])
        assert colours.std(0).min() > 40
    # Objects overlap (the earlier one partly hidden) in a good share of the scenes.
    overlapping = [any(np.all(a.box[:2] < b.box[2:]) and np.all(b.box[:2] < a.box[2:])
                       for k, a in enumerate(s.instances) for b in s.instances[k + 1:]) for s in scenes]
    assert np.mean(overlapping) > 0.15


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_colour_thresholds_and_the_largest_blob_do_not_solve_it():
    """Best global threshold on saturation or on distance from the median colour: foreground IoU
    stays low; the largest saturated blob rarely matches the largest object's box."""
    scenes = [render_scene(seed=SEED, index=i, size=160) for i in range(60)]
    best_iou = 0.0
    for threshold in (40, 70, 100, 130, 160, 190):
        for feature in ("saturation", "distance"):
            ious = []
            for scene in scenes:
                if feature == "saturation":
                    value = cv2.cvtColor(scene.image, cv2.COLOR_RGB2HSV)[..., 1].astype(int)
                else:
                    median = np.median(scene.image.reshape(-1, 3), axis=0)
                    value = np.abs(scene.image.astype(int) - median).sum(-1) // 2
                ious.append(_iou(value > threshold, scene.class_map() > 0))
            best_iou = max(best_iou, float(np.mean(ious)))
    assert best_iou < 0.4, best_iou

    hits = []
    for scene in (s for s in scenes if s.instances):
        saturated = (cv2.cvtColor(scene.image, cv2.COLOR_RGB2HSV)[..., 1] > 100).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(saturated)
        if count < 2:
            hits.append(False)
            continue
        x, y, w, h = stats[1 + np.argmax(stats[1:, cv2.CC_STAT_AREA]), :4]
        blob = np.zeros(saturated.shape, bool)
        blob[y:y + h, x:x + w] = True
        largest = max(scene.instances, key=lambda inst: inst.mask.sum()).box.astype(int)
        target = np.zeros(saturated.shape, bool)
        target[largest[1]:largest[3], largest[0]:largest[2]] = True
        hits.append(_iou(blob, target) >= 0.5)
    assert np.mean(hits) < 0.2, np.mean(hits)


def test_object_view_centres_the_largest_object():
    for index in range(40):
        scene = render_scene(seed=SEED, index=index, size=160)
        view = scene.object_view()
        side = len(view)
        assert view.shape == (side, side, 3) and 40 <= side <= 160
        if not scene.instances:
            np.testing.assert_array_equal(view, scene.image[40:120, 40:120])
            continue
        largest = max(scene.instances, key=lambda inst: inst.mask.sum())
        x1, y1, x2, y2 = largest.box
        assert side >= min(160, max(x2 - x1, y2 - y1))
        # The view is the window centred on the largest object's box; what lies past the image
        # border is one flat colour, the rest is the scene's own pixels.
        x0, y0 = int(round((x1 + x2 - side) / 2)), int(round((y1 + y2 - side) / 2))
        inside = view[max(0, -y0):160 - y0, max(0, -x0):160 - x0]
        np.testing.assert_array_equal(inside, scene.image[max(0, y0):y0 + side, max(0, x0):x0 + side])
        outside = np.ones((side, side), bool)
        outside[max(0, -y0):160 - y0, max(0, -x0):160 - x0] = False
        if outside.any():
            assert len(np.unique(view[outside], axis=0)) == 1


def test_visible_masks_are_disjoint_and_painted():
    for index in range(60):
        scene = render_scene(seed=SEED, index=index, size=160)
        if not scene.instances:
            continue
        coverage = np.sum([inst.mask for inst in scene.instances], axis=0)
        assert coverage.max() <= 1, index
        for inst in scene.instances:
            # Each object is one colour under a gentle shading: its pixels vary far less than the image.
            assert scene.image[inst.mask].std(0).max() < 25, index
