"""Explicit key mappings from the reference implementations' state dicts to ours, and a strict load.

torchvision's `mobilenet_v2` / `mobilenet_v3_*` and timm's `mobilenetv1_*` name their layers differently from us;
each mapping below pairs a reference module prefix with ours, layer by layer, and the load refuses
any state dict that does not cover the model exactly (it lists the keys that do not match rather
than loading part of it).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mobilevision.backbones.mobilenet_v1 import MobileNetV1
from mobilevision.backbones.mobilenet_v2 import MobileNetV2
from mobilevision.backbones.mobilenet_v3 import MobileNetV3
from mobilevision.errors import MobileVisionError

# The key that identifies each reference layout.
TORCHVISION_MARKER = "features.0.0.weight"
# torchvision's segmentation models: the backbone's `features` under "backbone.", the head under "classifier.".
TORCHVISION_SEGMENTATION_MARKER = "backbone.0.0.weight"
# Among them, DeepLabv3's: its classifier starts with the ASPP's 1x1 branch.
TORCHVISION_DEEPLAB_MARKER = "classifier.0.convs.0.0.weight"
TIMM_MARKER = "conv_stem.weight"
HEAD_PREFIX = "head.fc"
HEAD_HIDDEN_PREFIX = "head.hidden"


def torchvision_mobilenet_v2_prefixes(backbone: MobileNetV2) -> dict[str, str]:
    """torchvision module prefix -> ours, for `torchvision.models.mobilenet_v2`.

    torchvision: features.0 (stem), features.1..17 (blocks: conv.0 = expansion ConvBNReLU when
    t > 1, then the depthwise ConvBNReLU, then the projection conv and its BN), features.18 (last),
    classifier.1 (linear).
    """
    pairs = {"features.0.0": "stem.0", "features.0.1": "stem.1"}
    for index, block in enumerate(backbone.blocks):
        source, target = f"features.{index + 1}.conv", f"blocks.{index}"
        layers = (["expand"] if block.expand is not None else []) + ["depthwise"]
        for position, name in enumerate(layers):
            pairs[f"{source}.{position}.0"] = f"{target}.{name}.0"
            pairs[f"{source}.{position}.1"] = f"{target}.{name}.1"
        pairs[f"{source}.{len(layers)}"] = f"{target}.project.0"
        pairs[f"{source}.{len(layers) + 1}"] = f"{target}.project.1"
    last = len(backbone.blocks) + 1
    pairs[f"features.{last}.0"] = "last.0"
    pairs[f"features.{last}.1"] = "last.1"
    pairs["classifier.1"] = HEAD_PREFIX
    return pairs


def torchvision_mobilenet_v3_prefixes(backbone: MobileNetV3) -> dict[str, str]:
    """torchvision module prefix -> ours, for `torchvision.models.mobilenet_v3_large` / `_small`.

    torchvision: features.0 (stem), features.1..n (blocks: block.0 = expansion when it widens, then
    the depthwise conv, the squeeze-and-excitation (fc1, fc2) where the block has one, the
    projection), features.n+1 (the last 1x1 conv), classifier.0 (hidden) and classifier.3 (classes).
    """
    pairs = {"features.0.0": "stem.0", "features.0.1": "stem.1"}
    for index, block in enumerate(backbone.blocks):
        source, target = f"features.{index + 1}.block", f"blocks.{index}"
        layers = [name for name in ("expand", "depthwise", "se", "project") if getattr(block, name) is not None]
        for position, name in enumerate(layers):
            if name == "se":
                pairs[f"{source}.{position}.fc1"] = f"{target}.se.fc1"
                pairs[f"{source}.{position}.fc2"] = f"{target}.se.fc2"
            else:
                pairs[f"{source}.{position}.0"] = f"{target}.{name}.0"
                pairs[f"{source}.{position}.1"] = f"{target}.{name}.1"
    last = len(backbone.blocks) + 1
    pairs[f"features.{last}.0"] = "last.0"
    pairs[f"features.{last}.1"] = "last.1"
    pairs["classifier.0"] = HEAD_HIDDEN_PREFIX
    pairs["classifier.3"] = HEAD_PREFIX
    return pairs


def timm_mobilenet_v1_prefixes(backbone: MobileNetV1) -> dict[str, str]:
    """timm module prefix -> ours, for `timm.create_model("mobilenetv1_100")` and its widths.

    timm: conv_stem + bn1, blocks.<stage>.<index> with conv_dw, bn1, conv_pw, bn2 (stages of
    1, 2, 2, 6 and 2 blocks), classifier (linear).
    """
    pairs = {"conv_stem": "stem.0", "bn1": "stem.1"}
    stage_sizes = (1, 2, 2, 6, 2)
    index = 0
    for stage, size in enumerate(stage_sizes):
        for position in range(size):
            source, target = f"blocks.{stage}.{position}", f"blocks.{index}"
            pairs[f"{source}.conv_dw"] = f"{target}.depthwise.0"
            pairs[f"{source}.bn1"] = f"{target}.depthwise.1"
            pairs[f"{source}.conv_pw"] = f"{target}.pointwise.0"
            pairs[f"{source}.bn2"] = f"{target}.pointwise.1"
            index += 1
    if index != len(backbone.blocks):
        raise AssertionError("timm's MobileNetV1 stage sizes no longer match DEPTHWISE_SEPARABLE_SETTINGS")
    pairs["classifier"] = HEAD_PREFIX
    return pairs


# torchvision's LRASPPHead and our LRASPPHead share their module names.
TORCHVISION_LRASPP_HEAD_PREFIXES = {"classifier": "head"}

# torchvision module prefix -> ours, for the heads of `deeplabv3_mobilenet_v3_large`. classifier.0 is
# its ASPP: convs.0 the 1x1 branch and convs.1..3 the atrous ones (conv .0, BN .1), convs.4 image
# pooling (.0 the pooling, conv .1, BN .2), project (conv .0, BN .1); classifier.1 and .2 the 3x3 conv
# and BN before the classifier, classifier.4. aux_classifier is the FCN head: 3x3 conv .0, BN .1,
# classifier .4. The indices left out are ReLUs and dropouts, which hold no weights.
TORCHVISION_DEEPLAB_HEAD_PREFIXES = {
    **{f"classifier.0.convs.{branch}.{layer}": f"head.aspp.branches.{branch}.{layer}"
       for branch in range(4) for layer in (0, 1)},
    "classifier.0.convs.4.1": "head.aspp.branches.4.project.0",
    "classifier.0.convs.4.2": "head.aspp.branches.4.project.1",
    "classifier.0.project.0": "head.aspp.project.0",
    "classifier.0.project.1": "head.aspp.project.1",
    "classifier.1": "head.refine.0",
    "classifier.2": "head.refine.1",
    "classifier.4": "head.classifier",
    "aux_classifier.0": "aux_head.conv.0",
    "aux_classifier.1": "aux_head.conv.1",
    "aux_classifier.4": "aux_head.classifier",
}


def rename_modules(state_dict: dict[str, torch.Tensor], prefixes: dict[str, str]) -> dict[str, torch.Tensor]:
    """Keys under a module prefix of `prefixes` (matched at a module boundary) moved under its value;
    other keys keep their names."""
    renamed = {}
    for key, value in state_dict.items():
        source = next((prefix for prefix in prefixes if key.startswith(f"{prefix}.")), None)
        renamed[key if source is None else prefixes[source] + key[len(source):]] = value
    return renamed


def to_our_keys(state_dict: dict[str, torch.Tensor], *, backbone: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a torchvision or timm state dict to our keys ("backbone.*", "head.*", "aux_head.*"):
    ImageNet classifiers, and torchvision's segmentation models on MobileNetV3 (LR-ASPP, DeepLabv3).

    A state dict already in our layout is returned unchanged. Keys the mapping does not know keep
    their names, so the strict load below reports them.
    """
    if TORCHVISION_SEGMENTATION_MARKER in state_dict and isinstance(backbone, MobileNetV3):
        features = {f"features.{key[len('backbone.'):]}": value for key, value in state_dict.items()
                    if key.startswith("backbone.")}
        heads = {key: value for key, value in state_dict.items() if not key.startswith("backbone.")}
        prefixes = (TORCHVISION_DEEPLAB_HEAD_PREFIXES if TORCHVISION_DEEPLAB_MARKER in state_dict
                    else TORCHVISION_LRASPP_HEAD_PREFIXES)
        return {**to_our_keys(features, backbone=backbone), **rename_modules(heads, prefixes)}
    if TORCHVISION_MARKER in state_dict and isinstance(backbone, MobileNetV2):
        prefixes = torchvision_mobilenet_v2_prefixes(backbone)
    elif TORCHVISION_MARKER in state_dict and isinstance(backbone, MobileNetV3):
        prefixes = torchvision_mobilenet_v3_prefixes(backbone)
    elif TIMM_MARKER in state_dict and isinstance(backbone, MobileNetV1):
        prefixes = timm_mobilenet_v1_prefixes(backbone)
    else:
        return state_dict
    renamed = {}
    for key, value in state_dict.items():
        module, _, leaf = key.rpartition(".")
        target = prefixes.get(module)
        if target is None:
            renamed[key] = value
        elif target.startswith("head."):
            renamed[f"{target}.{leaf}"] = value
        else:
            renamed[f"backbone.{target}.{leaf}"] = value
    return renamed


