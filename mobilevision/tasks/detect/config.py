"""Detection training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.datasets.transforms import DETECTION_AUGMENTATIONS
from mobilevision.errors import MobileVisionError
from mobilevision.heads.anchors import ANCHOR_LAYOUTS
from mobilevision.tasks.detect.loss import CLASS_LOSSES
from mobilevision.engine.config import Recipe, TrainConfig, option


@dataclass(frozen=True)
class DetectTrainConfig(TrainConfig):
    model: str = option("ssdlite_mobilenet_v2", "detector from `mobilevision info` (ssdlite_mobilenet_v2 or _v1)")
    imgsz: int = option(320, "training and validation input size in pixels (square)")
    batch: int = option(16, "images per step and per process (torchrun: each process takes this many)")
    weights_backbone: str | None = option(None, "ImageNet weights for the backbone only, e.g. torchvision:IMAGENET1K_V2 "
                                          "or a classifier checkpoint (ignored when --weights is given)")
    freeze_bn: bool = option(False, "keep the backbone's BatchNorm statistics fixed (small batches, fine-tuning)")
    freeze_backbone: bool = option(False, "train the head only: the backbone's weights and BatchNorm statistics stay "
                                   "as loaded (heads on one backbone combine with `multitask assemble`)")
    anchor_layout: str = option("tf", "anchor shapes: TF ssdlite_mobilenet_v2_coco or torchvision's ssdlite320",
                                ANCHOR_LAYOUTS)
    anchor_min_scale: float = option(0.2, "anchor scale of the lowest level, a fraction of the image side (TF's "
                                     "min_scale; its lowest level also holds a fixed 0.1 box)")
    anchor_max_scale: float = option(0.95, "anchor scale of the highest level, a fraction of the image side (TF's "
                                     "max_scale)")
    augment: str = option("ssd", "training augmentation: SSD's (colour, zoom out, IoU crop, flip) or only flips and "
                          "light colour jitter (short budgets)", DETECTION_AUGMENTATIONS)
    class_loss: str = option("cross_entropy", "softmax cross-entropy with 3:1 hard negatives (SSD) or sigmoid focal "
                             "loss on every anchor (RetinaNet)", CLASS_LOSSES)
    match_iou: float = option(0.5, "IoU at which an anchor is matched to an object in training (SSD's and TF's 0.5; "
                              "every object also takes its best anchor); lower gives small objects more positives")
    nms_iou: float = option(0.6, "IoU above which NMS drops the lower-scored of two boxes of one class when the model "
                            "predicts, validates and exports (TF's 0.6; torchvision's SSDLite 0.55, SSD's 0.45)")
    aux_segment: float = option(0.0, "weight of an auxiliary segmentation loss during training (0: none): DeepLab's "
                                "mobile head on the stride-32 features learns the class maps of COCO-form data "
                                "(the built-in dataset's too); training only, the detector is unchanged")

    def __post_init__(self) -> None:
        if self.aux_segment < 0:
            raise MobileVisionError(f"--aux-segment must not be negative, got {self.aux_segment}")



RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="coco",
            source="torchvision references/detection/README.md, ssdlite320_mobilenet_v3_large (21.3 mAP): "
            "torchrun --nproc_per_node=8 train.py --dataset coco --epochs 660 --aspect-ratio-group-factor -1 "
            "--lr-scheduler cosineannealinglr --lr 0.15 --batch-size 24 --weight-decay 0.00004 "
            "--data-augmentation ssdlite (SGD momentum 0.9, from scratch, 320 px); applied here to "
            "SSDLite-MobileNetV2 with TF's anchors",
            config=DetectTrainConfig(model="ssdlite_mobilenet_v2", width=1.0, imgsz=320, epochs=660, batch=24,
                                     lr=0.15, optimizer="sgd", momentum=0.9, schedule="cosine", warmup_epochs=1.0,
                                     weight_decay=4e-5, workers=8),
        ),
        Recipe(
            name="coco-tf",
            source="TF object detection samples/configs/ssdlite_mobilenet_v2_coco.config (22 mAP in the TF model "
            "zoo): 300x300, batch 24, RMSProp (decay 0.9, momentum 0.9; TF's epsilon 1.0 is not an option here, "
            "the engine's RMSProp keeps its own), lr 0.004 x 0.95 every 800720 steps (about 163 epochs of 118k "
            "images), 200k steps (about 40 epochs), L2 4e-5, ImageNet-initialised backbone, SSD random crop + flip",
            config=DetectTrainConfig(model="ssdlite_mobilenet_v2", width=1.0, imgsz=300, epochs=40, batch=24,
                                     lr=0.004, optimizer="rmsprop", momentum=0.9, schedule="step",
                                     step_epochs=163.0, step_gamma=0.95, weight_decay=4e-5, workers=8,
                                     weights_backbone="torchvision:IMAGENET1K_V2"),
        ),
        Recipe(
            name="quick",
            source="this project: the built-in dataset (`mobilevision data synth --images 2000`, 1600 train "
            "images of 320 px) on a 2-core CPU in 15 minutes, from scratch (benchmarks/quick_recipe.py --task "
            "detect --time 15): MobileNetV2 width 0.5 at 384 px, anchor scales 0.15-0.5 (its objects span 0.1-0.38 "
            "of the side; TF's 0.2-0.95 left 4 of 6 levels' anchors larger than nearly all of them) in torchvision's "
            "layout (6 shapes on every level, two of them square), channels_last, "
            "batch 8 with AdamW 3.5e-3 + warm-up + cosine, anchors matched from IoU 0.4, flips only, validation "
            "every 5 epochs, fp32 (bf16 autocast was no faster there: 16.2 against 16.4 images/s for a step), an EMA "
            "of the weights with decay 0.995 ramped over 200 steps (the default 2000-step ramp would leave it "
            "near the latest weights in a run of about 1600 steps), NMS at IoU 0.5 (on six of these runs' "
            "checkpoints it gave 0.002-0.005 more mAP@.5 than TF's 0.6; 0.45 came within 0.001 of it, 0.55 and "
            "0.7 were behind), "
            "the data loaded in the training process (--workers 0: 45 steps of the loop ran at 13.8 and 14.1 "
            "images/s against 13.3 and 13.3 with 2 workers, whose processes take the cores the step's threads "
            "use). One run each with --time 15 "
            "(COCO mAP / mAP@.5): 320 px with TF's scales 0.572 / 0.757 (13 epochs); 384 px 0.629 / 0.808 (12); "
            "448 px 0.591 / 0.766 (9); 384 px with focal loss 0.499 / 0.629 (13); 384 px, scales 0.15-0.5 0.640 / "
            "0.843 (14, validating every epoch); that, validating every 5: 0.648 / 0.852 (15 epochs, 14.2 minutes). "
            "On a slower 2-core Xeon (8-9 epochs in 15 minutes), TF's layout 0.542 / 0.745, torchvision's 0.579 / "
            "0.769; then batch 8 (lr 3.5e-3, the square-root rule) 0.612 / 0.799, and with anchors matched "
            "from IoU 0.4 (--match-iou) 0.661 / 0.847; at the 5th epoch that run had 0.789, IoU 0.3 0.767, "
            "lr 5e-3 0.761, 2.5e-3 0.717, IoU 0.45 0.721, batch 4 (lr 2.5e-3, 9% fewer images/s) 0.791; anchor "
            "scales from 0.1 0.785 (0.828 after 7 epochs on a slower day); then fp32 (--amp off) 0.806 and "
            "0.659 / 0.848 at the end (7.5 epochs), and fp32 with the EMA 0.827 and 0.679 / 0.862 (7.8 epochs); "
            "a second run of this recipe on a 13% slower hour of the same VM 0.666 / 0.845 (6.9 epochs); "
            "with --workers 0 0.682 / 0.863 (8.2 epochs; 0.684 / 0.866 with NMS 0.5), and that with --time 13.5 "
            "0.659 / 0.850 (7.1 epochs; 0.659 / 0.853 with NMS 0.5); this recipe 0.700 / 0.884 (8.1 epochs) and "
            "0.675 / 0.861 on a slow hour (7.2 epochs), and with --time 13 on a slow hour 0.645 / 0.843 (6.1). "
            "The optimizer was chosen by 600-step trials (batch 16, 256 px, one run each; COCO mAP): SGD 0.1 "
            "0.0002 (300 steps), AdamW 2e-3 0.19 with flips and 0.16 with a light zoom, 5e-3 0.21, 1e-2 0.12",
            config=DetectTrainConfig(model="ssdlite_mobilenet_v2", width=0.5, imgsz=384, epochs=10, batch=8,
                                     lr=0.0035, optimizer="adamw", schedule="cosine", warmup_epochs=0.5,
                                     weight_decay=1e-4, clip_grad=10.0, augment="flip", anchor_layout="torchvision",
                                     anchor_min_scale=0.15, anchor_max_scale=0.5, match_iou=0.4, val_period=5,
                                     amp="off", ema=True, ema_decay=0.995, ema_ramp=200.0, nms_iou=0.5,
                                     workers=0),
        ),
    )
}
