"""torchvision's SSDLite state dict (`ssdlite320_mobilenet_v3_large`) renamed to our keys.

torchvision splits the MobileNetV3 feature list at the first stride-32 block, whose expansion
output is the first SSD level: `backbone.features.0` holds the stem, the blocks before it and
that block's expansion (`.<i>` and `.<c4>.{0,1}`), `backbone.features.1` the rest of that block
(`.0.<j>`, its original indices 1..3) then the later blocks and the last 1x1 conv (`.1`, `.2`, ...).
Put back into one `features.<i>` list, the classifier's mapping (backbones/key_mapping.py) names
the backbone; the extra blocks and the two predictor lists map one to one onto SSDLiteHead.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from mobilevision.backbones.key_mapping import to_our_keys

MARKER = "backbone.features.0.0.0.weight"
HEAD_PREFIXES = (
    (re.compile(r"^backbone\.extra\.(\d+)\."), r"head.extras.\1."),
    (re.compile(r"^head\.regression_head\.module_list\.(\d+)\.0\."), r"head.box_predictors.\1.depthwise."),
    (re.compile(r"^head\.regression_head\.module_list\.(\d+)\.1\."), r"head.box_predictors.\1.pointwise."),
    (re.compile(r"^head\.classification_head\.module_list\.(\d+)\.0\."), r"head.class_predictors.\1.depthwise."),
    (re.compile(r"^head\.classification_head\.module_list\.(\d+)\.1\."), r"head.class_predictors.\1.pointwise."),
)


def is_torchvision_ssdlite(state_dict: dict[str, torch.Tensor]) -> bool:
    return MARKER in state_dict and any(key.startswith("head.classification_head.") for key in state_dict)


def _flat_features(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`backbone.features.{0,1}.*` -> the classifier layout's `features.<i>.*`."""
    first = re.compile(r"^backbone\.features\.0\.(\d+)\.(.*)$")
    second = re.compile(r"^backbone\.features\.1\.(\d+)\.(.*)$")
    split_at = max(int(m.group(1)) for key in state_dict if (m := first.match(key)))  # the tapped block
    features = {}
    for key, value in state_dict.items():
        if m := first.match(key):
            index, rest = int(m.group(1)), m.group(2)
            features[f"features.{index}.block.0.{rest}" if index == split_at else f"features.{index}.{rest}"] = value
        elif m := second.match(key):
            index, rest = int(m.group(1)), m.group(2)
            features[f"features.{split_at}.block.{rest}" if index == 0 else f"features.{split_at + index}.{rest}"] = value
    return features


def ssdlite_to_our_keys(state_dict: dict[str, torch.Tensor], *, backbone: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision's SSDLite keys -> ours ("backbone.*", "head.*"); other keys are kept, so a strict
    load reports them."""
    renamed = to_our_keys(_flat_features(state_dict), backbone=backbone)
    for key, value in state_dict.items():
        if key.startswith("backbone.features."):
            continue
        for pattern, replacement in HEAD_PREFIXES:
            if pattern.match(key):
                key = pattern.sub(replacement, key)
                break
        renamed[key] = value
    return renamed
