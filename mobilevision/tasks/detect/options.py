"""SSDLite's head options, one object that the detector, the multi-task model, their training
configs (one flag per field) and their checkpoints share."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.datasets.transforms import DETECTION_AUGMENTATIONS
from mobilevision.engine.config import option
from mobilevision.errors import MobileVisionError
from mobilevision.heads.anchors import ANCHOR_LAYOUTS, parse_aspect_ratios

CLASS_LOSSES = ("cross_entropy", "focal")
ANCHOR_CHOICES = ("default", "auto")
BOX_HEADS = ("ssdlite", "ssd")


@dataclass(frozen=True)
class SSDLiteOptions:
    """How SSDLite places its anchors, learns and suppresses boxes. Defaults: TF's ssdlite_mobilenet_v2_coco."""

    box_head: str = option("ssdlite", "extra layers and predictors: SSDLite's depthwise separable convs, or SSD's full "
                       "convs (TF ssd_mobilenet_v1_coco: full 3x3 extras, 1x1 predictors)", BOX_HEADS)
    anchor_layout: str = option("tf", "anchor shapes: TF ssdlite_mobilenet_v2_coco or torchvision's ssdlite320",
                                ANCHOR_LAYOUTS)
    anchor_min_scale: float = option(0.2, "anchor scale of the lowest level, a fraction of the image side (TF's "
                                     "min_scale; its lowest level also holds a fixed 0.1 box)")
    anchor_max_scale: float = option(0.95, "anchor scale of the highest level, a fraction of the image side (TF's "
                                     "max_scale)")
    # A string, not a tuple: one CLI flag, and args.yaml and checkpoints store it as they store the rest.
    anchor_aspect_ratios: str = option("", "anchor aspect ratios (width / height), comma-separated, e.g. "
                                       "1,2,0.5,3,0.3333 ('': the layout's own; TF's lowest level keeps its "
                                       "three fixed boxes)")
    anchors: str = option("default", "default: the anchor options as given; auto: fit the scales and aspect ratios "
                          "to the training boxes before training (best possible recall at --match-iou, then "
                          "mean IoU; docs/training.md) and record the fitted values in the checkpoint", ANCHOR_CHOICES)
    class_loss: str = option("cross_entropy", "softmax cross-entropy with 3:1 hard negatives (SSD) or sigmoid focal "
                             "loss on every anchor (RetinaNet)", CLASS_LOSSES)
    match_iou: float = option(0.5, "IoU at which an anchor is matched to an object in training (SSD's and TF's 0.5; "
                              "every object also takes its best anchor); lower gives small objects more positives")
    nms_iou: float = option(0.6, "IoU above which NMS drops the lower-scored of two boxes of one class when the model "
                            "predicts, validates and exports (TF's 0.6; torchvision's SSDLite 0.55, SSD's 0.45)")

    def __post_init__(self) -> None:
        if not 0 < self.anchor_min_scale < self.anchor_max_scale <= 1:
            raise MobileVisionError(f"anchor scales must satisfy 0 < min < max <= 1 (fractions of the image side); "
                                    f"got {self.anchor_min_scale} and {self.anchor_max_scale}")
        parse_aspect_ratios(self.anchor_aspect_ratios)
        if self.anchors not in ANCHOR_CHOICES:
            raise MobileVisionError(f"anchors must be one of {', '.join(ANCHOR_CHOICES)}; got {self.anchors!r}")
        if not 0 < self.match_iou <= 1:
            raise MobileVisionError(f"match_iou must be in (0, 1] (an anchor's IoU with an object); "
                                    f"got {self.match_iou}")
        if not 0 < self.nms_iou <= 1:
            raise MobileVisionError(f"nms_iou must be in (0, 1] (the IoU of two boxes above which NMS keeps only the "
                                    f"better one); got {self.nms_iou}")
        if self.box_head not in BOX_HEADS:
            raise MobileVisionError(f"box_head must be one of {', '.join(BOX_HEADS)}; got {self.box_head!r}")
        if self.class_loss not in CLASS_LOSSES:
            raise MobileVisionError(f"class_loss must be one of {', '.join(CLASS_LOSSES)}; got {self.class_loss!r}")


@dataclass(frozen=True)
class BoxAugmentation:
    """The training augmentation of images with boxes (detection, and the multi-task model's)."""

    augment: str = option("ssd", "training augmentation: SSD's (colour, zoom out, IoU crop, flip) or only flips and "
                          "light colour jitter (short budgets)", DETECTION_AUGMENTATIONS)

