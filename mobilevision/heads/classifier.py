"""Image classifier head: global average pooling, an optional hidden layer (MobileNetV3's), dropout,
linear layer."""

from __future__ import annotations

import torch
from torch import nn


class ClassifierHead(nn.Module):
    """(N, C, H, W) -> logits (N, num_classes).

    With dropout 0.2 and normal(0, 0.01) initialisation, backbone + head is torchvision's
    ImageNet MobileNetV2; with dropout 0 it is timm's MobileNetV1; with `hidden_channels` (a linear
    layer and hard-swish before the dropout) torchvision's MobileNetV3.
    """

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.2,
                 hidden_channels: int | None = None) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_channels, hidden_channels) if hidden_channels else None
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(hidden_channels or in_channels, num_classes)
        for linear in (self.hidden, self.fc):
            if linear is not None:
                nn.init.normal_(linear.weight, mean=0.0, std=0.01)
                nn.init.zeros_(linear.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        if self.hidden is not None:
            pooled = nn.functional.hardswish(self.hidden(pooled))
        return self.fc(self.dropout(pooled))
