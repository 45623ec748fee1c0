"""The variables a release's checkpoint holds, from the naming rules of the TF source that built
it, and the parameter count its publisher gives: what tf_exactness.py's TensorFlow graph must
hold before it stands in for the release (not CI; no TensorFlow needed here).

Names: TF-slim's nets/mobilenet/mobilenet_v2.py (V2_DEF: `Conv`, `expanded_conv[_i]/{expand,
depthwise,project}`, `Conv_1`) and nets/mobilenet_v1.py (`Conv2d_0`, `Conv2d_<i>_{depthwise,
pointwise}`), each with `Logits/Conv2d_1c_1x1`; DeepLab's model.py (`aspp0`, `image_pooling`,
`concat_projection`, `logits/semantic`); object detection's models/feature_map_generators.py
(`<base>_1_Conv2d_<i>_1x1_<d>`, `<base>_2_Conv2d_<i>_3x3_s2_<d>[_depthwise]`) and
core/box_predictor.py (`BoxPredictor_<l>/{BoxEncodingPredictor,ClassPredictor}[_depthwise]`).
"""

from __future__ import annotations

V2_BLOCKS = 17  # inverted residuals in V2_DEF
V1_BLOCKS = 13  # depthwise separable blocks in mobilenet_v1.py's _CONV_DEFS
EXTRA_DEPTHS = (512, 256, 256, 128)  # the SSD feature maps' layer_depth after the backbone's two
MIN_DEPTH = 16
BATCH_NORM = ("gamma", "beta", "moving_mean", "moving_variance")
# At width 1.0: (parameters, which variables the publisher counts, where it says so).
PUBLISHED_PARAMS = {
    "v2": (3.47e6, "weights and biases", "TF-slim nets/mobilenet/README.md, mobilenet_v2_1.0_224"),
    "v1": (4.24e6, "every trainable variable", "TF-slim mobilenet_v1.md, MobileNet_v1_1.0_224"),
    "deeplab": (2.11e6, "every trainable variable", "MobileNetV2 paper Table 7, Mobile DeepLabv3"),
    "ssdlite": (4.475e6, "weights, biases and BatchNorm's beta (the frozen graph's folded biases)",
                "OpenVINO Open Model Zoo public/ssdlite_mobilenet_v2 (MParams 4.475)"),
    "ssd": (6.807e6, "weights, biases and BatchNorm's beta (the frozen graph's folded biases)",
            "OpenVINO Open Model Zoo public/ssd_mobilenet_v1_coco (MParams 6.807)"),
}
COUNTED = {"weights and biases": ("weights", "depthwise_weights", "biases"),
           "every trainable variable": ("weights", "depthwise_weights", "biases", "gamma", "beta"),
           "weights, biases and BatchNorm's beta (the frozen graph's folded biases)":
               ("weights", "depthwise_weights", "biases", "beta")}


def _conv(scope: str, *, depthwise: bool = False, batch_norm: bool = True) -> set[str]:
    names = {f"{scope}/{'depthwise_weights' if depthwise else 'weights'}"}
    return names | ({f"{scope}/BatchNorm/{part}" for part in BATCH_NORM} if batch_norm else set())


def _backbone(scope: str, *, v1: bool, last: bool) -> set[str]:
    if v1:
        names = _conv(f"{scope}/Conv2d_0")
        for index in range(1, V1_BLOCKS + 1):
            names |= _conv(f"{scope}/Conv2d_{index}_depthwise", depthwise=True) | _conv(f"{scope}/Conv2d_{index}_pointwise")
        return names
    names = _conv(f"{scope}/Conv") | (_conv(f"{scope}/Conv_1") if last else set())
    for index in range(V2_BLOCKS):
        block = f"{scope}/expanded_conv{'' if index == 0 else f'_{index}'}"
        names |= _conv(f"{block}/depthwise", depthwise=True) | _conv(f"{block}/project")
        names |= _conv(f"{block}/expand") if index else set()  # the first block expands by 1: no expand conv
    return names


def _ssd_head(arch: str, *, scope: str, width: float) -> set[str]:
    depth = lambda d: max(int(d * width), MIN_DEPTH)  # feature_map_generators.get_depth_fn
    base = f"FeatureExtractor/{scope}/{'layer_19' if arch == 'ssdlite' else 'Conv2d_13_pointwise'}"
    names = set()
    for index, layer_depth in enumerate(EXTRA_DEPTHS, start=2):
        strided = f"{base}_2_Conv2d_{index}_3x3_s2_{depth(layer_depth)}"
        names |= _conv(f"{base}_1_Conv2d_{index}_1x1_{depth(layer_depth / 2)}") | _conv(strided)
        names |= _conv(f"{strided}_depthwise", depthwise=True) if arch == "ssdlite" else set()
    for level in range(2 + len(EXTRA_DEPTHS)):
        for predictor in ("BoxEncodingPredictor", "ClassPredictor"):
            name = f"BoxPredictor_{level}/{predictor}"
            names |= _conv(name, batch_norm=False) | {f"{name}/biases"}
            names |= _conv(f"{name}_depthwise", depthwise=True) if arch == "ssdlite" else set()
    return names


def expected_names(arch: str, *, width: float) -> set[str]:
    """Every variable of the release `arch` (v1, v2, deeplab, ssdlite, ssd) at `width`."""
    if arch in ("ssdlite", "ssd"):
        scope = "MobilenetV2" if arch == "ssdlite" else "MobilenetV1"
        return _backbone(f"FeatureExtractor/{scope}", v1=arch == "ssd", last=True) | _ssd_head(arch, scope=scope,
                                                                                                  width=width)
    if arch == "deeplab":
        head = set().union(*(_conv(layer) for layer in ("aspp0", "image_pooling", "concat_projection")))
        return _backbone("MobilenetV2", v1=False, last=False) | head | {"logits/semantic/weights",
                                                                         "logits/semantic/biases"}
    scope = "MobilenetV1" if arch == "v1" else "MobilenetV2"
    return _backbone(scope, v1=arch == "v1", last=True) | {f"{scope}/Logits/Conv2d_1c_1x1/weights",
                                                            f"{scope}/Logits/Conv2d_1c_1x1/biases"}


def counted_parameters(arch: str, shapes: dict[str, tuple]) -> int:
    """The parameters of `shapes` (variable name: shape) as `arch`'s publisher counts them."""
    kinds = COUNTED[PUBLISHED_PARAMS[arch][1]]
    total = 0
    for name, shape in shapes.items():
        if name.rsplit("/", 1)[-1] in kinds:
            size = 1
            for side in shape:
                size *= side
            total += size
    return total
