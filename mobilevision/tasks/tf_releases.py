"""The MobileNet papers' own trained networks, as TensorFlow's model zoos released them, by name:
`tf:mobilenet_v2_<width>_<res>` and `tf:mobilenet_v1_<width>_<res>`, TF-slim's ImageNet
classifiers (research/slim/nets/mobilenet/README.md and research/slim/README.md, whose top-1 they
carry), `tf:deeplabv3_mnv2_pascal_train_aug` / `tf:deeplabv3_mnv2_dm05_pascal_trainaug`, the
V2 paper's Mobile DeepLabv3 on PASCAL VOC (DeepLab's model zoo), and `tf:ssdlite_mobilenet_v2_coco`
/ `tf:ssd_mobilenet_v1_coco`, TF object detection's COCO detectors (its detection model zoo).

A release is the archive the zoo serves; `tf_checkpoint(name)` downloads it into the torch hub
cache only when asked, reads its TF checkpoint without TensorFlow (backbones/tf_checkpoint.py),
renames TF-slim's variables to ours (backbones/tf_slim_keys.py) into a model built with TF's
conventions (BatchNorm epsilon 1e-3, "SAME" padding), and keeps the result as one of our
checkpoints beside it. The classifiers have TF-slim's 1001 classes (0: background), the
segmenters VOC's 21, the detectors COCO's 90 ids after a background; all take images scaled to
[-1, 1], at the release's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import torch

from mobilevision.backbones.key_mapping import load_strict
from mobilevision.backbones.pretrained import cached_download, hub_file
from mobilevision.backbones.tf_checkpoint import read_tf_checkpoint
from mobilevision.backbones.tf_slim_keys import slim_to_our_keys
from mobilevision.datasets.voc import VOC_CLASSES
from mobilevision.engine.checkpoint import inference_checkpoint, is_converted, save_published
from mobilevision.tasks.detect.tf_od_keys import od_to_our_keys
from mobilevision.tasks.registry import build_model

TF_PREFIX = "tf:"
TF_MODELS_LICENCE = "Apache-2.0 (tensorflow/models); ImageNet terms of access"
SLIM_README = "TF-slim nets/mobilenet/README.md"
DEEPLAB_ZOO = "DeepLab g3doc/model_zoo.md; MobileNetV2 paper Table 7"
VOC_LICENCE = "Apache-2.0 (tensorflow/models); PASCAL VOC terms"
DETECTION_ZOO = "TF object detection g3doc/detection_model_zoo.md"
COCO_LICENCE = "Apache-2.0 (tensorflow/models); COCO terms of use"
# How TF's SSD releases suppress boxes, from their pipeline.config (post_processing): sigmoid scores
# (our sigmoid loss is the focal one), per-class NMS at IoU 0.6, 100 boxes per class and in all. TF
# caps a class after its NMS, not before: with a cap of 100 on the total, as many per class, no cap
# before NMS (topk_candidates 0) gives TF's result. The score threshold is the one of the configs the
# published mAP was measured with (samples/configs/ssdlite_mobilenet_v2_coco.config: 1e-8); the
# releases' own 0.3 is an inference setting that `predict --conf 0.3` gives.
TF_SSD_POSTPROCESSING = {"ssdlite": {"class_loss": "focal", "nms_iou": 0.6}, "score_threshold": 1e-8,
                         "topk_candidates": 0, "max_detections": 100}
# TF-slim's MobileNetV2 table, (width, resolution): top-1 (numbers.md).
SLIM_V2_TOP1 = {
    (1.4, 224): 75.0, (1.3, 224): 74.4,
    (1.0, 224): 71.8, (1.0, 192): 70.7, (1.0, 160): 68.8, (1.0, 128): 65.3, (1.0, 96): 60.3,
    (0.75, 224): 69.8, (0.75, 192): 68.7, (0.75, 160): 66.4, (0.75, 128): 63.2, (0.75, 96): 58.8,
    (0.5, 224): 65.4, (0.5, 192): 63.9, (0.5, 160): 61.0, (0.5, 128): 57.7, (0.5, 96): 51.2,
    (0.35, 224): 60.3, (0.35, 192): 58.2, (0.35, 160): 55.7, (0.35, 128): 50.8, (0.35, 96): 45.5,
}
# TF-slim's MobileNetV1 table (its 2018_08_02 release), (width, resolution): top-1.
SLIM_V1_TOP1 = {
    (1.0, 224): 70.9, (1.0, 192): 70.0, (1.0, 160): 68.0, (1.0, 128): 65.2,
    (0.75, 224): 68.4, (0.75, 192): 67.2, (0.75, 160): 65.3, (0.75, 128): 62.1,
    (0.5, 224): 63.3, (0.5, 192): 61.7, (0.5, 160): 59.1, (0.5, 128): 56.3,
    (0.25, 224): 49.8, (0.25, 192): 47.7, (0.25, 160): 45.5, (0.25, 128): 41.5,
}
SLIM_CLASSES = 1001  # ImageNet's 1000 after a background class


@dataclass(frozen=True)
class TFRelease:
    """One released archive and the registered model that loads it."""

    builder: str  # the release's own name, e.g. "mobilenet_v2_1.0_224"
    model: str  # our registered model
    width: float
    input_size: int
    accuracy: float
    url: str
    scope: str = "MobilenetV2"  # the variables' top scope in the checkpoint
    task: str = "classify"
    num_classes: int = SLIM_CLASSES
    dataset: str = "ImageNet-1K"
    metric: str = "top-1"
    source: str = SLIM_README
    licence: str = TF_MODELS_LICENCE
    default: bool = False  # the builder's name is the only name
    options: dict = field(default_factory=dict)  # the model's other keyword arguments: TF's settings


    @property
    def name(self) -> str:
        return f"{TF_PREFIX}{self.builder}"

    @property
    def file_name(self) -> str:
        return Path(self.url).name

    def model_kwargs(self) -> dict:
        return {"width": self.width, "num_classes": self.num_classes, "backbone_options": {"tf_conventions": True},
                **self.options}

    def class_names(self) -> list[str]:
        """ImageNet's after TF-slim's background class; PASCAL VOC's 20 after its background; COCO's
        ids 1..90 (label i is COCO id i, the unused ids "N/A"), as our detectors store them."""
        if self.task == "segment":
            return ["background", *VOC_CLASSES]
        if self.task == "detect":
            from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights

            return SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"][1:]
        from torchvision.models import MobileNet_V2_Weights

        return ["background", *MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]]


def _slim_v2(width: float, resolution: int, top1: float) -> TFRelease:
    builder = f"mobilenet_v2_{width}_{resolution}"
    return TFRelease(builder=builder, model="mobilenet_v2", width=width, input_size=resolution, accuracy=top1,
                     url=f"https://storage.googleapis.com/mobilenet_v2/checkpoints/{builder}.tgz")


def _slim_v1(width: float, resolution: int, top1: float) -> TFRelease:
    builder = f"mobilenet_v1_{width}_{resolution}"
    return TFRelease(builder=builder, model="mobilenet_v1", width=width, input_size=resolution, accuracy=top1,
                     url=f"http://download.tensorflow.org/models/mobilenet_v1_2018_08_02/{builder}.tgz",
                     scope="MobilenetV1")


def _deeplab(builder: str, *, date: str, width: float, miou: float) -> TFRelease:
    """A Mobile DeepLabv3 of DeepLab's model zoo (research/deeplab/g3doc/model_zoo.md): VOC 2012
    val mIoU at output stride 16, single scale, 513 px, as the V2 paper's Table 7 reports it."""
    return TFRelease(builder=builder, model="deeplabv3_mobilenet_v2", width=width, input_size=513, accuracy=miou,
                     url=f"http://download.tensorflow.org/models/{builder}_{date}.tar.gz", task="segment",
                     num_classes=21, dataset="PASCAL VOC 2012 val", metric="mIoU", source=DEEPLAB_ZOO,
                     licence=VOC_LICENCE)


