"""DeepLabv3 heads: the segmentation head (ASPP or the mobile head, optional DeepLabv3+
decoder, 1x1 classifier) and the FCN-style auxiliary head used only for training."""

from __future__ import annotations

import torch
from torch import nn

from mobilevision.backbones.blocks import ConvBNAct, init_conv_bn
from mobilevision.heads.aspp import ASPP, atrous_rates_for
from mobilevision.heads.decoder import DeepLabV3PlusDecoder

HEAD_CHANNELS = 256


class DeepLabV3Head(nn.Module):
    """Encoder head + optional decoder + classifier, all at feature resolution.

    forward(features (N, C, H/os, W/os), low_level (N, C_low, H/4, W/4) or None) -> logits
    (N, num_classes, H/os, W/os), or (N, num_classes, H/4, W/4) with the decoder. Upsampling to the
    image is the task model's job: it knows the image size, the head does not.

    head="aspp": full ASPP at rates for `output_stride` (6, 12, 18 at 16; doubled at 8).
    head="mobile": the MobileNetV2 paper's head, only the 1x1 and image-pooling branches.
    """

    align_corners = True  # the model resizes its logits as TF DeepLab (heads/resize.py)

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        head: str = "mobile",
        output_stride: int = 16,
        separable_aspp: bool = False,
        low_level_channels: int | None = None,
    ) -> None:
        super().__init__()
        if head not in ("mobile", "aspp"):
            raise ValueError(f"unknown DeepLabv3 head {head!r}; use 'mobile' or 'aspp'")
        rates = atrous_rates_for(output_stride) if head == "aspp" else ()
        self.aspp = ASPP(in_channels, out_channels=HEAD_CHANNELS, atrous_rates=rates, separable=separable_aspp)
        self.decoder = (
            DeepLabV3PlusDecoder(HEAD_CHANNELS, low_level_channels, out_channels=HEAD_CHANNELS)
            if low_level_channels is not None
            else None
        )
        self.classifier = nn.Conv2d(HEAD_CHANNELS, num_classes, kernel_size=1)
        init_conv_bn(self)
        init_classifier(self.classifier)

    def forward(self, features: torch.Tensor, low_level: torch.Tensor | None = None) -> torch.Tensor:
        x = self.aspp(features)
        if self.decoder is not None:
            if low_level is None:
                raise ValueError("DeepLabV3Head was built with a decoder; pass the stride-4 low_level features")
            x = self.decoder(x, low_level)
        return self.classifier(x)


class AuxiliaryHead(nn.Module):
    """FCN head on the stride-8 features: (N, C, h, w) -> logits (N, num_classes, h, w).

    A 3x3 conv to C/4 channels + BN + ReLU, dropout 0.1, 1x1 classifier (torchvision's FCNHead,
    which its DeepLabv3 models use as aux_classifier). Its loss gives the early layers a direct
    gradient; it is not run at inference, so it is not in exports or counts.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        hidden = max(in_channels // 4, 1)
        self.conv = ConvBNAct(in_channels, hidden, activation="relu")
        self.dropout = nn.Dropout(p=0.1)
        self.classifier = nn.Conv2d(hidden, num_classes, kernel_size=1)
        init_conv_bn(self)
        init_classifier(self.classifier)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.conv(features)))


def init_classifier(classifier: nn.Conv2d) -> None:
    """Small logits at the start (normal(0, 0.01), zero bias), as the ImageNet classifier head:
    Kaiming fan-out on a 1x1 conv to a few classes starts the loss at ~3x ln(K) and slows the
    first hundred steps (measured in benchmarks/segment_classifier_init.py)."""
    nn.init.normal_(classifier.weight, mean=0.0, std=0.01)
    nn.init.zeros_(classifier.bias)
