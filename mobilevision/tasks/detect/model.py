"""The SSDLite detector: a backbone's "detect" features, the SSDLite head, and SSD's anchors.

Training mode: forward(images (N, 3, H, W), targets) -> {"bbox_regression": loss, "classification": loss}
with targets one dict per image: {"boxes": (K, 4) float xyxy input pixels, "labels": (K,) int64 in
1..num_classes-1}. Eval mode: forward(images, orig_sizes=None) -> one {"boxes", "scores", "labels"}
per image in original-image coordinates. `raw_outputs` is the part that is exported and counted.
With `backbone_features` the model is the head only, on a backbone the multi-task model shares.
With `aux_segment_classes` it also carries a training-only segmentation head (see SSDLite), and
each training target also holds "class_map" (H, W) int64, 255 = ignore.
Images are expected scaled to [-1, 1] (mean = std = 0.5, as TF trained SSDLite); `mean`/`std` say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mobilevision.backbones import FeatureSpec, backbone_class
from mobilevision.engine.config import options_of
from mobilevision.errors import MobileVisionError
from mobilevision.heads.anchors import AnchorGenerator, feature_map_sizes, parse_aspect_ratios
from mobilevision.heads.deeplab import DeepLabV3Head
from mobilevision.heads.resize import resize_bilinear
from mobilevision.heads.segmentation_loss import sample_labels, segmentation_cross_entropy
from mobilevision.heads.ssdlite import EXTRA_CHANNELS, MIN_DEPTH, SSDLiteHead
from mobilevision.tasks.detect.loss import multibox_loss
from mobilevision.tasks.detect.options import SSDLiteOptions
from mobilevision.tasks.detect.postprocess import postprocess_detections
from mobilevision.tasks.model import TaskModel

# A 1% foreground prior for the focal loss's class logits (RetinaNet; TF's class_prediction_bias_init).
FOCAL_PRIOR_BIAS = -4.6
# The auxiliary segmentation loss runs on a grid 4x coarser than the input: at full resolution
# resizing the logits and the cross-entropy cost about a fifth of a width-0.5 step at 320 px.
AUX_SEGMENT_LOSS_STRIDE = 4


class AuxiliarySegmentation(nn.Module):
    """The paper's mobile DeepLabv3 head on the stride-32 features, trained with DeepLab's loss on a
    grid AUX_SEGMENT_LOSS_STRIDE times coarser than the input (the multi-task model's segmenter, keys
    `head.` alike, so its weights move between the two)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.head = DeepLabV3Head(in_channels, num_classes, head="mobile", output_stride=32)

    def loss(self, features: torch.Tensor, class_maps: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the head on features (N, C, H/32, W/32) against class_maps (N, H, W),
        255 = ignore."""
        size = tuple((side - 1) // AUX_SEGMENT_LOSS_STRIDE + 1 for side in class_maps.shape[-2:])
        logits = resize_bilinear(self.head(features, None), size)
        return segmentation_cross_entropy(logits, sample_labels(class_maps, size))


class SSDLite(TaskModel):
    """Backbone + SSDLiteHead; anchors for each input size are made on first use and cached.

    aux_segment_classes > 0 adds an auxiliary segmentation loss for training only, weighted
    `aux_segment_weight`: the paper's mobile DeepLabv3 head on the backbone's stride-32 segmentation
    feature, as the multi-task model's. Per-pixel class labels give the shared features a dense
    signal for every object from the first steps (YOLACT trains with such a loss for the same
    reason); eval mode, raw_outputs, export and the counted model never run it.
    """

    raw_output_names = ("box_deltas", "class_logits")
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self, *, backbone: str = "mobilenet_v2", width: float = 1.0, num_classes: int = 91, imgsz: int = 320,
                 ssdlite: SSDLiteOptions | Mapping | None = None, freeze_bn: bool = False, box_loss: str = "smooth_l1",
                 score_threshold: float = 0.001, topk_candidates: int = 100, max_detections: int = 100,
                 aux_segment_classes: int = 0, aux_segment_weight: float = 1.0,
                 backbone_options: Mapping | None = None,
                 backbone_features: Mapping[str, FeatureSpec] | None = None) -> None:
        super().__init__()
        self.options = options = options_of(SSDLiteOptions, ssdlite)
        roles = backbone_class(backbone).roles
        self.feature_names = tuple(roles["ssdlite"])
        self.segment_feature = roles["deeplab"]
        wanted = [*self.feature_names, *([self.segment_feature] if aux_segment_classes else [])]
        info = self.attach_backbone(backbone, width=width, out_features=wanted, freeze_bn=freeze_bn,
                                    backbone_features=backbone_features, **dict(backbone_options or {}))
        self.anchor_generator = AnchorGenerator(layout=options.anchor_layout, min_scale=options.anchor_min_scale,
                                                max_scale=options.anchor_max_scale,
                                                aspect_ratios=parse_aspect_ratios(options.anchor_aspect_ratios))
        # TF scales the extra blocks with the backbone's depth multiplier, never below min_depth.
        extra_channels = [max(int(c * width), MIN_DEPTH) for c in EXTRA_CHANNELS]
        self.head = SSDLiteHead(
            [info[name].channels for name in self.feature_names],
            num_anchors=self.anchor_generator.num_anchors_per_location(),
            num_classes=num_classes,
            extra_channels=extra_channels,
            class_bias_init=FOCAL_PRIOR_BIAS if options.class_loss == "focal" else 0.0,
            separable=options.box_head == "ssdlite",
            # A network trained in TF keeps TF's padding in the head as in the backbone.
            tf_same=bool(dict(backbone_options or {}).get("tf_conventions")),
        )
        last_stride = info[self.feature_names[-1]].stride
        self.strides = [info[name].stride for name in self.feature_names]
        self.strides += [last_stride * 2 ** (i + 1) for i in range(len(extra_channels))]
        self.num_classes = num_classes
        self.imgsz = imgsz
        self.box_loss = box_loss
        self.score_threshold = score_threshold
        self.topk_candidates = topk_candidates
        self.max_detections = max_detections
        self._anchors: dict[tuple[int, int, torch.device], torch.Tensor] = {}
        self.aux_segment_weight = aux_segment_weight
        self.aux_segment = (AuxiliarySegmentation(info[self.segment_feature].channels, aux_segment_classes)
                            if aux_segment_classes else None)

    def anchors(self, image_size: tuple[int, int], *, device: torch.device | None = None) -> torch.Tensor:
        """(A, 4) xyxy anchors in input pixels for an (H, W) input, in the order of raw_outputs."""
        device = torch.device(device or "cpu")
        key = (int(image_size[0]), int(image_size[1]), device)
        if key not in self._anchors:
            sizes = feature_map_sizes(key[:2], strides=self.strides)
            self._anchors[key] = self.anchor_generator(sizes, key[:2]).to(device)
        return self._anchors[key]

    def head_outputs(self, features: dict[str, torch.Tensor], *,
                     image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's feature maps -> box_deltas (N, A, 4), class_logits (N, A, num_classes)."""
        return self.head([features[name] for name in self.feature_names])

    def losses(self, raw: tuple[torch.Tensor, torch.Tensor], targets: list[dict], *,
               features: dict[str, torch.Tensor], image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """{"bbox_regression", "classification"}: the MultiBox (or focal) loss of the raw outputs;
        with the auxiliary head also {"aux_segment"}, from the targets' "class_map"s."""
        anchors = self.anchors(image_size, device=raw[0].device)
        losses = multibox_loss(*raw, targets, anchors, iou_threshold=self.options.match_iou, box_loss=self.box_loss,
                               class_loss=self.options.class_loss)
        if self.aux_segment is not None:
            class_maps = torch.stack([target["class_map"] for target in targets])
            losses["aux_segment"] = self.aux_segment_weight * self.aux_segment.loss(features[self.segment_feature],
                                                                                    class_maps)
        return losses

    def postprocess(
        self,
        raw: tuple[torch.Tensor, torch.Tensor],
        *,
        image_size: tuple[int, int],
        orig_sizes: Sequence[Sequence[int]] | None = None,
    ) -> list[dict[str, torch.Tensor]]:
        """Eval-mode predictions from raw outputs (any runtime's): decode, threshold, per-class
        NMS; one {"boxes", "scores", "labels"} per image in `orig_sizes` coordinates."""
        box_deltas, class_logits = raw
        return postprocess_detections(
            box_deltas,
            class_logits,
            self.anchors(image_size, device=box_deltas.device),
            image_size=image_size,
            orig_sizes=orig_sizes,
            score_activation="sigmoid" if self.options.class_loss == "focal" else "softmax",
            score_threshold=self.score_threshold,
            topk_per_class=self.topk_candidates,
            nms_iou=self.options.nms_iou,
            max_detections=self.max_detections,
        )

def build_ssdlite(*, backbone: str = "mobilenet_v2", width: float = 1.0, num_classes: int = 91, imgsz: int = 320,
                  ssdlite: SSDLiteOptions | Mapping | None = None, output_stride: int = 32, freeze_bn: bool = False,
                  box_loss: str = "smooth_l1", score_threshold: float = 0.001, topk_candidates: int = 100,
                  max_detections: int = 100, aux_segment_classes: int = 0, aux_segment_weight: float = 1.0,
                  backbone_options: Mapping | None = None,
                  backbone_features: Mapping[str, FeatureSpec] | None = None) -> SSDLite:
    """SSDLite on MobileNetV2 or MobileNetV1 as published (TF ssdlite_mobilenet_v2_coco).

    num_classes counts the background (COCO: 91, as torchvision's detectors). `imgsz` is the
    training/eval input side the model is meant for (the anchors follow whatever size comes in).
    `ssdlite`: the head's options (SSDLiteOptions or its dict: anchor layout and scales, class loss,
    match and NMS IoUs). aux_segment_classes (background included) > 0 adds the training-only
    segmentation loss, weighted aux_segment_weight (SSDLite's docstring). The SSD levels need the
    stride-32 map, so output_stride is 32 only. `backbone_features`: the head only, on a backbone
    the multi-task model shares. Eval keeps per class the `topk_candidates` best boxes above
    `score_threshold` for NMS (0: all of them, as TF's SSD), then the `max_detections` best
    (torchvision's SSD: 300, 300).
    `backbone_options`: the backbone's own keyword arguments (MobileNetV3's reduced_tail).
    """
    if output_stride != 32:
        raise MobileVisionError(f"SSDLite needs output_stride=32 (its levels are strides 16..512); got {output_stride}")
    if num_classes < 2:
        raise MobileVisionError(f"num_classes counts the background and must be at least 2; got {num_classes}")
    return SSDLite(backbone=backbone, width=width, num_classes=num_classes, imgsz=imgsz, ssdlite=ssdlite,
                   freeze_bn=freeze_bn, box_loss=box_loss, score_threshold=score_threshold,
                   topk_candidates=topk_candidates, max_detections=max_detections,
                   aux_segment_classes=aux_segment_classes, aux_segment_weight=aux_segment_weight,
                   backbone_options=backbone_options, backbone_features=backbone_features)
