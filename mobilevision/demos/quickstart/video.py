"""Step 6a: an annotated demo video: val images made into a video, then through the live demo's
headless path (what `demo live --source VIDEO --no-window --save OUT` runs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2

from mobilevision.demos.live import run_live, summary_line
from mobilevision.demos.render import DEFAULT_CONF
from mobilevision.demos.sources import FrameReader
from mobilevision.tasks.predictor import FramePredictor

VIDEO_IMAGES = 80  # val images shown: about 2.5 s of frames, so one hiccup of the machine moves the FPS less
VIDEO_FPS = 2.0  # each image for half a second: long enough to read its overlay
VIDEO_SIDE = 640  # frames are upscaled to it, so the overlay's text stays legible on small images


def write_input_video(images: Sequence[Path], path: Path) -> Path:
    """An mp4 of the first VIDEO_IMAGES `images`, one (VIDEO_SIDE, VIDEO_SIDE) frame each."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, (VIDEO_SIDE, VIDEO_SIDE))
    try:
        for image in images[:VIDEO_IMAGES]:
            writer.write(cv2.resize(cv2.imread(str(image)), (VIDEO_SIDE, VIDEO_SIDE), interpolation=cv2.INTER_LINEAR))
    finally:
        writer.release()
    return path


def render_demo_video(predictors: Sequence[FramePredictor], *, source: Path, out: Path) -> dict:
    """run_live's summary {"frames", "fps", "model_ms", "runtime", "video"} of `source` drawn into `out`."""
    summary = run_live(FrameReader(str(source)), predictors, conf=DEFAULT_CONF, save=out, window=False)
    print(summary_line(summary))
    return summary
