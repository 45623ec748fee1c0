"""Multi-task training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.datasets.transforms import DETECTION_AUGMENTATIONS
from mobilevision.heads.anchors import ANCHOR_LAYOUTS
from mobilevision.tasks.detect.loss import CLASS_LOSSES
from mobilevision.engine.config import Recipe, TrainConfig, option
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
    classify_from_segment: bool = option(False, "the classifier also reads the segmentation head's per-class areas "
                                         "(a linear layer on their logs, added to its logits): for image labels "
                                         "that name the largest object, as the built-in dataset's do")
    augment: str = option("ssd", "training augmentation of the image and all its targets: SSD's (colour, zoom out, "
                          "IoU crop, flip) or only flips and light colour jitter (short budgets)", DETECTION_AUGMENTATIONS)
    anchor_layout: str = option("tf", "SSDLite anchor shapes: TF ssdlite_mobilenet_v2_coco or torchvision's ssdlite320",
                                ANCHOR_LAYOUTS)
    anchor_min_scale: float = option(0.2, "SSDLite anchor scale of the lowest level, a fraction of the image side")
    anchor_max_scale: float = option(0.95, "SSDLite anchor scale of the highest level, a fraction of the image side")
    class_loss: str = option("cross_entropy", "SSDLite class loss: softmax cross-entropy with hard negatives or "
                             "sigmoid focal loss", CLASS_LOSSES)
    match_iou: float = option(0.5, "SSDLite: IoU at which an anchor is matched to an object in training (SSD's 0.5)")
    nms_iou: float = option(0.6, "SSDLite: IoU above which NMS drops the lower-scored of two boxes of one class (TF's)")
    head: str = option("mobile", "DeepLab head on the stride-32 features: mobile (1x1 + image pooling) or aspp",
                       ("mobile", "aspp"))
    decoder: bool = option(False, "add the DeepLabv3+ decoder on the stride-4 features (sharper masks; at 320 px "
                           "it costs four times the width-0.5 detector)")
    decoder_stride: int = option(4, "the decoder's output stride: the backbone features it fuses (8: a 4x smaller "
                                 "grid, a cheaper step)", (4, 8))
    aux: bool = option(False, "add DeepLab's auxiliary FCN loss on the stride-8 features (training only)")
    loss_stride: int = option(1, "DeepLab's training loss on a grid this many times coarser than the input (logits "
                              "resized to it, labels sampled): cheaper steps on a CPU; 1 = full resolution")

    def __post_init__(self) -> None:
        check_loss_stride(self.loss_stride)


QUICK = Recipe(
    name="quick",
    source="this project: the three heads on one backbone on the built-in dataset (`mobilevision data synth`) "
    "on a 2-core CPU, from scratch, with what the detect quick recipe measured best there (detection needs the "
    "most steps): MobileNetV2 width 0.5, batch 8 with AdamW 3.5e-3 + warm-up + cosine (SGD 0.1 did not learn), "
    "flips only, anchor scales 0.15-0.5 in torchvision's layout matched from IoU 0.4, channels_last, gradient "
    "norm clipped at 10, validation every 5 epochs; the DeepLab head on the stride-32 features with the "
    "DeepLabv3+ decoder on the stride-8 ones for the masks' detail, its loss on a stride-4 grid (--loss-stride "
    "4); bf16, as the decoder's step ran 10% faster with it (597 against 688 ms at batch 8, 384 px). 256 px "
    "(data generated at 256) because the budget, not the resolution, limits all three heads: a step costs 289 "
    "ms against 612 at 384 px and 429 at 320 (batch 8, bf16, one measurement), and with 9.5 minutes on 1600 "
    "train images (2000-image dataset; top-1, mAP@.5, mIoU, one run each) 256 px reached 0.653, 0.678, 0.575 "
    "and 224 px 0.580, 0.595, 0.502, against 0.545, 0.610, 0.409 for the recipe before at 384 px (9 minutes, "
    "800 train images). The classification and segmentation losses weigh 2 and 4: at the defaults of 1 the "
    "segmentation loss, averaged over mostly background pixels, was a sixteenth of the detector's and its "
    "head never predicted triangles (at 384 px after a classification warm-up, 6.5 minutes: 0.550, 0.690, "
    "0.430 with weights 1, 0.570, 0.704, 0.477 with 2 and 4). Measured and not taken: 3 minutes of "
    "`classify train --recipe quick` on the object views as the backbone's start, then 6.5 minutes of this "
    "recipe, 0.648, 0.690, 0.562 (the same as 9.5 minutes from scratch); the EMA (decay 0.995 over a 200-step "
    "ramp) 0.648, 0.689, 0.566. As in the detect recipe, NMS at IoU 0.5 (on the first 256 px quickstart "
    "checkpoint mAP@.5 0.730 against 0.721 with 0.6) and the data loaded in the training process (--workers 0: "
    "an epoch at 25.3 images/s against 23.2 with 2 workers, one run each). The quickstart with this recipe "
    "(2000 images, 10 training minutes, 9 epochs): 0.685, 0.743, 0.626; with 10.5 minutes (10 epochs): 0.688, "
    "0.767, 0.647. Warm-up 0.1 epoch, about 95 steps of the quickstart's 7600 train images: at 0.5, a 13120-image "
    "epoch spent 45% of a 10-minute run warming up (top-1, mAP@.5, mIoU 0.685, 0.728, 0.609, with the "
    "classification loss weighted 4; 0.758, 0.792, 0.677 with warm-up 0.05 and weight 2). On the quickstart's "
    "8000 images (10.5 minutes), weights 4 and 8 for classification and segmentation did worse on all three: "
    "0.705, 0.734, 0.642 against 0.725, 0.810, 0.677. The classifier reads the segmentation's class areas "
    "(classify_from_segment), as the label names the largest object: on a 2-core AMD EPYC VM, which trains about "
    "1.8 times the Xeon's images/s, the quickstart (10.5 minutes, 4 epochs) reached 0.915, 0.917, 0.810 with it "
    "against 0.828, 0.905, 0.806 without; with the log areas unscaled 0.883, 0.918, 0.819, and without it but the "
    "classification loss weighted 4, 0.810, 0.834, 0.744",
    config=MultitaskTrainConfig(model="multitask_mobilenet_v2", width=0.5, imgsz=256, epochs=10, batch=8, lr=0.0035,
                                optimizer="adamw", schedule="cosine", warmup_epochs=0.1, weight_decay=1e-4,
                                clip_grad=10.0, augment="flip", anchor_layout="torchvision", anchor_min_scale=0.15,
                                anchor_max_scale=0.5, match_iou=0.4, decoder=True, decoder_stride=8, loss_stride=4,
                                classify_loss_weight=2.0, segment_loss_weight=4.0, nms_iou=0.5, val_period=5,
                                workers=0, classify_from_segment=True),
)
RECIPES: dict[str, Recipe] = {QUICK.name: QUICK}
