"""`data synth` options: data unlike the default (object and image sizes, image shapes, fewer and
imbalanced classes), while the defaults keep every byte of the built-in dataset."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from mobilevision.cli import main
from mobilevision.datasets.stats import dataset_stats
from mobilevision.datasets.synth.generate import generate_dataset
from mobilevision.datasets.synth.options import SceneOptions
from mobilevision.datasets.synth.scene import render_scene
from mobilevision.errors import MobileVisionError

# The digest of 12 scenes as the generator drew them before it had options (commit 78d1bc6):
# images, class maps, object views and boxes. It pins the RNG streams and the drawing, so it holds
# for one OpenCV build; a new OpenCV may redraw anti-aliased edges and ask for a new digest.
DEFAULT_SCENES_SHA256 = "89fdb6a41c13cf7cf21cf936c05bc665ee16ef558cb1e4e81073aca6dca1b08c"


def test_default_scenes_are_the_ones_drawn_before_the_options():
    digest = hashlib.sha256()
    for index in range(12):
        scene = render_scene(seed=5, index=index, size=96)
        digest.update(scene.image.tobytes())
        digest.update(scene.class_map().tobytes())
        digest.update(scene.object_view().tobytes())
        for instance in scene.instances:
            digest.update(instance.box.tobytes())
    assert digest.hexdigest() == DEFAULT_SCENES_SHA256


def test_scenes_follow_the_options():
    options = SceneOptions(object_size=(0.05, 0.12), image_size=(100, 200), aspect_ratio=(0.5, 2.0), classes=3,
                           imbalance=10.0)
    scenes = [render_scene(seed=1, index=index, size=320, options=options) for index in range(80)]
    shapes = np.array([scene.image.shape[:2] for scene in scenes])
    sides, ratios = np.sqrt(shapes.prod(axis=1)), shapes[:, 1] / shapes[:, 0]
    assert 99 <= sides.min() and sides.max() <= 201 and sides.max() - sides.min() > 50
    assert 0.49 <= ratios.min() < 0.8 and 1.25 < ratios.max() <= 2.05
    for scene in scenes:
        for instance in scene.instances:
            extent = max(instance.box[2] - instance.box[0], instance.box[3] - instance.box[1])
            # A rotated rectangle of length `diameter` reaches up to sqrt(2) diameter across its box.
            assert extent <= np.sqrt(2) * 0.12 * min(scene.image.shape[:2]) + 2
    labels = np.array([instance.label for scene in scenes for instance in scene.instances])
    counts = np.bincount(labels, minlength=4)[1:]
    assert counts[0] > 4 * counts[2] > 0 and len(counts) == 3  # 10:1 between the first and the last


def test_generated_dataset_with_options_reads_back(tmp_path):
    options = SceneOptions(classes=2, aspect_ratio=(2.0, 2.0))
    root = generate_dataset(tmp_path / "data", images=6, size=96, workers=1, options=options)
    marker = json.loads((root / "mobilevision_synth.json").read_text())
    assert marker["class_names"] == ["circle", "rectangle"] and marker["scene_options"]["classes"] == 2
    train = dataset_stats(root)[0].summary()
    assert list(train["instances_per_class"]) == ["circle", "rectangle"]
    assert train["image_width"]["min"] == 136 and train["image_height"]["max"] == 68  # 96 px area, 2:1
    plain = generate_dataset(tmp_path / "plain", images=2, size=96, workers=1)
    assert "scene_options" not in json.loads((plain / "mobilevision_synth.json").read_text())


def test_synth_command_takes_the_options(tmp_path):
    assert main(["data", "synth", "--out", str(tmp_path / "d"), "--images", "4", "--size", "96", "--workers", "1",
                 "--object-size", "0.05", "0.2", "--image-size", "80", "120", "--aspect-ratio", "0.5", "2",
                 "--classes", "3", "--imbalance", "5"]) == 0
    marker = json.loads((tmp_path / "d" / "mobilevision_synth.json").read_text())
    assert marker["scene_options"] == {"object_size": [0.05, 0.2], "image_size": [80, 120],
                                       "aspect_ratio": [0.5, 2.0], "classes": 3, "imbalance": 5.0}
    assert main(["data", "synth", "--out", str(tmp_path / "e"), "--images", "4", "--classes", "9"]) == 2


@pytest.mark.parametrize("bad", [{"object_size": (0.5, 0.2)}, {"classes": 7}, {"imbalance": 0.5},
                                 {"image_size": (32, 64)}, {"aspect_ratio": (0.0, 1.0)}])
def test_bad_options_are_one_line_errors(bad):
    with pytest.raises(MobileVisionError):
        SceneOptions(**bad)
