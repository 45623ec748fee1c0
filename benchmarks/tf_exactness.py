"""Our loaders of the TF model zoos' MobileNets, held to TensorFlow itself (not CI).

Installs tensorflow-cpu into a throwaway venv (never into .venv) and runs this file inside it to
build a release's graph with random weights: TF-slim's MobileNetV2 or V1 classifier
(research/slim/nets/mobilenet/mobilenet_v2.py V2_DEF, mobilenet_v1.py: variable names, shapes,
"SAME" padding, BatchNorm epsilon 1e-3, ReLU6, 1001 classes), DeepLab's Mobile DeepLabv3, or the
detection zoo's SSDLite-MobileNetV2 / SSD-MobileNetV1 with their anchors, box decoding and NMS
(tf_ssd.py; the head's variable names checked against the source's naming rules). It saves it as
the release does (a TF1 checkpoint in a .tgz) and runs it on seeded 8-bit images scaled to
[-1, 1]. Then our converter reads the archive, our model runs the same images, and the largest
|difference| of each output is printed (the bar: 1e-4): logits; for a detector its anchors, raw
box encodings and class logits, and its final detections (same classes, boxes and scores).

    .venv/bin/python benchmarks/tf_exactness.py [--venv /tmp/tfenv] [--width 1.0] [--res 224]
    .venv/bin/python benchmarks/tf_exactness.py --arch ssdlite --res 300 --classes 91

The CI fixtures (tests/fixtures/tf/) are such runs with sparse kernels, e.g.

    .venv/bin/python benchmarks/tf_exactness.py --width 0.35 --res 96 --classes 11 --sparsity 0.97 \
        --fixture tests/fixtures/tf/mobilenet_v2_0.35_96
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from tf_env import tensorflow_python  # this folder's: the scripts run as files

# (expansion t, channels c, repeats n, first stride s): slim's V2_DEF, the paper's Table 2.
V2_DEF = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
          (6, 320, 1, 1))
# (pointwise channels, depthwise stride) of the 13 separable blocks: mobilenet_v1.py's _CONV_DEFS.
V1_DEF = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1))
SCOPES = {"v1": "MobilenetV1", "v2": "MobilenetV2", "deeplab": "MobilenetV2", "ssdlite": "MobilenetV2",
          "ssd": "MobilenetV1"}
DETECTORS = {"ssdlite": "ssdlite_mobilenet_v2", "ssd": "ssd_mobilenet_v1"}  # TF's head -> our model
RELEASE_RESOLUTION = {"v1": 224, "v2": 224, "deeplab": 513, "ssdlite": 300, "ssd": 300}


def _divisible(value: float, divisor: int = 8) -> int:
    """slim's _make_divisible (mobilenet.py): nearest multiple of 8, never below 90%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _build_and_save(folder: Path, *, arch: str, width: float, res: int, sparsity: float, classes: int) -> None:
    """Inside TensorFlow: slim's graph with random weights (a fraction `sparsity` of each kernel
    zero, so that a fixture's archive compresses), saved and run."""
    import numpy as np
    import tensorflow as tf
    import tf_ssd  # this folder's; it needs TensorFlow

    tf.compat.v1.disable_eager_execution()
    rng = np.random.default_rng(0)

    def variable(name: str, shape: tuple, *, kind: str = "weights"):
        if kind == "weights":
            fan_in = int(np.prod(shape[:-1])) if "depthwise" not in name else int(np.prod(shape[:2]))
            value = rng.standard_normal(shape) / np.sqrt(fan_in * (1 - sparsity))
            if sparsity:  # a fixture: signs only, the large kernels sparse, so that gzip packs it small
                kept = sparsity if value.size >= 4096 else 0.0
                value = np.sign(value) * (rng.random(shape) >= kept) / np.sqrt(fan_in * (1 - kept))
        elif kind == "gamma" or kind == "moving_variance":
            value = rng.choice([0.5, 0.75, 1.0, 1.25, 1.5], shape) if sparsity else rng.uniform(0.5, 1.5, shape)
        else:  # beta, moving_mean, biases
            spread = 0.1 if kind == "moving_mean" else 0.5
            value = spread * (rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], shape) if sparsity
                              else rng.standard_normal(shape))
        return tf.compat.v1.get_variable(name, initializer=tf.constant(value.astype(np.float32)))

    def conv_bn(x, scope: str, out: int, *, kernel: int = 1, stride: int = 1, depthwise: bool = False,
                activation: str | None = "relu6", rate: int = 1, epsilon: float = 1e-3):
        channels = int(x.shape[-1])
        if depthwise:
            kernel_value = variable(f"{scope}/depthwise_weights", (kernel, kernel, channels, 1))
            x = tf.nn.depthwise_conv2d(x, kernel_value, [1, stride, stride, 1], "SAME", dilations=[rate, rate])
        else:
            x = tf.nn.conv2d(x, variable(f"{scope}/weights", (kernel, kernel, channels, out)), stride, "SAME")
        statistics = {kind: variable(f"{scope}/BatchNorm/{kind}", (x.shape[-1],), kind=kind)
                      for kind in ("gamma", "beta", "moving_mean", "moving_variance")}
        x = tf.nn.batch_normalization(x, statistics["moving_mean"], statistics["moving_variance"],
                                      statistics["beta"], statistics["gamma"], variance_epsilon=epsilon)
        return {"relu6": tf.nn.relu6, "relu": tf.nn.relu, None: tf.identity}[activation](x)

    images = tf.compat.v1.placeholder(tf.float32, (None, res, res, 3))
    scope = SCOPES[arch]
    if arch == "v1":
        x = _v1_features(images, conv_bn, width=width, scope=scope)["Conv2d_13_pointwise"]
    elif arch in DETECTORS:  # the detection zoo's SSD: the backbone under FeatureExtractor/
        features = (_v1_features if scope == "MobilenetV1" else _v2_features)(
            images, conv_bn, width=width, scope=f"FeatureExtractor/{scope}")
        boxes, logits, sizes = tf_ssd.ssd_head(features, conv_bn, variable, head=arch, scope=scope, width=width,
                                               classes=classes)
        anchors = tf_ssd.anchors(sizes, image_size=(res, res))
        final = tf_ssd.detections(boxes[0], logits[0], anchors)
    elif arch == "deeplab":  # model.py's Mobile DeepLabv3 on MobileNetV2* at output stride 16
        features = _v2_features(images, conv_bn, width=width, output_stride=16)["output"]
        pooled = conv_bn(tf.reduce_mean(features, axis=[1, 2], keepdims=True), "image_pooling", 256,
                         activation="relu", epsilon=1e-5)
        pooled = tf.compat.v1.image.resize_bilinear(pooled, tf.shape(features)[1:3], align_corners=True)
        branches = tf.concat([pooled, conv_bn(features, "aspp0", 256, activation="relu", epsilon=1e-5)], 3)
        x = conv_bn(branches, "concat_projection", 256, activation="relu", epsilon=1e-5)
        x = tf.nn.conv2d(x, variable("logits/semantic/weights", (1, 1, 256, classes)), 1, "SAME")
        x = x + variable("logits/semantic/biases", (classes,), kind="biases")
        logits = tf.compat.v1.image.resize_bilinear(x, [res, res], align_corners=True)
    else:
        x = _v2_features(images, conv_bn, width=width)["layer_19"]
    if arch in ("v1", "v2"):
        logits = _classifier(x, variable, scope=scope, classes=classes)
    _check_variables(arch, width=width, res=res)
    pixels = rng.integers(0, 256, (1, res, res, 3), dtype=np.uint8)
    inputs = pixels / np.float32(127.5) - 1  # slim's and DeepLab's [-1, 1] scaling of 8-bit images
    prefix = folder / f"{_release(arch, width, res)}.ckpt"
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().save(session, str(prefix), write_meta_graph=False)
        if arch in DETECTORS:
            outputs = session.run({"boxes": boxes, "logits": logits, "anchors": anchors, "final_boxes": final[0],
                                   "final_scores": final[1], "final_classes": final[2]}, {images: inputs})
        else:
            outputs = {"logits": session.run(logits, {images: inputs})}
        np.savez(folder / "tensorflow.npz", pixels=pixels, **outputs)


