"""TF-slim's MobileNetV2 and V1 variable names -> ours, with TF's weight layouts turned into PyTorch's.

The names are TF-slim's (tensorflow/models, research/slim/nets/mobilenet/mobilenet_v2.py with
conv_defs V2_DEF): `MobilenetV2/Conv` (the stem), `MobilenetV2/expanded_conv[_i]/{expand,depthwise,
project}` for the 17 inverted residuals, `MobilenetV2/Conv_1` (the last 1x1) and the classifier
`MobilenetV2/Logits/Conv2d_1c_1x1`; each conv's `weights` (HWIO; a depthwise conv's
`depthwise_weights`, H W C multiplier) and its `BatchNorm/{gamma,beta,moving_mean,moving_variance}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import torch

from mobilevision.errors import MobileVisionError

BATCHNORM = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
# A conv kernel's axes: TF's (H, W, in, out) and a depthwise kernel's (H, W, channels, 1) -> PyTorch's.
CONV_LAYOUT = (3, 2, 0, 1)
DEPTHWISE_LAYOUT = (2, 3, 0, 1)


def _slim_layer(module: str, *, scope: str) -> str:
    """Our backbone module path -> TF-slim's layer scope. MobileNetV2: stem -> Conv, blocks.i.part
    -> expanded_conv_i/part (the first block has no suffix), last -> Conv_1. MobileNetV1
    (research/slim/nets/mobilenet_v1.py): stem -> Conv2d_0, blocks.i.part -> Conv2d_<i+1>_part."""
    if scope.endswith("MobilenetV1"):
        if module == "stem":
            return f"{scope}/Conv2d_0"
        index, part = re.fullmatch(r"blocks\.(\d+)\.(depthwise|pointwise)", module).groups()
        return f"{scope}/Conv2d_{int(index) + 1}_{part}"
    if module == "stem":
        return f"{scope}/Conv"
    if module == "last":
        return f"{scope}/Conv_1"
    index, part = re.fullmatch(r"blocks\.(\d+)\.(expand|depthwise|project)", module).groups()
    return f"{scope}/expanded_conv{'' if index == '0' else f'_{index}'}/{part}"


# Mobile DeepLabv3's head (tensorflow/models research/deeplab/model.py, _extract_features): the
# 1x1 branch `aspp0`, `image_pooling`, their `concat_projection`, and the classifier `logits/semantic`.
DEEPLAB_LAYERS = {"head.aspp.branches.0": "aspp0", "head.aspp.branches.1.project": "image_pooling",
                  "head.aspp.project": "concat_projection"}
# DeepLab concatenates [image pooling, aspp0]; our ASPP [aspp0, image pooling]: the projection's
# input channels come in the other order.
SWAPPED_INPUT_HALVES = "head.aspp.project.0.weight"


def slim_name(key: str, *, scope: str = "MobilenetV2") -> tuple[str, tuple[int, ...] | None]:
    """Our classifier's or Mobile DeepLabv3's state-dict key -> (TF's variable name, the axes that
    turn its tensor into ours; None: as is)."""
    if key.startswith("head.classifier."):
        return f"logits/semantic/{'weights' if key.endswith('weight') else 'biases'}", \
            (CONV_LAYOUT if key.endswith("weight") else None)
    layer = next((tf_layer for ours, tf_layer in DEEPLAB_LAYERS.items() if key.startswith(f"{ours}.")), None)
    if layer is not None:
        index, parameter = key.rsplit(".", 2)[1:]
        return (f"{layer}/BatchNorm/{BATCHNORM[parameter]}", None) if index == "1" else (f"{layer}/weights",
                                                                                         CONV_LAYOUT)
    if key == "head.fc.weight":
        return f"{scope}/Logits/Conv2d_1c_1x1/weights", CONV_LAYOUT
    if key == "head.fc.bias":
        return f"{scope}/Logits/Conv2d_1c_1x1/biases", None
    module, index, parameter = re.fullmatch(r"backbone\.(.+)\.(\d)\.(\w+)", key).groups()
    layer = _slim_layer(module, scope=scope)
    if index == "1":
        return f"{layer}/BatchNorm/{BATCHNORM[parameter]}", None
    if module.endswith("depthwise"):
        return f"{layer}/depthwise_weights", DEPTHWISE_LAYOUT
    return f"{layer}/weights", CONV_LAYOUT


def slim_to_our_keys(tensors: Mapping[str, np.ndarray], expected: Mapping[str, torch.Tensor], *,
                     source: str, scope: str = "MobilenetV2") -> dict[str, torch.Tensor]:
    """TF-slim's tensors (under `scope`: MobilenetV2 or MobilenetV1) as the state dict `expected`
    (our model's) names and shapes them (tf_to_our_keys)."""
    return tf_to_our_keys(tensors, expected, source=source, name_of=lambda key: slim_name(key, scope=scope))


def tf_to_our_keys(tensors: Mapping[str, np.ndarray], expected: Mapping[str, torch.Tensor], *, source: str,
                   name_of: Callable[[str], tuple[str, tuple[int, ...] | None]]) -> dict[str, torch.Tensor]:
    """TF's tensors as the state dict `expected` (our model's) names and shapes them; `name_of` gives
    each of our keys its TF variable and the axes that turn TF's layout into ours. A checkpoint
    without one of the variables is a one-line error naming `source` and the first missing names."""
    state_dict, missing = {}, []
    for key, mine in expected.items():
        if key.endswith("num_batches_tracked"):  # PyTorch's training counter; TF keeps none
            state_dict[key] = torch.zeros_like(mine)
            continue
        name, layout = name_of(key)
        if name not in tensors:
            missing.append(name)
            continue
        tensor = torch.from_numpy(np.ascontiguousarray(tensors[name] if layout is None
                                                       else tensors[name].transpose(layout)))
        if key == SWAPPED_INPUT_HALVES:
            tensor = torch.cat(tensor.chunk(2, dim=1)[::-1], dim=1)
        state_dict[key] = tensor.reshape(mine.shape) if tensor.numel() == mine.numel() else tensor
    if missing:
        raise MobileVisionError(f"{source}: {len(missing)} of the model's variables are missing ({', '.join(missing[:3])}"
                                f"{' ...' if len(missing) > 3 else ''}); it is another model's checkpoint")
    return state_dict
