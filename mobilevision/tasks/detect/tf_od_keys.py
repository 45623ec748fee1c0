"""TF object detection's SSD variable names -> our detector's, for the model zoo's
ssdlite_mobilenet_v2_coco and ssd_mobilenet_v1_coco checkpoints.

TF's names (tensorflow/models, research/object_detection):
- the backbone under `FeatureExtractor/`, as TF-slim names it (backbones/tf_slim_keys.py);
- the extra layers (models/feature_map_generators.py, multi_resolution_feature_maps):
  `FeatureExtractor/<scope>/<base>_1_Conv2d_<i>_1x1_<depth / 2>` and
  `<base>_2_Conv2d_<i>_3x3_s2_<depth>` (SSDLite: its `_depthwise` part, then the 1x1 under the
  plain name), i = 2..5, `<base>` the last backbone layer they grow from (`layer_19` for V2,
  `Conv2d_13_pointwise` for V1), depths as built (the width multiplier applied);
- the predictors (core/box_predictor.py, ConvolutionalBoxPredictor): `BoxPredictor_<level>/
  {BoxEncodingPredictor,ClassPredictor}` (`weights`, `biases`), SSDLite's depthwise 3x3 before
  each under `..._depthwise`.
TF's box encodings are (ty, tx, th, tw) (box_coders/faster_rcnn_box_coder.py); ours (tx, ty, tw, th):
the box predictors' output channels are reordered, anchor by anchor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import torch

from mobilevision.backbones.tf_slim_keys import BATCHNORM, CONV_LAYOUT, DEPTHWISE_LAYOUT, slim_name, tf_to_our_keys

# The last backbone layer TF's extra layers are named after, by TF-slim scope.
BASE_LAYERS = {"MobilenetV2": "layer_19", "MobilenetV1": "Conv2d_13_pointwise"}
PREDICTORS = {"box_predictors": "BoxEncodingPredictor", "class_predictors": "ClassPredictor"}
FIRST_EXTRA_INDEX = 2  # TF counts the feature maps from 0; the two backbone maps come first
TF_TO_OUR_BOX_CODE = (1, 0, 3, 2)  # (ty, tx, th, tw) -> (tx, ty, tw, th)


def _extra_scopes(expected: Mapping[str, torch.Tensor], *, scope: str) -> dict[str, str]:
    """Our extra blocks' conv modules (`head.extras.<i>.<j>`) -> TF's layer scopes, named by the
    depths our weights have."""
    base = f"FeatureExtractor/{scope}/{BASE_LAYERS[scope]}"
    scopes = {}
    for block in sorted({int(k.split(".")[2]) for k in expected if k.startswith("head.extras.")}):
        convs = sorted({int(k.split(".")[3]) for k in expected if k.startswith(f"head.extras.{block}.")})
        index = block + FIRST_EXTRA_INDEX
        half = expected[f"head.extras.{block}.0.0.weight"].shape[0]
        depth = expected[f"head.extras.{block}.{convs[-1]}.0.weight"].shape[0]
        scopes[f"head.extras.{block}.0"] = f"{base}_1_Conv2d_{index}_1x1_{half}"
        strided = f"{base}_2_Conv2d_{index}_3x3_s2_{depth}"
        if len(convs) == 3:  # SSDLite: the depthwise 3x3, then the 1x1 that takes the plain name
            scopes[f"head.extras.{block}.1"] = f"{strided}_depthwise"
            scopes[f"head.extras.{block}.2"] = strided
        else:
            scopes[f"head.extras.{block}.1"] = strided
    return scopes


def od_name(key: str, *, scope: str, extras: Mapping[str, str]) -> tuple[str, tuple[int, ...] | None]:
    """Our detector's state-dict key -> (TF's variable name, the axes that turn its tensor into ours)."""
    predictor = re.fullmatch(r"head\.(box_predictors|class_predictors)\.(\d+)\.(depthwise\.\d|pointwise)\.(\w+)", key)
    if predictor:
        kind, level, part, parameter = predictor.groups()
        layer = f"BoxPredictor_{level}/{PREDICTORS[kind]}"
        if part == "pointwise":
            return (f"{layer}/weights", CONV_LAYOUT) if parameter == "weight" else (f"{layer}/biases", None)
        if part == "depthwise.1":
            return f"{layer}_depthwise/BatchNorm/{BATCHNORM[parameter]}", None
        return f"{layer}_depthwise/depthwise_weights", DEPTHWISE_LAYOUT
    extra = re.fullmatch(r"(head\.extras\.\d+\.\d)\.(\d)\.(\w+)", key)
    if extra:
        module, index, parameter = extra.groups()
        if index == "1":
            return f"{extras[module]}/BatchNorm/{BATCHNORM[parameter]}", None
        if extras[module].endswith("_depthwise"):
            return f"{extras[module]}/depthwise_weights", DEPTHWISE_LAYOUT
        return f"{extras[module]}/weights", CONV_LAYOUT
    return slim_name(key, scope=f"FeatureExtractor/{scope}")


def _reorder_box_codes(tensor: torch.Tensor) -> torch.Tensor:
    """A box predictor's (k * 4, ...) output weights or biases from TF's code order to ours."""
    per_anchor = tensor.reshape(-1, 4, *tensor.shape[1:])
    return per_anchor[:, list(TF_TO_OUR_BOX_CODE)].reshape(tensor.shape)


def od_to_our_keys(tensors: Mapping[str, np.ndarray], expected: Mapping[str, torch.Tensor], *, source: str,
                   scope: str) -> dict[str, torch.Tensor]:
    """A TF SSD checkpoint's tensors (backbone under FeatureExtractor/`scope`) as our detector's
    state dict `expected`; a missing variable is a one-line error naming `source`."""
    extras = _extra_scopes(expected, scope=scope)
    state_dict = tf_to_our_keys(tensors, expected, source=source,
                                name_of=lambda key: od_name(key, scope=scope, extras=extras))
    for key in state_dict:
        if key.startswith("head.box_predictors.") and ".pointwise." in key:
            state_dict[key] = _reorder_box_codes(state_dict[key])
    return state_dict