def _check_variables(arch: str, *, width: float, res: int) -> None:
    """The graph's variables against the release's: the names TF's source gives them
    (tf_release_variables.py) and, at the releases' width 1.0 and resolution, the parameter count
    their publisher gives (within its rounding)."""
    import tensorflow as tf
    from tf_release_variables import PUBLISHED_PARAMS, counted_parameters, expected_names

    built = {v.name.removesuffix(":0"): tuple(v.shape) for v in tf.compat.v1.global_variables()}
    expected = expected_names(arch, width=width)
    published, rule, source = PUBLISHED_PARAMS[arch]
    counted = counted_parameters(arch, built)
    if set(built) != expected:  # stdout: this process's stderr is TensorFlow's noise, dropped
        print(f"variable names differ from the release's: {sorted(set(built) ^ expected)[:5]}")
        raise SystemExit(1)
    if width == 1.0 and res == RELEASE_RESOLUTION[arch] and abs(counted - published) > 0.005 * published:
        print(f"{counted:,} parameters ({rule}) where {source} has {published:,.0f}")
        raise SystemExit(1)
    print(f"{len(built)} variables, named as the release's; {counted:,} parameters ({rule}); {source}: "
          f"{published:,.0f} at width 1.0 and {RELEASE_RESOLUTION[arch]} px")


