"""DeepLabv3 heads: the segmentation head (ASPP or the mobile head, optional DeepLabv3+
decoder, 1x1 classifier) and the FCN-style auxiliary head used only for training."""

from __future__ import annotations

import torch
from torch import nn

from mobilevision.backbones.blocks import ConvBNAct, init_conv_bn
from mobilevision.heads.aspp import ASPP, TF_DEEPLAB_DROPOUT, atrous_rates_for
from mobilevision.heads.decoder import DeepLabV3PlusDecoder

HEAD_CHANNELS = 256
# torchvision's DeepLabHead keeps these rates at every output stride (its ResNet models run at 8, its
# MobileNetV3 one at 16) and drops half the projected features.
TORCHVISION_ATROUS_RATES = (12, 24, 36)
TORCHVISION_DROPOUT = 0.5


class DeepLabV3Head(nn.Module):
    """Encoder head + optional decoder + classifier, all at feature resolution.

    forward(features (N, C, H/os, W/os), low_level (N, C_low, H/4, W/4) or None) -> logits
    (N, num_classes, H/os, W/os), or (N, num_classes, H/4, W/4) with the decoder. Upsampling to the
    image is the task model's job: it knows the image size, the head does not.

    head="aspp": full ASPP at rates for `output_stride` (6, 12, 18 at 16; doubled at 8).
    head="mobile": the MobileNetV2 paper's head, only the 1x1 and image-pooling branches.
    head="torchvision": torchvision's DeepLabHead, so its weights load: full ASPP at rates 12, 24, 36
    whatever the output stride, dropout 0.5, a 3x3 conv + BN + ReLU ("refine") before the classifier,
    and torchvision's resize convention (`align_corners` False, which the model's final resize reads).
    """

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
        if head not in ("mobile", "aspp", "torchvision"):
            raise ValueError(f"unknown DeepLabv3 head {head!r}; use 'mobile' or 'aspp' "
                             "(or 'torchvision' for torchvision's DeepLabHead)")
        torchvision = head == "torchvision"
        # The paper heads' logits are resized as TF DeepLab's (heads/resize.py); torchvision's as it trained them.
        self.align_corners = not torchvision
        if torchvision:
            rates, dropout = TORCHVISION_ATROUS_RATES, TORCHVISION_DROPOUT
        else:
            rates, dropout = (atrous_rates_for(output_stride) if head == "aspp" else ()), TF_DEEPLAB_DROPOUT
        self.aspp = ASPP(in_channels, out_channels=HEAD_CHANNELS, atrous_rates=rates, separable=separable_aspp,
                         dropout=dropout)
        self.decoder = (
            DeepLabV3PlusDecoder(HEAD_CHANNELS, low_level_channels, out_channels=HEAD_CHANNELS)
            if low_level_channels is not None
            else None
        )
        self.refine = ConvBNAct(HEAD_CHANNELS, HEAD_CHANNELS, activation="relu") if torchvision else None
        self.classifier = nn.Conv2d(HEAD_CHANNELS, num_classes, kernel_size=1)
        init_conv_bn(self)
        init_classifier(self.classifier)

    def forward(self, features: torch.Tensor, low_level: torch.Tensor | None = None) -> torch.Tensor:
        x = self.aspp(features)
        if self.decoder is not None:
            if low_level is None:
                raise ValueError("DeepLabV3Head was built with a decoder; pass the stride-4 low_level features")
            x = self.decoder(x, low_level)
        if self.refine is not None:
            x = self.refine(x)
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
