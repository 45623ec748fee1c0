"""DeepLab's head options, one object that the segmenter, the multi-task model, their training
configs (one flag per field) and their checkpoints share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mobilevision.engine.config import as_kwargs, option, options_of
from mobilevision.errors import MobileVisionError

# The decoder's output stride -> the backbone role it fuses (TF DeepLab's decoder_output_stride):
# 4 is the DeepLabv3+ paper's; 8 fuses deeper features on a 4x smaller grid, for a cheaper step.
DECODER_FEATURE_ROLES = {4: "deeplab_low", 8: "aux"}


@dataclass(frozen=True)
class DeepLabOptions:
    """The DeepLabv3 head on the backbone's deepest features, and how its loss is computed.
    Defaults: the MobileNetV2 paper's mobile head, loss at full resolution over every pixel."""

    head: str = option("mobile", "mobile: 1x1 + image pooling (the MobileNetV2 paper's head); aspp: full ASPP; "
                       "lraspp: Lite R-ASPP (the MobileNetV3 paper's head, on the stride-8 and last features); "
                       "torchvision: full ASPP at rates 12/24/36, dropout 0.5 and a 3x3 conv before the classifier "
                       "(torchvision's DeepLabHead)",
                       ("mobile", "aspp", "lraspp", "torchvision"))
    decoder: bool = option(False, "add the DeepLabv3+ decoder on the stride-4 features (sharper boundaries)")
    decoder_stride: int = option(4, "the decoder's output stride: the backbone features it fuses (TF DeepLab's "
                                 "decoder_output_stride; 8: deeper features, a 4x smaller grid, a cheaper step)",
                                 tuple(DECODER_FEATURE_ROLES))
    aux: bool = option(False, "add an auxiliary FCN loss on the stride-8 features (training only)")
    loss_stride: int = option(1, "compute the training loss on a grid this many times coarser than the input "
                              "(logits resized to it, labels sampled; TF DeepLab's upsample_logits=False): cheaper "
                              "steps on a CPU; 1 = full resolution, as torchvision and DeepLab")
    top_k_pixels: float = option(1.0, "average the loss over only this fraction of the batch's labelled pixels, "
                                 "the hardest (TF DeepLab's top_k_percent_pixels; 1 = all)")
    # A string, not a tuple: one CLI flag, stored in args.yaml and checkpoints as the rest are.
    class_weights: str = option("", "the loss's weight of each class, background first, comma-separated, e.g. "
                                "1,20,20 ('': every class 1; --recipe auto weighs rare classes up, as ENet)")

    def __post_init__(self) -> None:
        # Checked here, as one-line user errors, not by the loss mid-run (head and decoder_stride are
        # flags with choices, and the model refuses other values as it is built).
        if self.loss_stride < 1:
            raise MobileVisionError(f"--loss-stride must be at least 1 (1: full resolution), got {self.loss_stride}")
        if not 0 < self.top_k_pixels <= 1:
            raise MobileVisionError(f"--top-k-pixels must be in (0, 1], got {self.top_k_pixels}")
        parse_class_weights(self.class_weights)


def parse_class_weights(text: str) -> tuple[float, ...] | None:
    """"1,20.5,3" -> (1.0, 20.5, 3.0); "" -> None (every class 1)."""
    if not text.strip():
        return None
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise MobileVisionError(f"--class-weights {text!r}: give one number per class, background first, "
                                "separated by commas, e.g. 1,20,20") from None
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise MobileVisionError(f"--class-weights {text!r}: the weights must be finite, non-negative and not all 0")
    return weights


def weights_head_options(deeplab: DeepLabOptions | Mapping | None) -> dict:
    """The DeepLab options a checkpoint fixes for a run that trains from it: all but the class
    weights, which belong to the data it was trained on (another dataset's classes need their own)."""
    options = as_kwargs(options_of(DeepLabOptions, deeplab))
    del options["class_weights"]
    return options