def _classifier(x, variable, *, scope: str, classes: int):
    """slim's classifier: global average, then the 1x1 conv Logits/Conv2d_1c_1x1 with biases."""
    import tensorflow as tf

    x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    logits_kernel = variable(f"{scope}/Logits/Conv2d_1c_1x1/weights", (1, 1, int(x.shape[-1]), classes))
    logits_bias = variable(f"{scope}/Logits/Conv2d_1c_1x1/biases", (classes,), kind="biases")
    return tf.squeeze(tf.nn.conv2d(x, logits_kernel, 1, "SAME") + logits_bias, axis=[1, 2])


def _release(arch: str, width: float, res: int) -> str:
    """The release's file stem: TF-slim's mobilenet_v<n>_<width>_<res>, DeepLab's or the detectors'."""
    if arch in DETECTORS:
        return f"{arch}_mobilenet_{'v2' if arch == 'ssdlite' else 'v1'}_{width}_coco_{res}"
    return f"deeplabv3_mnv2_{width}_{res}" if arch == "deeplab" else f"mobilenet_{arch}_{width}_{res}"


def _v1_features(images, conv_bn, *, width: float, scope: str = "MobilenetV1") -> dict:
    """slim's MobileNetV1 base (mobilenet_v1.py; its depth max(int(d * width), 8), the same
    channels at its widths) -> its endpoints Conv2d_11_pointwise and Conv2d_13_pointwise."""
    endpoints = {}
    x = conv_bn(images, f"{scope}/Conv2d_0", max(int(32 * width), 8), kernel=3, stride=2)
    for index, (channels, stride) in enumerate(V1_DEF, start=1):
        x = conv_bn(x, f"{scope}/Conv2d_{index}_depthwise", None, kernel=3, stride=stride, depthwise=True)
        x = endpoints[f"Conv2d_{index}_pointwise"] = conv_bn(x, f"{scope}/Conv2d_{index}_pointwise",
                                                             max(int(channels * width), 8))
    return endpoints


def _v2_features(images, conv_bn, *, width: float, output_stride: int | None = None,
                 scope: str = "MobilenetV2") -> dict:
    """slim's MobileNetV2 -> its endpoints: the last 1x1 conv's output (Conv_1, "layer_19") and
    the expansion output of layer 15 (the first 160-channel block); with `output_stride`
    (DeepLab) "output", the last bottleneck's, where once the running stride reaches it, strided
    layers run at stride 1 and later ones dilated (mobilenet.py: the converted layer keeps the
    current rate)."""
    endpoints = {}
    x = conv_bn(images, f"{scope}/Conv", _divisible(32 * width), kernel=3, stride=2)
    index, current, rate = 0, 2, 1
    for t, c, n, s in V2_DEF:
        for repeat in range(n):
            block = f"{scope}/expanded_conv{'' if index == 0 else f'_{index}'}"
            inputs, channels = x, int(x.shape[-1])
            stride, layer_rate = s if repeat == 0 else 1, rate
            if output_stride is not None and current == output_stride:
                rate *= stride
                stride = 1
            else:
                current *= stride
            if t != 1:
                x = conv_bn(x, f"{block}/expand", _divisible(channels * t))
                endpoints[f"layer_{index + 2}/expansion_output"] = x  # layer_1 is the stem
            x = conv_bn(x, f"{block}/depthwise", None, kernel=3, stride=stride, depthwise=True, rate=layer_rate)
            x = conv_bn(x, f"{block}/project", _divisible(c * width), activation=None)
            if stride == 1 and channels == int(x.shape[-1]):
                x = x + inputs
            index += 1
    if output_stride is not None:
        return {**endpoints, "output": x}
    return {**endpoints, "layer_19": conv_bn(x, f"{scope}/Conv_1", _divisible(1280 * max(1.0, width)))}


