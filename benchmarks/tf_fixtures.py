"""TensorFlow-written fixtures for the tests of our TF readers and TF conventions (not CI).

Installs tensorflow-cpu from the package index into a throwaway venv (never into .venv), runs
this file inside it, and writes into tests/fixtures/tf/:
  reader/model.ckpt.{index,data-00000-of-00001}  a TF1 checkpoint as the model zoos' releases are
      saved (tf.compat.v1.train.Saver), with TF-slim variable names, an int64 global_step and
      enough variables to spread the index over several table blocks;
  reader/expected.npz  the same tensors as TF's own reader returns them;
  same_padding.npz  inputs, kernels and TF's conv2d / depthwise_conv2d outputs with padding
      "SAME" at strides 1 and 2, odd and even sizes, and a dilation.

    .venv/bin/python benchmarks/tf_fixtures.py [--venv /tmp/tfenv]
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from tf_env import tensorflow_python  # this folder's: the scripts run as files

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tf"


def _in_tensorflow(out: Path) -> None:
    """Runs inside the venv with TensorFlow: writes the fixtures into `out`."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        shapes = {"MobilenetV2/Conv/weights": (3, 3, 3, 8), "MobilenetV2/Conv/BatchNorm/gamma": (8,),
                  "MobilenetV2/expanded_conv/depthwise/depthwise_weights": (3, 3, 8, 1)}
        shapes |= {f"MobilenetV2/expanded_conv_{i}/project/BatchNorm/moving_mean": (2,) for i in range(1, 120)}
        for name, shape in shapes.items():
            tf.compat.v1.get_variable(name, initializer=tf.constant(rng.standard_normal(shape).astype(np.float32)))
        tf.compat.v1.get_variable("global_step", initializer=tf.constant(np.int64(30000)))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            (out / "reader").mkdir(parents=True, exist_ok=True)
            saver.save(session, str(out / "reader" / "model.ckpt"), write_meta_graph=False)
    (out / "reader" / "checkpoint").unlink()  # TF's pointer file; the releases' archives hold it, readers don't need it
    reader = tf.train.load_checkpoint(str(out / "reader" / "model.ckpt"))
    # npz keys cannot hold "/": the names are stored as a separate array, in the same order.
    names = sorted(reader.get_variable_to_shape_map())
    np.savez_compressed(out / "reader" / "expected.npz", names=np.array(names), **{f"t{i}": reader.get_tensor(name)
                                                                        for i, name in enumerate(names)})

    tf.compat.v1.enable_eager_execution()
    cases = {}
    for index, (size, kernel, stride, dilation, depthwise) in enumerate([
        ((7, 8), 3, 2, 1, False), ((8, 8), 3, 2, 1, False), ((9, 6), 5, 2, 1, True), ((8, 7), 3, 1, 2, True),
        ((6, 6), 1, 2, 1, False), ((10, 11), 3, 2, 1, True),
    ]):
        images = rng.standard_normal((1, *size, 3)).astype(np.float32)  # NHWC
        if depthwise:
            weights = rng.standard_normal((kernel, kernel, 3, 1)).astype(np.float32)
            output = tf.nn.depthwise_conv2d(images, weights, strides=[1, stride, stride, 1], padding="SAME",
                                            dilations=[dilation, dilation])
        else:
            weights = rng.standard_normal((kernel, kernel, 3, 4)).astype(np.float32)
            output = tf.nn.conv2d(images, weights, strides=stride, padding="SAME", dilations=dilation)
        cases |= {f"case{index}_images": images, f"case{index}_weights": weights, f"case{index}_output": output.numpy(),
                  f"case{index}_config": np.array([stride, dilation, int(depthwise)])}
    np.savez_compressed(out / "same_padding.npz", **cases)
    print(f"wrote {out} with TensorFlow {tf.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/tfenv"), help="throwaway venv for tensorflow-cpu")
    parser.add_argument("--in-tensorflow", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_tensorflow:
        _in_tensorflow(args.in_tensorflow)
        return
    python = tensorflow_python(args.venv)
    subprocess.run([str(python), __file__, "--in-tensorflow", str(FIXTURES)], check=True)


if __name__ == "__main__":
    main()
