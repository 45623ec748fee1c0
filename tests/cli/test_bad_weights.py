"""Issue 35, item 5: every bad weight file, given to any command that takes --weights (or to
`--resume`, or to `mv.load`), is one line naming the file, what is wrong and the fix, exit code 2:
never a traceback, never torch's advice to load the file unsafely."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import mobilevision as mv
from mobilevision.bench.cases import fresh_case
from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.errors import MobileVisionError


class Pickled:
    """A class torch.load(weights_only=True) refuses to rebuild."""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A good tiny classifier checkpoint, and every kind of bad weight file made from it."""
    folder = tmp_path_factory.mktemp("weights")
    good = fresh_case("mobilenet_v2", width=0.35, imgsz=64, folder=folder, class_names=["a", "b"]).checkpoint
    checkpoint = torch.load(good, weights_only=True)
    paths = {"good": good, "empty": folder / "empty.pt", "cut": folder / "cut.pt", "pickle": folder / "pickle.pt",
             "garbage_onnx": folder / "garbage.onnx"}
    paths["empty"].write_bytes(b"")
    paths["cut"].write_bytes(good.read_bytes()[:4096])
    paths["garbage_onnx"].write_bytes(b"\x08\x07this is no protobuf" * 8)
    torch.save({**checkpoint, "extra": Pickled()}, paths["pickle"])
    paths["tensor"] = folder / "tensor.pt"
    torch.save(torch.zeros(3), paths["tensor"])
    for key in ("model_kwargs", "preprocessing"):
        paths[f"no_{key}"] = folder / f"no_{key}.pt"
        torch.save({name: value for name, value in checkpoint.items() if name != key}, paths[f"no_{key}"])
    # Its tensors are width 0.35's; it says width 0.5 (or another model).
    paths["other_width"] = folder / "other_width.pt"
    torch.save({**checkpoint, "model_kwargs": {**checkpoint["model_kwargs"], "width": 0.5}}, paths["other_width"])
    paths["other_model"] = folder / "other_model.pt"
    torch.save({**checkpoint, "model_name": "mobilenet_v1"}, paths["other_model"])
    return paths


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth"), images=6, val_images=2, size=64, workers=1)


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    """A folder of one image: a `demo live --source`."""
    folder = tmp_path_factory.mktemp("frames")
    cv2.imwrite(str(folder / "frame.jpg"), np.full((64, 64, 3), 128, dtype=np.uint8))
    return folder


def commands(weights: Path, *, data: Path, frames: Path, project: Path) -> dict[str, list[str]]:
    """Every command that takes --weights (and train --weights-backbone, --resume), run on `weights`."""
    out = ["--project", str(project)]
    train = ["classify", "train", "--data", str(data), "--epochs", "1", "--batch", "2", "--imgsz", "64",
             "--workers", "0", "--device", "cpu", *out]
    return {
        "val": ["classify", "val", "--weights", str(weights), "--data", str(data), "--workers", "0", *out],
        "predict": ["classify", "predict", str(frames), "--weights", str(weights), *out],
        "export": ["export", "--weights", str(weights), "--out", str(project / "model.onnx")],
        "bench": ["bench", "--weights", str(weights), "--runtimes", "eager", "--iters", "1", *out],
        "demo live": ["demo", "live", "--source", str(frames), "--weights", str(weights), "--no-window", *out],
        "demo web": ["demo", "web", "--weights", str(weights)],
        "train --weights": [*train, "--weights", str(weights)],
        "train --weights-backbone": [*train, "--weights-backbone", str(weights)],
        "train --resume": ["classify", "train", "--resume", str(weights)],
        "multitask assemble": ["multitask", "assemble", "--weights", str(weights), "--out", str(project / "m.pt")],
    }


def one_line_error(capsys, argv: list[str]) -> str:
    """The command's error line; it must exit with 2 and print no other error or traceback."""
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1 and errors[0].startswith("mobilevision: error: "), errors
    return errors[0]


@pytest.mark.parametrize("command", ["val", "predict", "export", "bench", "demo live", "demo web", "train --weights",
                                     "train --weights-backbone", "train --resume", "multitask assemble"])
def test_an_empty_file_is_one_line_in_every_command(command, files, data, frames, tmp_path, capsys):
    argv = commands(files["empty"], data=data, frames=frames, project=tmp_path)[command]
    error = one_line_error(capsys, argv)
    assert f"{files['empty']} is empty (0 bytes)" in error and "copy it again or use another checkpoint" in error


