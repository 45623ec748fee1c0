"""Frames per second of the whole live-demo pipeline: decoding (in its reader thread),
preprocessing, the network, decoding and NMS, drawing and the status overlay, exactly as
`mobilevision demo live` runs them (demos/live.py), without a window or a video written.

    .venv/bin/python benchmarks/live_pipeline.py [--weights CKPT ...] [--runtime auto] [--frames 300]

Default model: SSDLite-MobileNetV2 1.0 at 320 with seeded random weights (80 classes), on the
fastest runtime (auto: ONNX Runtime on a CPU, exported on first use). Random weights draw no box
above --conf 0.3; pass a trained checkpoint (--weights) to time drawing real detections too, and
several --weights (a detector and a segmenter) to time tasks together. The input is a generated
640 x 480 video of moving shapes. Not run by CI.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from mobilevision.demos.live import run_live
from mobilevision.demos.loading import load_predictors
from mobilevision.demos.sources import FrameReader


def write_video(path: Path, *, frames: int, size: tuple[int, int] = (480, 640)) -> Path:
    """A webcam-sized mp4 of a textured background with a few shapes crossing it."""
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (*size, 3), dtype=np.uint8), (0, 0), 8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (size[1], size[0]))
    for index in range(frames):
        image = background.copy()
        cv2.circle(image, ((40 + 4 * index) % size[1], size[0] // 3), 50, (40, 40, 220), -1)
        cv2.rectangle(image, (size[1] - (60 + 3 * index) % size[1], 280), (size[1] - (60 + 3 * index) % size[1] + 120,
                      400), (40, 200, 40), -1)
        writer.write(image)
    writer.release()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", action="append", default=None, help="checkpoint(s); default a fresh "
                        "SSDLite-MobileNetV2 1.0 at 320")
    parser.add_argument("--runtime", default="auto", choices=("auto", "torch", "onnxruntime"))
    parser.add_argument("--imgsz", type=int, default=None, help="input size (default: each checkpoint's)")
    parser.add_argument("--conf", type=float, default=0.3)
    parser.add_argument("--frames", type=int, default=300, help="frames of the generated video")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        weights = args.weights
        if not weights:
            from mobilevision.bench.cases import fresh_case

            case = fresh_case("ssdlite_mobilenet_v2", width=1.0, imgsz=320, folder=Path(folder),
                              class_names=[f"class{index}" for index in range(80)])
            weights = [str(case.checkpoint)]
        predictors = load_predictors(weights, runtime=args.runtime, imgsz=args.imgsz, device="cpu", min_conf=args.conf)
        video = write_video(Path(folder) / "input.mp4", frames=args.frames)
        summary = run_live(FrameReader(str(video)), predictors, conf=args.conf, save=None, window=False)
    print(f"{summary['frames']} frames of 640 x 480: {summary['fps']:.1f} FPS for the whole pipeline, "
          f"model (pre/post-processing included) {summary['model_ms']:.1f} ms median, on {summary['runtime']}")


if __name__ == "__main__":
    main()
