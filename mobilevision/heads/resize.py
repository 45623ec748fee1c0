"""The one bilinear resize DeepLab uses: features to the decoder's size, logits to the image's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_bilinear(x: torch.Tensor, size: tuple[int, int] | torch.Size, *, align_corners: bool = True) -> torch.Tensor:
    """(N, C, h, w) -> (N, C, *size).

    align_corners=True, as TF DeepLab: our convs pad "same", so feature i at output stride s is
    centred on input pixel s * i, and corner alignment maps those centres exactly for sizes of the
    form s * k + 1 (DeepLab's 513, 321) and within a pixel or so for the others. False for heads
    built as torchvision's (LR-ASPP), which were trained with it.
    """
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)
