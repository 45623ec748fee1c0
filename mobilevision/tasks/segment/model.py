"""Mobile DeepLabv3: a backbone's "segment" feature -> ASPP or mobile head -> logits at image size
(or the loss's coarser grid) -> class map."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from mobilevision.backbones import FeatureSpec, backbone_class
from mobilevision.engine.config import options_of
from mobilevision.errors import MobileVisionError
from mobilevision.heads.deeplab import AuxiliaryHead, DeepLabV3Head
from mobilevision.heads.lraspp import LRASPPHead
from mobilevision.heads.resize import resize_bilinear
from mobilevision.heads.segmentation_loss import sample_labels, segmentation_cross_entropy
from mobilevision.tasks.model import TaskModel
from mobilevision.tasks.segment.options import DECODER_FEATURE_ROLES, DeepLabOptions, parse_class_weights

# torchvision's references/segmentation/train.py weighs the auxiliary loss 0.5 (PSPNet and
# mmsegmentation use 0.4); the value matters little, as it only shapes early-layer gradients.
AUX_LOSS_WEIGHT = 0.5


def feature_names(backbone: str, options: DeepLabOptions) -> tuple[str, str | None, str | None]:
    """(the features the head reads, the low-level ones its decoder fuses or None, the auxiliary
    head's or None) of `backbone`, by its roles: LR-ASPP's own decoder reads the stride-8 features."""
    roles = backbone_class(backbone).roles
    low = roles[DECODER_FEATURE_ROLES[options.decoder_stride]] if options.decoder else None
    if options.head == "lraspp":
        low = roles["lraspp_low"]
    return roles["deeplab"], low, roles["aux"] if options.aux else None


class DeepLabV3(TaskModel):
    """Backbone (dilated to `output_stride`) + DeepLabv3 head (+ decoder) (+ auxiliary head).

    Training mode: forward(images (N, 3, H, W), targets (N, H, W) int64, 255 = ignore) ->
    {"segmentation": loss} and, with aux, {"aux": AUX_LOSS_WEIGHT * aux loss}: the training loop
    sums the dict. Eval mode: forward(images) -> class map (N, H, W) int64 at the input size.

    With `backbone_features` (the declared features of a backbone the multi-task model owns and
    shares, at `output_stride`) it builds no backbone of its own (`backbone` is None) and is run by
    that model through head_outputs, losses and postprocess.
    """

    raw_output_names = ("logits",)
    class_map_source = "logits"  # the raw output an exported graph turns into its class map (deploy/onnx_export.py)

    def __init__(self, *, backbone: str = "mobilenet_v2", width: float = 1.0, num_classes: int = 21,
                 output_stride: int = 16, deeplab: DeepLabOptions | Mapping | None = None, freeze_bn: bool = False,
                 backbone_options: Mapping | None = None,
                 backbone_features: Mapping[str, FeatureSpec] | None = None) -> None:
        super().__init__()
        self.options = options = options_of(DeepLabOptions, deeplab)
        if options.decoder_stride not in DECODER_FEATURE_ROLES:
            raise ValueError(f"decoder_stride must be one of {sorted(DECODER_FEATURE_ROLES)}; "
                             f"got {options.decoder_stride}")
        self.feature_name, self.low_level_name, self.aux_name = feature_names(backbone, options)
        wanted = [name for name in (self.feature_name, self.low_level_name, self.aux_name) if name is not None]
        # The paper's "MobileNetV2*": the head reads the 320-channel bottleneck, so the 1280-channel
        # last layer would only add 0.4M parameters and 0.4B multiply-adds at 513 px.
        extra = {"include_last_layer": False} if backbone == "mobilenet_v2" else {}
        info = self.attach_backbone(backbone, width=width, out_features=wanted, freeze_bn=freeze_bn,
                                    backbone_features=backbone_features, output_stride=output_stride,
                                    **extra, **dict(backbone_options or {}))
        if info[self.feature_name].stride != output_stride:
            raise ValueError(f"output_stride={output_stride} but the backbone's {self.feature_name} has stride "
                             f"{info[self.feature_name].stride}")
        if options.head == "lraspp":
            self.head = LRASPPHead(info[self.feature_name].channels, num_classes,
                                   low_channels=info[self.low_level_name].channels)
        else:
            low_channels = info[self.low_level_name].channels if options.decoder else None
            self.head = DeepLabV3Head(info[self.feature_name].channels, num_classes, head=options.head,
                                      output_stride=output_stride, low_level_channels=low_channels)
        self.aux_head = AuxiliaryHead(info[self.aux_name].channels, num_classes) if options.aux else None
        self.num_classes = num_classes
        self.class_weights = parse_class_weights(options.class_weights)
        if self.class_weights is not None and len(self.class_weights) != num_classes:
            raise MobileVisionError(f"--class-weights {options.class_weights!r} gives {len(self.class_weights)} "
                                    f"weights for {num_classes} classes: give one per class, background first")

    def head_outputs(self, features: dict[str, torch.Tensor], *, image_size: tuple[int, int]) -> torch.Tensor:
        """The backbone's feature maps -> logits (N, num_classes, *image_size); with loss_stride
        s > 1, at the loss's size, (H - 1) // s + 1 by (W - 1) // s + 1, which postprocess resizes."""
        low_level = features[self.low_level_name] if self.low_level_name is not None else None
        size = image_size
        if self.options.loss_stride > 1:
            # Training: resizing the logits to the input size and the cross-entropy there are a fifth
            # of a multi-task step on a 2-core CPU (docs/benchmarks.md). Eval: the class-area reader
            # sees the grid it was trained on, and a multi-task graph leaves the full-size resize, a
            # quarter of its time in ONNX Runtime, to the frame's own resize (docs/benchmarks.md).
            size = tuple((side - 1) // self.options.loss_stride + 1 for side in image_size)
        return resize_bilinear(self.head(features[self.feature_name], low_level), size,
                               align_corners=self.head.align_corners)

    def losses(self, logits: torch.Tensor, targets: torch.Tensor, *, features: dict[str, torch.Tensor],
               image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """{"segmentation"} (+ {"aux"}, weighted AUX_LOSS_WEIGHT) of logits (N, K, H, W) against
        targets (N, H, W) int64, 255 = ignore; the auxiliary head reads `features`."""
        expected = (logits.shape[0], *image_size)
        if targets.shape != expected:
            raise ValueError(f"targets must be (N, H, W) = {expected}; got {tuple(targets.shape)}")
        size = tuple(logits.shape[-2:])
        if size != tuple(image_size):  # loss_stride > 1
            targets = sample_labels(targets, size)
        # Not a buffer: they shape training only, and the state_dict keeps the published releases' keys.
        weights = None if self.class_weights is None else logits.new_tensor(self.class_weights)
        losses = {"segmentation": segmentation_cross_entropy(logits, targets, top_k_pixels=self.options.top_k_pixels,
                                                             class_weights=weights)}
        if self.aux_head is not None:
            aux_logits = resize_bilinear(self.aux_head(features[self.aux_name]), size)
            losses["aux"] = AUX_LOSS_WEIGHT * segmentation_cross_entropy(aux_logits, targets, class_weights=weights)
        return losses

    def postprocess(self, logits: torch.Tensor | None, *, image_size: tuple[int, int],
                    class_map: torch.Tensor | None = None) -> torch.Tensor:
        """Eval-mode predictions from raw outputs (any runtime's): class map (N, *image_size) int64,
        the logits resized to the image first where the loss's grid is coarser; `class_map`, an
        exported graph's own (its logits then None), is that already."""
        if class_map is not None:
            return class_map
        return self.class_map(logits, image_size=image_size)

    def class_map(self, logits: torch.Tensor, *, image_size: tuple[int, int]) -> torch.Tensor:
        """Logits (N, K, h, w) -> class map (N, *image_size) int64: what an exported graph returns
        beside them (deploy/onnx_export.py)."""
        if tuple(logits.shape[-2:]) != tuple(image_size):
            logits = resize_bilinear(logits, image_size, align_corners=self.head.align_corners)
        # max(dim).indices, not argmax: the same first-maximum indices, yet torch's argmax over the
        # class planes of (1, 7, 256, 256) logits took 6.1 ms on a 2-core CPU, most of the multi-task
        # model's postprocess (its network: 4.8 ms in ONNX Runtime).
        return logits.max(dim=1).indices


def build_deeplabv3(*, backbone: str = "mobilenet_v2", width: float = 1.0, num_classes: int = 21,
                    output_stride: int = 16, deeplab: DeepLabOptions | Mapping | None = None, freeze_bn: bool = False,
                    backbone_options: Mapping | None = None,
                    backbone_features: Mapping[str, FeatureSpec] | None = None) -> DeepLabV3:
    """Mobile DeepLabv3. Defaults are the MobileNetV2 paper's Table 7 row at 2.11M / 2.75B:
    MobileNetV2* at output stride 16, the mobile head, 21 VOC classes. `deeplab`: the head's options
    (DeepLabOptions or its dict): head="aspp" for full ASPP; decoder=True adds the DeepLabv3+
    decoder on the stride-4 features (decoder_stride=8: on the stride-8 ones); aux=True an FCN
    auxiliary loss on the stride-8 features in training; top_k_pixels < 1 averages the loss over
    only that fraction of hardest labelled pixels; loss_stride > 1 computes the training loss on a
    grid that many times coarser than the input (logits resized to it, labels sampled at its
    points); predictions stay at the input size. freeze_bn keeps the backbone's BN statistics.
    `backbone_options`: the backbone's own keyword arguments (TF-slim's tf_conventions).
    `backbone_features`: the head only, on a backbone the multi-task model shares."""
    return DeepLabV3(backbone=backbone, width=width, num_classes=num_classes, output_stride=output_stride,
                     deeplab=deeplab, freeze_bn=freeze_bn, backbone_options=backbone_options,
                     backbone_features=backbone_features)
