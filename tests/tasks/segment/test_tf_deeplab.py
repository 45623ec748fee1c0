"""DeepLab's Mobile DeepLabv3 releases by name, without TensorFlow: the fixture is DeepLab's graph
(MobileNetV2 width 0.5 at output stride 16, its mobile head) with random sparse weights, saved and
run by TensorFlow itself (benchmarks/tf_exactness.py --arch deeplab --width 0.5 --res 33
--classes 21 --sparsity 0.99), placed where the download of tf:deeplabv3_mnv2_dm05_pascal_trainaug
would be; loaded by that name, our model must give TensorFlow's logits."""

from pathlib import Path

import numpy as np
import torch

from mobilevision.deploy.runtime import load_trained
from mobilevision.tasks.tf_releases import releases

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "tf" / "deeplabv3_mnv2_dm05"
NAME = "tf:deeplabv3_mnv2_dm05_pascal_trainaug"


def test_a_deeplab_release_loaded_by_name_computes_what_tensorflow_computes():
    cached = Path(torch.hub.get_dir()) / "checkpoints" / releases()[NAME].file_name
    cached.parent.mkdir(parents=True)
    cached.write_bytes((FIXTURE / "deeplabv3_mnv2_0.5_33.tgz").read_bytes())
    segmenter = load_trained(NAME, device="cpu", runtime="torch", log=lambda line: None)
    assert segmenter.task == "segment" and segmenter.class_names[:2] == ["background", "aeroplane"]
    assert segmenter.preprocessing == {"mean": [0.5] * 3, "std": [0.5] * 3, "input_size": 513}
    reference = np.load(FIXTURE / "tensorflow.npz", allow_pickle=False)
    images = torch.from_numpy(reference["pixels"]).permute(0, 3, 1, 2) / np.float32(127.5) - 1
    with torch.no_grad():
        logits = segmenter.network.raw_outputs(images).permute(0, 2, 3, 1).numpy()  # TF's NHWC
    assert np.abs(reference["logits"]).max() > 0.1
    np.testing.assert_allclose(logits, reference["logits"], atol=1e-4, rtol=0)
    assert releases()[NAME].accuracy == 70.19 and releases()["tf:deeplabv3_mnv2_pascal_train_aug"].accuracy == 75.32