def load_strict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], *, source: str, ignore_prefixes: tuple[str, ...] = (),
    fix: str = "Check --model and --width against the architecture the file was trained with.",
) -> None:
    """Load `state_dict` into `model` only if names and shapes match exactly.

    Keys under `ignore_prefixes` are skipped on both sides (e.g. "head." when fine-tuning on new
    classes). On any mismatch nothing is loaded and the error lists what differs, then `fix`.
    """
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(ignore_prefixes)}
    given = {k: v for k, v in state_dict.items() if not k.startswith(ignore_prefixes)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    mismatched = sorted(
        f"{k}: file {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(given)
        if given[k].shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        raise MobileVisionError(
            f"the weights in {source} do not fit {type(model).__name__}; nothing was loaded. "
            + "; ".join(
                f"{label} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
                for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
                if keys
            )
            + f". {fix}"
        )
    model.load_state_dict(given, strict=not ignore_prefixes)


def class_layers(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], *,
                 num_classes: int) -> tuple[list[str], int | None]:
    """(keys of `given` whose tensors are `expected`'s sized for other classes, how many classes
    `given` has; None when no tensor is).

    A class layer's first dimension is k * num_classes (k: anchors per location of an SSD
    predictor, 1 for a classifier) and its other dimensions do not depend on the classes: a tensor
    of `given` that differs from `expected`'s only in its first dimension, k times another class
    count. Every such tensor must imply the same count; otherwise none is a class layer, and the
    strict load reports them all. Found by shape, so every head's class layers are (LR-ASPP's two
    classifiers, SSD's per-level predictors) and nothing else is (SSD's box regressors).
    """
    counts = {}
    for key, tensor in given.items():
        mine = expected.get(key)
        if mine is None or mine.ndim == 0 or mine.shape == tensor.shape or mine.shape[1:] != tensor.shape[1:]:
            continue
        per_class, remainder = divmod(mine.shape[0], num_classes)
        if remainder == 0 and tensor.shape[0] % per_class == 0:
            counts[key] = tensor.shape[0] // per_class
    if len(set(counts.values())) != 1:
        return [], None
    return sorted(counts), next(iter(counts.values()))
