"""TF-slim's MobileNetV2 classifiers from their release archives, without TensorFlow: the fixture
is TF-slim's graph with random (sparse, sign-only) weights, saved and run by TensorFlow itself
(benchmarks/tf_exactness.py --width 0.35 --res 96 --classes 11 --sparsity 0.97); our loader must
give its logits.
A release archive that is cut short, holds another model or misses variables is refused in one
line with exit code 2."""

import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mobilevision.backbones.tf_checkpoint import read_tf_checkpoint
from mobilevision.backbones.tf_slim_keys import slim_to_our_keys
from mobilevision.cli.main import main
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import build_model
from mobilevision.tasks.tf_releases import releases

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tf"
FIXTURE = FIXTURES / "mobilenet_v2_0.35_96"
ARCHIVE = FIXTURE / "mobilenet_v2_0.35_96.tgz"


def _logits(*, tf_conventions: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ours, TensorFlow's) logits (1, 11) of the fixture's image."""
    model = build_model("mobilenet_v2", width=0.35, num_classes=11, backbone_options={"tf_conventions": tf_conventions})
    model.load_state_dict(slim_to_our_keys(read_tf_checkpoint(ARCHIVE), model.state_dict(), source=str(ARCHIVE)))
    reference = np.load(FIXTURE / "tensorflow.npz", allow_pickle=False)
    images = torch.from_numpy(reference["pixels"]).permute(0, 3, 1, 2) / np.float32(127.5) - 1
    with torch.no_grad():
        return model.eval()(images).numpy(), reference["logits"]


def test_a_tf_slim_release_computes_what_tensorflow_computes():
    ours, theirs = _logits(tf_conventions=True)
    assert np.abs(theirs).max() > 0.1  # the fixture's logits are not trivially small
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_without_tfs_padding_and_epsilon_the_same_weights_compute_something_else():
    ours, theirs = _logits(tf_conventions=False)
    assert np.abs(ours - theirs).max() > 1e-2


def _predict(tmp_path, capsys, name: str) -> tuple[int, list[str]]:
    image = tmp_path / "image.jpg"
    cv2.imwrite(str(image), np.full((64, 64, 3), 127, np.uint8))
    capsys.readouterr()
    code = main(["classify", "predict", str(image), "--weights", name, "--device", "cpu"])
    return code, capsys.readouterr().err.strip().splitlines()


def _place(name: str, archive: bytes) -> Path:
    """`archive` where a download of release `name` would be."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / releases()[name].file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive)
    return path


def _converted() -> list[Path]:
    return list((Path(torch.hub.get_dir()) / "mobilevision").glob("*"))


def test_the_release_names_are_the_slim_table_and_offline_names_the_url(tmp_path, capsys):
    assert len(releases()) == 22 + 16 + 2 + 2 and releases()["tf:mobilenet_v2_1.0_224"].accuracy == 71.8
    assert releases()["tf:mobilenet_v1_1.0_224"].accuracy == 70.9
    code, errors = _predict(tmp_path, capsys, "tf:mobilenet_v2_1.0_224")
    assert code == 2 and len(errors) == 1
    assert "https://storage.googleapis.com/mobilenet_v2/checkpoints/mobilenet_v2_1.0_224.tgz" in errors[0]


def test_another_models_archive_is_refused_naming_it(tmp_path, capsys):
    path = _place("tf:mobilenet_v2_0.35_96", ARCHIVE.read_bytes())  # 11 classes, not the release's 1001
    code, errors = _predict(tmp_path, capsys, "tf:mobilenet_v2_0.35_96")
    assert code == 2 and len(errors) == 1 and str(path) in errors[0] and "another model" in errors[0]
    assert not _converted()


def test_a_cut_archive_is_refused_naming_it(tmp_path, capsys):
    data = ARCHIVE.read_bytes()
    path = _place("tf:mobilenet_v2_0.35_96", data[: len(data) // 2])
    code, errors = _predict(tmp_path, capsys, "tf:mobilenet_v2_0.35_96")
    assert code == 2 and len(errors) == 1 and str(path) in errors[0] and "download it again" in errors[0]
    assert not _converted()


def test_a_checkpoint_missing_variables_is_refused_naming_them(tmp_path, capsys):
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:  # a checkpoint with other variables
        for file in sorted((FIXTURES / "reader").glob("model.ckpt.*")):
            archive.add(file, arcname=f"./{file.name}")
    path = _place("tf:mobilenet_v2_1.0_224", packed.getvalue())
    code, errors = _predict(tmp_path, capsys, "tf:mobilenet_v2_1.0_224")
    assert code == 2 and len(errors) == 1 and str(path) in errors[0]
    assert "variables are missing (MobilenetV2/" in errors[0]
    assert not _converted()


def test_val_drops_the_background_class_of_tf_slims_1001_classes():
    from types import SimpleNamespace

    from mobilevision.tasks.base import TrainedModel
    from mobilevision.tasks.registry import get_task

    logits = torch.tensor([[5.0, 1.0, 3.0, 2.0]])  # background first, then the folders' a, b, c
    trained = TrainedModel(lambda images: logits, task="classify", model_name="mobilenet_v2",
                           class_names=["background", "a", "b", "c"], preprocessing={}, weights="tf:x",
                           publisher_names=True)
    fitted = get_task("classify").fit_to_data(SimpleNamespace(class_names=["n01", "n02", "n03"]), trained, data="d")
    assert fitted.class_names == ["a", "b", "c"] and fitted.network(None).tolist() == [[1.0, 3.0, 2.0]]
    with pytest.raises(MobileVisionError, match="its 5 classes are not the 4"):  # no background to drop
        get_task("classify").fit_to_data(SimpleNamespace(class_names=["n01", "n02", "n03", "n04", "n05"]), trained,
                                         data="d")


def test_tf_slims_mobilenet_v1_names_cover_our_model_and_its_4233001_parameters():
    """TF-slim's MobileNetV1 1.0 with its 1001 classes has 4,233,001 trainable parameters
    (mobilenet_v1.py's docstring): our model's, named Conv2d_0, Conv2d_<i>_{depthwise,pointwise}."""
    from mobilevision.backbones.tf_slim_keys import slim_name

    model = build_model("mobilenet_v1", num_classes=1001, backbone_options={"tf_conventions": True})
    assert sum(parameter.numel() for parameter in model.parameters()) == 4_233_001
    names = {slim_name(key, scope="MobilenetV1")[0] for key in model.state_dict() if "num_batches" not in key}
    assert "MobilenetV1/Conv2d_13_pointwise/BatchNorm/moving_variance" in names
    assert "MobilenetV1/Conv2d_1_depthwise/depthwise_weights" in names and len(names) == 27 * 5 + 2

