"""Image classifier head: global average pooling, dropout, linear layer."""

from __future__ import annotations

import torch
from torch import nn


class ClassifierHead(nn.Module):
    """(N, C, H, W) -> logits (N, num_classes).

    With dropout 0.2 and normal(0, 0.01) initialisation, backbone + head is torchvision's
    ImageNet MobileNetV2; with dropout 0 it is timm's MobileNetV1.
    """

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.2) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        return self.fc(self.dropout(pooled))
