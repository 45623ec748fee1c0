"""Multi-task training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.datasets.transforms import DETECTION_AUGMENTATIONS
from mobilevision.heads.anchors import ANCHOR_LAYOUTS
from mobilevision.tasks.detect.loss import CLASS_LOSSES
from mobilevision.tasks.engine.config import Recipe, TrainConfig, option
from mobilevision.tasks.segment.config import check_loss_stride


@dataclass(frozen=True)
class MultitaskTrainConfig(TrainConfig):
    model: str = option("multitask_mobilenet_v2", "multi-task model from `mobilevision info` (multitask_mobilenet_v2 "
                        "or _v1)")
    tasks: str = option("classify,detect,segment", "heads to train, comma-separated: classify, detect, segment "
                        "(COCO has no image labels: detect,segment)")
    imgsz: int = option(320, "training and validation input size in pixels (square)")
    batch: int = option(16, "images per step and per process (torchrun: each process takes this many)")
    classify_loss_weight: float = option(1.0, "weight of the classification loss in the summed loss")
    detect_loss_weight: float = option(1.0, "weight of the detection losses (box regression and classification)")
    segment_loss_weight: float = option(1.0, "weight of the segmentation loss (and its auxiliary loss)")
    weights_backbone: str | None = option(None, "initial backbone weights, e.g. torchvision:IMAGENET1K_V2 or a "
                                          "classify checkpoint (ignored when --weights is given)")
    freeze_backbone: bool = option(False, "train the heads only: the backbone's weights and BatchNorm statistics "
                                   "stay as loaded")
    freeze_bn: bool = option(False, "keep the backbone's BatchNorm statistics fixed (small batches, fine-tuning)")
    label_smoothing: float = option(0.0, "label smoothing of the classification loss")
    augment: str = option("ssd", "training augmentation of the image and all its targets: SSD's (colour, zoom out, "
                          "IoU crop, flip) or only flips and light colour jitter (short budgets)", DETECTION_AUGMENTATIONS)
    anchor_layout: str = option("tf", "SSDLite anchor shapes: TF ssdlite_mobilenet_v2_coco or torchvision's ssdlite320",
                                ANCHOR_LAYOUTS)
    anchor_min_scale: float = option(0.2, "SSDLite anchor scale of the lowest level, a fraction of the image side")
    anchor_max_scale: float = option(0.95, "SSDLite anchor scale of the highest level, a fraction of the image side")
    class_loss: str = option("cross_entropy", "SSDLite class loss: softmax cross-entropy with hard negatives or "
                             "sigmoid focal loss", CLASS_LOSSES)
    head: str = option("mobile", "DeepLab head on the stride-32 features: mobile (1x1 + image pooling) or aspp",
                       ("mobile", "aspp"))
    decoder: bool = option(False, "add the DeepLabv3+ decoder on the stride-4 features (sharper masks; at 320 px "
                           "it costs four times the width-0.5 detector)")
    aux: bool = option(False, "add DeepLab's auxiliary FCN loss on the stride-8 features (training only)")
    loss_stride: int = option(1, "DeepLab's training loss on a grid this many times coarser than the input (logits "
                              "resized to it, labels sampled): cheaper steps on a CPU; 1 = full resolution")

    def __post_init__(self) -> None:
        check_loss_stride(self.loss_stride)


QUICK = Recipe(
    name="quick",
    source="this project: the three heads on one backbone on the built-in dataset (`mobilevision data synth`, "
    "320 px scenes) on a 2-core CPU, from scratch, with the optimizer the detect quick recipe measured best for "
    "SSDLite on this data (AdamW 5e-3 + warm-up + cosine, flips only: SGD 0.1 did not learn), as detection needs "
    "the most steps: MobileNetV2 width 0.5 at 320 px, channels_last, gradient norm clipped at 10; the DeepLab head reads the "
    "stride-32 features without the decoder, and its loss runs on a stride-4 grid (--loss-stride 4), so a step "
    "costs about the detector's (batch 16: 532-591 ms against 775-784 at full resolution, the detector alone "
    "591-628). One run on synth2000 with --tasks detect,segment, 9 epochs, 542 training seconds: mAP 0.509, "
    "mIoU 0.427 (the full-resolution loss: 0.362 and 0.289 after 6 epochs, 420 s)",
    config=MultitaskTrainConfig(model="multitask_mobilenet_v2", width=0.5, imgsz=320, epochs=10, batch=16, lr=0.005,
                                optimizer="adamw", schedule="cosine", warmup_epochs=0.5, weight_decay=1e-4,
                                clip_grad=10.0, augment="flip", loss_stride=4, workers=2),
)
RECIPES: dict[str, Recipe] = {QUICK.name: QUICK}
