"""`<task> train --weights torchvision:<name>` starts from a published model: the model trained is
the weights' (architecture and head options), all their tensors load but the class layers, which
take the data's class count, and one line says which were re-initialised.

The files are torchvision's models with random weights (tests/published_files.py); nothing is
downloaded. The built-in data has 6 object classes (7 with background), neither COCO's nor VOC's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.engine.config import config_from_options
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.published import published_checkpoint
from mobilevision.tasks.registry import build_model, get_task
from mobilevision.tasks.starting_point import load_starting_weights
from tests.published_files import DEEPLAB, LRASPP, SSDLITE, place

# SSD's class predictors sit one per level (6), each a depthwise conv (kept) and a pointwise conv
# of anchors x classes outputs; LR-ASPP classifies twice, on the stride-8 and the last features.
CLASS_LAYERS = {SSDLITE: [f"head.class_predictors.{level}.pointwise" for level in range(6)],
                LRASPP: ["head.high_classifier", "head.low_classifier"], DEEPLAB: ["head.classifier"]}
TASKS = {SSDLITE: "detect", LRASPP: "segment", DEEPLAB: "segment"}
AUX = "aux_head"  # DeepLab's auxiliary FCN head: training only, it starts fresh


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """2 train and 1 val scenes of 64 px (all three views)."""
    return generate_dataset(tmp_path_factory.mktemp("synth"), images=3, val_images=1, size=64, workers=1)


def _options(name: str, data: Path, project: Path) -> dict:
    """A tiny run: 64 px, one step of 2 images (SSD's last levels are 1x1 there, and BatchNorm in
    training needs two values per channel)."""
    return {"data": str(data), "weights": name, "imgsz": 64, "batch": 2, "epochs": 1, "workers": 0, "device": "cpu",
            "project": str(project), "name": "tune"}


def _flags(options: dict) -> list[str]:
    return [part for key, value in options.items() for part in (f"--{key}", str(value))]


@pytest.mark.parametrize("name", [SSDLITE, LRASPP, DEEPLAB])
def test_training_from_a_published_model_replaces_only_its_class_layers(name, synth, tmp_path, monkeypatch, capsys):
    place(monkeypatch, name)
    task = get_task(TASKS[name])
    options = _options(name, synth, tmp_path)
    capsys.readouterr()
    assert main([task.name, "train", *_flags(options)]) == 0
    printed = capsys.readouterr().err.splitlines()

    source = torch.load(published_checkpoint(name), weights_only=True)
    trained = torch.load(tmp_path / task.name / "tune" / "weights" / "last.pt", weights_only=True)
    old, new = source["model_kwargs"]["num_classes"], trained["model_kwargs"]["num_classes"]
    assert (old, new) == (len(source["class_names"]) + task.background_classes, 7)
    class_keys = [key for key in source["state_dict"] if key.rpartition(".")[0] in CLASS_LAYERS[name]]
    assert len(class_keys) == 2 * len(CLASS_LAYERS[name])  # each a weight and a bias
    aux_keys = [key for key in source["state_dict"] if key.startswith(f"{AUX}.")]
    assert bool(aux_keys) == (name == DEEPLAB)
    kept = len(source["state_dict"]) - len(class_keys) - len(aux_keys)
    assert (f"{name}: {old - task.background_classes} -> {new - task.background_classes} classes; kept {kept} "
            f"tensors, re-initialised {', '.join(CLASS_LAYERS[name])} (class layers)"
            + (f", {AUX} (training only)" if aux_keys else "")) in printed

    # The weights' model with all its builder options (--imgsz, given, is the run's).
    assert trained["model_name"] == source["model_name"]
    for key, value in source["model_kwargs"].items():
        if key not in ("num_classes", "imgsz"):
            mine = trained["model_kwargs"][key]
            assert mine == value or value.items() <= mine.items(), key  # a head's options: the weights' and more

    # The model the run starts from: every published tensor but the class layers', which are resized.
    config = config_from_options(task.config_class, options, recipes=task.recipes)
    setup = task.training_setup(task.config_from_weights(config, given=options), resume_from=None)
    start = setup.model.state_dict()
    assert set(start) == set(source["state_dict"])
    for key, tensor in source["state_dict"].items():
        if key in class_keys:
            resized = (tensor.shape[0] // old * new, *tensor.shape[1:])
            assert start[key].shape == trained["state_dict"][key].shape == resized, key
        elif key not in aux_keys:
            assert torch.equal(start[key], tensor), key


def test_an_explicit_model_other_than_the_weights_is_a_one_line_error(synth, tmp_path, monkeypatch, capsys):
    place(monkeypatch, LRASPP)
    options = _options(LRASPP, synth, tmp_path)
    capsys.readouterr()
    assert main(["segment", "train", *_flags(options), "--model", "deeplabv3_mobilenet_v2"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "--model deeplabv3_mobilenet_v2" in error and "holds a lraspp_mobilenet_v3_large" in error
    assert not (tmp_path / "segment").exists()


def test_same_classes_load_every_tensor_and_another_width_is_refused_naming_the_file(monkeypatch):
    place(monkeypatch, LRASPP)
    path = published_checkpoint(LRASPP)
    source = torch.load(path, weights_only=True)
    model = build_model(source["model_name"], **source["model_kwargs"])
    assert load_starting_weights(model, source["state_dict"], weights=LRASPP, source=str(path)) is None
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, source["state_dict"][key]), key

    narrower = build_model(source["model_name"], **{**source["model_kwargs"], "width": 0.75})
    with pytest.raises(MobileVisionError, match=str(path)) as error:
        load_starting_weights(narrower, source["state_dict"], weights=LRASPP, source=str(path))
    assert "\n" not in str(error.value)