def _ssd(builder: str, *, date: str, model: str, scope: str, coco_map: float) -> TFRelease:
    """A COCO detector of TF's detection model zoo: 300 px, COCO's 90 ids after a background."""
    return TFRelease(builder=builder, model=model, width=1.0, input_size=300, accuracy=coco_map,
                     url=f"http://download.tensorflow.org/models/object_detection/{builder}_{date}.tar.gz",
                     scope=scope, task="detect", num_classes=91, dataset="COCO val", metric="mAP",
                     source=DETECTION_ZOO, licence=COCO_LICENCE, options={"imgsz": 300, **TF_SSD_POSTPROCESSING})


@cache
def releases() -> dict[str, TFRelease]:
    """Every TF release by name."""
    entries = [_slim_v2(width, resolution, top1) for (width, resolution), top1 in SLIM_V2_TOP1.items()]
    entries += [_slim_v1(width, resolution, top1) for (width, resolution), top1 in SLIM_V1_TOP1.items()]
    entries += [_deeplab("deeplabv3_mnv2_pascal_train_aug", date="2018_01_29", width=1.0, miou=75.32),
                _deeplab("deeplabv3_mnv2_dm05_pascal_trainaug", date="2018_10_01", width=0.5, miou=70.19),
                _ssd("ssdlite_mobilenet_v2_coco", date="2018_05_09", model="ssdlite_mobilenet_v2", scope="MobilenetV2",
                     coco_map=22.0),
                _ssd("ssd_mobilenet_v1_coco", date="2018_01_28", model="ssd_mobilenet_v1", scope="MobilenetV1",
                     coco_map=21.0)]
    return {entry.name: entry for entry in entries}


def converted_tf_path(release: TFRelease) -> Path:
    return Path(torch.hub.get_dir()) / "mobilevision" / f"{release.builder}.pt"


def tf_checkpoint(release: TFRelease) -> Path:
    """Our checkpoint of `release`: converted once from its archive (downloaded into the hub cache
    if missing) and kept in the cache. An archive that is cut short, or holds another model's
    checkpoint, is refused in one line and nothing is written."""
    target = converted_tf_path(release)
    if is_converted(target, source=hub_file(release.file_name)):
        return target
    archive = cached_download(release.url, file_name=release.file_name)
    model = build_model(release.model, **release.model_kwargs())
    to_our_keys = od_to_our_keys if release.task == "detect" else slim_to_our_keys
    state_dict = to_our_keys(read_tf_checkpoint(archive), model.state_dict(), source=str(archive),
                             scope=release.scope)
    load_strict(model, state_dict, source=f"{archive} (as {release.name})",
                fix="It is another model's checkpoint: delete it and run again.")
    checkpoint = inference_checkpoint(
        model.state_dict(), task=release.task, model_name=release.model, model_kwargs=release.model_kwargs(),
        class_names=release.class_names(),
        preprocessing={"mean": [0.5] * 3, "std": [0.5] * 3, "input_size": release.input_size})
    save_published(checkpoint, target, published={"name": release.name, "url": release.url,
                                                  release.metric: release.accuracy, "source": release.source})
    return target