def test_the_python_api_raises_the_same_line(files):
    with pytest.raises(MobileVisionError, match=r"empty\.pt is empty \(0 bytes\)"):
        mv.load(files["empty"])


@pytest.mark.parametrize("command", ["val", "export", "train --resume"])
def test_a_file_cut_short_is_one_line(command, files, data, frames, tmp_path, capsys):
    error = one_line_error(capsys, commands(files["cut"], data=data, frames=frames, project=tmp_path)[command])
    assert f"{files['cut']} cannot be read as PyTorch weights" in error and "cut short" in error


@pytest.mark.parametrize("command", ["predict", "train --weights"])
def test_a_pickled_object_is_refused_without_advice_to_unpickle_it(command, files, data, frames, tmp_path, capsys):
    error = one_line_error(capsys, commands(files["pickle"], data=data, frames=frames, project=tmp_path)[command])
    assert f"{files['pickle']} holds a pickled Python object" in error and "Pickled" in error
    assert "torch.save(model.state_dict(), path)" in error
    assert "weights_only" not in error and "trust" not in error


@pytest.mark.parametrize("command", ["predict", "demo live"])
def test_a_torch_file_of_no_state_dict_is_one_line(command, files, data, frames, tmp_path, capsys):
    error = one_line_error(capsys, commands(files["tensor"], data=data, frames=frames, project=tmp_path)[command])
    assert f"{files['tensor']} does not hold a state dict" in error and "torch.save(model.state_dict()" in error


@pytest.mark.parametrize("key", ["model_kwargs", "preprocessing"])
@pytest.mark.parametrize("command", ["val", "export", "bench", "train --weights", "train --weights-backbone",
                                     "multitask assemble"])
def test_a_checkpoint_missing_a_key_names_it(key, command, files, data, frames, tmp_path, capsys):
    path = files[f"no_{key}"]
    error = one_line_error(capsys, commands(path, data=data, frames=frames, project=tmp_path)[command])
    assert f"{path} lacks {key}" in error and "mobilevision classify train` wrote" in error


def test_resume_names_the_training_state_a_checkpoint_lacks(files, capsys):
    error = one_line_error(capsys, ["classify", "train", "--resume", str(files["good"])])
    assert f"{files['good']} lacks args, epoch" in error and "resume from a run's weights/last.pt" in error


@pytest.mark.parametrize("command", ["val", "predict", "export", "demo live"])
def test_a_checkpoint_of_another_width_says_which_it_holds(command, files, data, frames, tmp_path, capsys):
    path = files["other_width"]
    error = one_line_error(capsys, commands(path, data=data, frames=frames, project=tmp_path)[command])
    assert (f"{path} holds mobilenet_v2 at width 0.35; this command built mobilenet_v2 at width 0.5 (187 of 314 "
            "tensors have other shapes") in error
    assert "its model_kwargs do not describe its tensors" in error and len(error) < 500


def test_a_checkpoint_of_another_model_says_which_it_holds(files, data, frames, tmp_path, capsys):
    path = files["other_model"]
    error = one_line_error(capsys, commands(path, data=data, frames=frames, project=tmp_path)["val"])
    assert f"{path} holds mobilenet_v2 at width 0.35; this command built mobilenet_v1 at width 0.35" in error


def test_training_from_a_checkpoint_at_another_width_says_to_drop_width(files, data, frames, tmp_path, capsys):
    argv = [*commands(files["good"], data=data, frames=frames, project=tmp_path)["train --weights"], "--width", "1.0"]
    error = one_line_error(capsys, argv)
    assert f"{files['good']} holds mobilenet_v2 at width 0.35; this command built mobilenet_v2 at width 1.0" in error
    assert "use --weights of a matching checkpoint, or leave out --width" in error


@pytest.mark.parametrize("command", ["demo live", "demo web", "val"])
def test_a_garbage_onnx_file_is_one_line(command, files, data, frames, tmp_path, capsys):
    path = files["garbage_onnx"]
    argv = commands(path, data=data, frames=frames, project=tmp_path)[command]
    error = one_line_error(capsys, [*argv, "--runtime", "onnxruntime"] if command == "val" else argv)
    assert f"{path} is not an ONNX model" in error and "export it again with `mobilevision export" in error
