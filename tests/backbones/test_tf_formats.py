"""TensorFlow's formats and conventions without TensorFlow: its checkpoints read by our reader,
and its "SAME" padding. The fixtures were written by TensorFlow itself (benchmarks/tf_fixtures.py)."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilevision.backbones.tf_checkpoint import TFCheckpointError, read_tf_checkpoint
from mobilevision.backbones.tf_padding import TFSameConv2d, tf_same_pads

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tf"
CHECKPOINT = FIXTURES / "reader" / "model.ckpt.index"


def _expected() -> dict[str, np.ndarray]:
    """The tensors as TensorFlow's own reader returned them."""
    stored = np.load(FIXTURES / "reader" / "expected.npz", allow_pickle=False)
    return {str(name): stored[f"t{index}"] for index, name in enumerate(stored["names"])}


def _archive(tmp_path: Path, *, cut: int = 0) -> Path:
    """The fixture packed as a model zoo release (.tar.gz with a folder), `cut` bytes short."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for file in sorted(CHECKPOINT.parent.glob("model.ckpt.*")):
            archive.add(file, arcname=f"release_2018_01_01/{file.name}")
    path = tmp_path / "release_2018_01_01.tar.gz"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) - cut])
    return path


def test_a_tf_checkpoint_reads_as_tensorflow_reads_it():
    tensors, expected = read_tf_checkpoint(CHECKPOINT), _expected()
    assert sorted(tensors) == sorted(expected) and len(tensors) == 123
    for name, array in expected.items():
        assert tensors[name].dtype == array.dtype and tensors[name].shape == array.shape
        np.testing.assert_array_equal(tensors[name], array)
    assert tensors["global_step"] == 30000 and tensors["MobilenetV2/Conv/weights"].shape == (3, 3, 3, 8)


def test_a_release_archive_reads_in_memory_and_a_cut_one_is_refused_naming_it(tmp_path):
    tensors = read_tf_checkpoint(_archive(tmp_path))
    np.testing.assert_array_equal(tensors["MobilenetV2/Conv/BatchNorm/gamma"],
                                  _expected()["MobilenetV2/Conv/BatchNorm/gamma"])
    assert not (tmp_path / "release_2018_01_01").exists()  # nothing extracted
    cut = _archive(tmp_path, cut=3000)
    with pytest.raises(TFCheckpointError, match=f"{cut}.*download it again"):
        read_tf_checkpoint(cut)


def test_a_cut_data_file_is_refused_naming_the_checkpoint(tmp_path):
    for file in CHECKPOINT.parent.glob("model.ckpt.*"):
        data = file.read_bytes()
        (tmp_path / file.name).write_bytes(data[:-100] if ".data-" in file.name else data)
    with pytest.raises(TFCheckpointError, match="model.ckpt.index.*cut short"):
        read_tf_checkpoint(tmp_path / "model.ckpt.index")


def test_same_padding_by_hand():
    """A 4x4 input 1..16, a 3x3 kernel of ones, stride 2: TF pads one row and column after the
    input and none before, so the first output sums rows and columns 0-2 (PyTorch's symmetric
    padding would sum rows and columns -1..1, 14)."""
    assert tf_same_pads(4, kernel_size=3, stride=2) == (0, 1) and tf_same_pads(5, kernel_size=3, stride=2) == (1, 1)
    conv = TFSameConv2d(1, 1, kernel_size=3, stride=2, padding=1, bias=False)
    torch.nn.init.ones_(conv.weight)
    output = conv(torch.arange(1.0, 17.0).reshape(1, 1, 4, 4))
    assert output.squeeze().tolist() == [[54.0, 45.0], [72.0, 54.0]]


def test_same_padding_equals_tensorflows():
    cases = np.load(FIXTURES / "same_padding.npz", allow_pickle=False)
    for index in range(len(cases.files) // 4):
        images, weights = cases[f"case{index}_images"], cases[f"case{index}_weights"]
        stride, dilation, depthwise = cases[f"case{index}_config"].tolist()
        channels, kernel = images.shape[-1], weights.shape[0]
        out_channels = channels if depthwise else weights.shape[-1]
        conv = TFSameConv2d(channels, out_channels, kernel_size=kernel, stride=stride, dilation=dilation,
                            groups=channels if depthwise else 1, bias=False)
        # TF's HWIO kernels (depthwise: H, W, C, multiplier) -> PyTorch's OIHW (depthwise: C, 1, H, W)
        layout = (2, 3, 0, 1) if depthwise else (3, 2, 0, 1)
        conv.weight.data = torch.from_numpy(weights.transpose(layout).copy())
        output = conv(torch.from_numpy(images).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        np.testing.assert_allclose(output.detach().numpy(), cases[f"case{index}_output"], atol=1e-5)
