"""Mobile DeepLabv3: a backbone's "segment" feature -> ASPP or mobile head -> logits at image size."""

from __future__ import annotations

import torch
from torch import nn

from mobilevision.backbones import backbone_class, build_backbone
from mobilevision.heads.deeplab import AuxiliaryHead, DeepLabV3Head
from mobilevision.heads.resize import resize_bilinear
from mobilevision.tasks.segment.loss import segmentation_cross_entropy

# torchvision's references/segmentation/train.py weighs the auxiliary loss 0.5 (PSPNet and
# mmsegmentation use 0.4); the value matters little, as it only shapes early-layer gradients.
AUX_LOSS_WEIGHT = 0.5


class DeepLabV3(nn.Module):
    """Backbone (dilated to `output_stride`) + DeepLabv3 head (+ decoder) (+ auxiliary head).

    Training mode: forward(images (N, 3, H, W), targets (N, H, W) int64, 255 = ignore) ->
    {"segmentation": loss} and, with aux, {"aux": AUX_LOSS_WEIGHT * aux loss}: the training loop
    sums the dict. Eval mode: forward(images) -> class map (N, H, W) int64 at the input size.
    """

    def __init__(
        self,
        *,
        backbone: str = "mobilenet_v2",
        width: float = 1.0,
        num_classes: int = 21,
        head: str = "mobile",
        output_stride: int = 16,
        decoder: bool = False,
        aux: bool = False,
        freeze_bn: bool = False,
    ) -> None:
        super().__init__()
        roles = backbone_class(backbone).roles
        self.feature_name = roles["segment"]
        self.low_level_name = roles["segment_low"] if decoder else None
        self.aux_name = roles["aux"] if aux else None
        wanted = [name for name in (self.feature_name, self.low_level_name, self.aux_name) if name is not None]
        # The paper's "MobileNetV2*": the head reads the 320-channel bottleneck, so the 1280-channel
        # last layer would only add 0.4M parameters and 0.4B multiply-adds at 513 px.
        extra = {"include_last_layer": False} if backbone == "mobilenet_v2" else {}
        self.backbone = build_backbone(
            backbone, width=width, output_stride=output_stride, out_features=wanted, freeze_bn=freeze_bn, **extra
        )
        info = self.backbone.feature_info()
        self.head = DeepLabV3Head(
            info[self.feature_name].channels,
            num_classes,
            head=head,
            output_stride=output_stride,
            low_level_channels=info[self.low_level_name].channels if decoder else None,
        )
        self.aux_head = AuxiliaryHead(info[self.aux_name].channels, num_classes) if aux else None
        self.num_classes = num_classes

    def _segment(self, features: dict[str, torch.Tensor], size: torch.Size) -> torch.Tensor:
        low_level = features[self.low_level_name] if self.low_level_name is not None else None
        return resize_bilinear(self.head(features[self.feature_name], low_level), size)

    def raw_outputs(self, images: torch.Tensor) -> torch.Tensor:
        """The exported and counted part: (N, 3, H, W) -> logits (N, num_classes, H, W)."""
        return self._segment(self.backbone(images), images.shape[2:])

    def postprocess(self, logits: torch.Tensor, *, image_size: tuple[int, int]) -> torch.Tensor:
        """Eval-mode predictions from raw outputs (any runtime's): class map (N, H, W) int64."""
        return logits.argmax(dim=1)

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None):
        if not self.training:
            return self.postprocess(self.raw_outputs(images), image_size=tuple(images.shape[-2:]))
        if targets is None:
            raise ValueError("DeepLabV3 in training mode needs targets (N, H, W); call model.eval() to predict")
        expected = (images.shape[0], *images.shape[2:])
        if targets.shape != expected:
            raise ValueError(f"targets must be (N, H, W) = {expected}; got {tuple(targets.shape)}")
        features = self.backbone(images)
        losses = {"segmentation": segmentation_cross_entropy(self._segment(features, images.shape[2:]), targets)}
        if self.aux_head is not None:
            aux_logits = resize_bilinear(self.aux_head(features[self.aux_name]), images.shape[2:])
            losses["aux"] = AUX_LOSS_WEIGHT * segmentation_cross_entropy(aux_logits, targets)
        return losses


def build_deeplabv3(
    *,
    backbone: str = "mobilenet_v2",
    width: float = 1.0,
    num_classes: int = 21,
    head: str = "mobile",
    output_stride: int = 16,
    decoder: bool = False,
    aux: bool = False,
    freeze_bn: bool = False,
) -> DeepLabV3:
    """Mobile DeepLabv3. Defaults are the MobileNetV2 paper's Table 7 row at 2.11M / 2.75B:
    MobileNetV2* at output stride 16, the mobile head (head="aspp" for full ASPP), 21 VOC classes.
    decoder=True adds the DeepLabv3+ decoder on the stride-4 features; aux=True an FCN auxiliary
    loss on the stride-8 features during training; freeze_bn keeps the backbone's BN statistics."""
    return DeepLabV3(
        backbone=backbone,
        width=width,
        num_classes=num_classes,
        head=head,
        output_stride=output_stride,
        decoder=decoder,
        aux=aux,
        freeze_bn=freeze_bn,
    )
