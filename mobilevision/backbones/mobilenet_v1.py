"""MobileNetV1 (Howard et al., 2017) as a feature extractor.

Table 1 of the paper: a 3x3 stem of 32 channels at stride 2, then 13 depthwise separable blocks,
BatchNorm and an activation after every convolution. ReLU6 by default, as TF-slim and timm train
it (and as their published weights need); `activation="relu"` gives the paper's plain ReLU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.backbones.base import Backbone, FeatureSpec, dilated_strides
from mobilevision.backbones.blocks import ConvBNAct, DepthwiseSeparable, init_conv_bn, make_divisible

# (pointwise output channels, depthwise stride) of the 13 blocks, paper Table 1.
DEPTHWISE_SEPARABLE_SETTINGS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
# Block index whose output is each named feature: the last block at strides 4, 8, 16 and 32.
BLOCK_FEATURES = {2: "c2", 4: "c3", 10: "c4", 12: "c5"}


class MobileNetV1(Backbone):
    """MobileNetV1 features. (N, 3, H, W) -> dict of named maps.

    Features (channels at width 1.0, stride at output_stride 32): c2 (128, 4), c3 (256, 8),
    c4 (512, 16), c5 (1024, 32). SSDLite reads c4 and c5; the classifier reads c5.
    """

    roles = {
        "classifier": "c5",
        "ssdlite": ("c4", "c5"),
        "deeplab": "c5",
        "deeplab_low": "c2",
        "lraspp_low": "c3",
        "aux": "c3",
    }

    def __init__(
        self,
        *,
        width: float = 1.0,
        output_stride: int = 32,
        activation: str = "relu6",
        out_features: Sequence[str] | None = None,
        freeze_bn: bool = False,
        tf_conventions: bool = False,
    ) -> None:
        super().__init__(out_features=out_features, freeze_bn=freeze_bn)
        self.width = width
        # TF-slim's checkpoints: BatchNorm epsilon 1e-3 and TF's "SAME" padding (mobilenet_v2.py).
        conv_options = {"bn_eps": 1e-3 if tf_conventions else 1e-5, "tf_same": tf_conventions}
        self.output_stride = output_stride
        plan = dilated_strides([2, *(s for _, s in DEPTHWISE_SEPARABLE_SETTINGS)], output_stride=output_stride)

        in_channels = make_divisible(32 * width)
        self.stem = ConvBNAct(3, in_channels, stride=2, activation=activation, **conv_options)
        running_stride = plan[0][0]
        blocks = []
        for index, (channels, _) in enumerate(DEPTHWISE_SEPARABLE_SETTINGS):
            stride, dilation = plan[1 + index]
            out_channels = make_divisible(channels * width)
            blocks.append(
                DepthwiseSeparable(in_channels, out_channels, stride=stride, dilation=dilation, activation=activation,
                                   **conv_options)
            )
            running_stride *= stride
            in_channels = out_channels
            if index in BLOCK_FEATURES:
                self._features[BLOCK_FEATURES[index]] = FeatureSpec(out_channels, running_stride)
        self.blocks = nn.Sequential(*blocks)
        self._select_features()
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) -> {name: (N, C, ceil(H / stride), ceil(W / stride))}."""
        self.check_input(x)
        features: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        for index, block in enumerate(self.blocks):
            x = block(x)
            name = BLOCK_FEATURES.get(index)
            if name is not None and self._keep(name):
                features[name] = x
        return features