def _compare(folder: Path, *, arch: str, width: float, res: int, classes: int) -> dict[str, float]:
    """Our converter and model on the same archive and images: the largest |difference| of each
    output (a detector's final detections: -> inf where they differ in number or classes)."""
    import tarfile

    import numpy as np
    import torch

    from mobilevision.backbones.tf_checkpoint import read_tf_checkpoint
    from mobilevision.backbones.tf_slim_keys import slim_to_our_keys
    from mobilevision.tasks.detect.tf_od_keys import od_to_our_keys
    from mobilevision.tasks.registry import build_model
    from mobilevision.tasks.tf_releases import TF_SSD_POSTPROCESSING

    archive = folder / f"{_release(arch, width, res)}.tgz"
    with tarfile.open(archive, "w:gz") as packed:  # the release's layout: the files at the top
        for file in sorted(folder.glob(f"{_release(arch, width, res)}.ckpt.*")):
            packed.add(file, arcname=f"./{file.name}")
    kwargs = {"width": width, "num_classes": classes, "backbone_options": {"tf_conventions": True}}
    if arch in DETECTORS:  # TF's post-processing, at the releases' pipeline.config score threshold 0.3
        model = build_model(DETECTORS[arch], **kwargs, **{**TF_SSD_POSTPROCESSING, "score_threshold": 0.3})
        convert = od_to_our_keys
    else:
        model = build_model("deeplabv3_mobilenet_v2" if arch == "deeplab" else f"mobilenet_{arch}", **kwargs)
        convert = slim_to_our_keys
    model.load_state_dict(convert(read_tf_checkpoint(archive), model.state_dict(), source=str(archive),
                                  scope=SCOPES[arch]))
    reference = np.load(folder / "tensorflow.npz")
    with torch.no_grad():
        images = torch.from_numpy(reference["pixels"]).permute(0, 3, 1, 2) / np.float32(127.5) - 1
        ours = model.eval().raw_outputs(images)
        if arch not in DETECTORS:
            ours = (ours.permute(0, 2, 3, 1) if arch == "deeplab" else ours).numpy()  # TF's NHWC
            return {"logits": float(np.abs(ours - reference["logits"]).max())}
        detections = model.postprocess(ours, image_size=(res, res))[0]
    tf_order = [1, 0, 3, 2]  # ours (x, y, ...) -> TF's (y, x, ...)
    anchors = model.anchors((res, res)).numpy()[:, tf_order] / res
    differences = {"anchors": float(np.abs(anchors - reference["anchors"]).max()),
                   "box encodings": float(np.abs(ours[0].numpy()[..., tf_order] - reference["boxes"]).max()),
                   "class logits": float(np.abs(ours[1].numpy() - reference["logits"]).max())}
    # Equal scores may come in either order: both lists are compared sorted by class, then box.
    labels, scores = detections["labels"].numpy(), detections["scores"].numpy()
    boxes = detections["boxes"].numpy()[:, tf_order] / res  # TF's normalised [ymin, xmin, ymax, xmax]
    ours_order = np.lexsort((boxes[:, 1], boxes[:, 0], labels))
    tf_order_of = np.lexsort((reference["final_boxes"][:, 1], reference["final_boxes"][:, 0],
                              reference["final_classes"]))
    same = len(labels) == len(reference["final_classes"]) and np.array_equal(
        labels[ours_order], reference["final_classes"][tf_order_of])
    differences["final boxes"] = (float(np.abs(boxes[ours_order] - reference["final_boxes"][tf_order_of]).max())
                                  if same else float("inf"))
    differences["final scores"] = (float(np.abs(scores[ours_order] - reference["final_scores"][tf_order_of]).max())
                                   if same else float("inf"))
    print(f"{len(labels)} detections (TF: {len(reference['final_classes'])}), "
          f"{'the same' if same else 'NOT the same'} classes")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/tfenv"), help="throwaway venv for tensorflow-cpu")
    parser.add_argument("--arch", choices=tuple(SCOPES), default="v2",
                        help="TF-slim's MobileNetV1 or V2 classifier, DeepLab's Mobile DeepLabv3 on V2, or the "
                        "detection zoo's SSDLite-MobileNetV2 or SSD-MobileNetV1 (300 px, 91 classes)")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--res", type=int, default=224)
    parser.add_argument("--sparsity", type=float, default=0.0, help="fraction of each large kernel set to zero")
    parser.add_argument("--classes", type=int, default=1001, help="classifier outputs (the releases': 1001)")
    parser.add_argument("--fixture", type=Path, default=None,
                        help="also keep the archive and TF's images and logits in this folder (the CI fixture)")
    parser.add_argument("--in-tensorflow", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_tensorflow:
        _build_and_save(args.in_tensorflow, arch=args.arch, width=args.width, res=args.res, sparsity=args.sparsity,
                        classes=args.classes)
        return
    python = tensorflow_python(args.venv)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([str(python), __file__, "--in-tensorflow", folder, "--arch", args.arch, "--width", str(args.width),
                        "--res", str(args.res), "--sparsity", str(args.sparsity), "--classes", str(args.classes)],
                       check=True, stderr=subprocess.DEVNULL)
        differences = _compare(Path(folder), arch=args.arch, width=args.width, res=args.res, classes=args.classes)
        if args.fixture:
            args.fixture.mkdir(parents=True, exist_ok=True)
            for name in (f"{_release(args.arch, args.width, args.res)}.tgz", "tensorflow.npz"):
                shutil.copyfile(Path(folder) / name, args.fixture / name)
    for output, difference in differences.items():
        print(f"{_release(args.arch, args.width, args.res)}: largest |difference| of the {output} {difference:.3g} "
              f"({'within' if difference <= 1e-4 else 'ABOVE'} 1e-4)")


if __name__ == "__main__":
    main()
