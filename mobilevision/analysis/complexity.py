"""Parameters and multiply-adds, counted as the MobileNet papers count them.

A multiply-add is one multiplication accumulated into a sum. The papers count the convolutions
and fully connected layers only: BatchNorm folds into the preceding conv at inference, and
activations, additions, pooling and biases are negligible and left out.
"""

from __future__ import annotations

import torch
from torch import nn

# Heads that only shape training (DeepLab's auxiliary FCN head, SSDLite's auxiliary segmentation
# head): the network that is run, exported and compared with the papers leaves them out.
TRAINING_ONLY_MODULES = frozenset({"aux_head", "aux_segment"})


def count_params(model: nn.Module) -> int:
    """Number of learnable parameters (BatchNorm's affine ones included, buffers and training-only
    heads not)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if TRAINING_ONLY_MODULES.isdisjoint(name.split(".")))


def count_madds(model: nn.Module, *, imgsz: int | tuple[int, int], forward=None) -> int:
    """Multiply-adds of one forward pass on a single (1, 3, H, W) image.

    A conv costs (C_in / groups) * k_h * k_w per output element; a linear layer in_features per
    output element. `forward` runs the part of the model to count (by default `model` itself); task
    models pass their `raw_outputs`, so a detector's post-processing never runs on random scores.
    """
    height, width = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            (forward or model)(torch.zeros(1, 3, height, width, device=_device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
