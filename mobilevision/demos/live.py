"""`mobilevision demo live`: models on a camera, a stream, a video or a folder, in a window or into
an annotated video.

Each frame: the predictors (predictor.py), then the frame laid out for a person (layout.py: the
masks and boxes on the scene, scaled up when small; beside it the status line with the frame rate,
the model time, the latency from frame read to drawn and the runtime, the top classes, the legend
and the keys). A window wherever a display exists (window.py; keys: q or Esc quit, space pause,
s snapshot, t next task set); otherwise, or with --save, an mp4 and a line saying where.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import cv2
import numpy as np

from mobilevision.demos.layout import lay_out
from mobilevision.demos.render import overlays, predict_all
from mobilevision.demos.sources import FrameReader
from mobilevision.demos.window import Window
from mobilevision.engine.media import DEFAULT_FPS, VideoOutput
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.registry import single_tasks

TITLE = "mobilevision live"
SMOOTHING = 0.9  # weight of the past in the frame-rate and latency averages shown


def task_sets(predictors: Sequence[FramePredictor]) -> list[tuple[str, ...]]:
    """What `t` cycles through: every task the predictors have, then each task alone."""
    tasks = tuple(task for task in single_tasks() if any(task in predictor.tasks for predictor in predictors))
    return [tasks] + ([(task,) for task in tasks] if len(tasks) > 1 else [])


def run_live(reader: FrameReader, predictors: Sequence[FramePredictor], *, conf: float, save: Path | None,
             window: bool, snapshots: Path = Path(".")) -> dict:
    """Run until the source ends or the user quits, showing each frame in a window (where
    window.window_unavailable says one can open) and/or writing it to `save`; returns {"frames", "fps", "model_ms" (median),
    "runtime", "video" (the saved file or None)}. `reader` is closed on the way out."""
    runtime = ", ".join(dict.fromkeys(predictor.runtime for predictor in predictors))
    cycle, choice = task_sets(predictors), 0
    fps = latency = previous = video_size = None
    model_ms, finished, last_index = [], [], -1
    output = (VideoOutput(save, source=reader.source, fps=(reader.fps or DEFAULT_FPS) if reader.live else None)
              if save else nullcontext())
    shown = Window(TITLE) if window else None
    try:
        with output:
            while (frame := reader.read()) is not None:
                before = time.perf_counter()
                outputs = predict_all(predictors, frame.image, tasks=cycle[choice], conf=conf)
                model_ms.append((time.perf_counter() - before) * 1000)
                now = time.perf_counter()
                fps = _smooth(fps, 1 / max(now - previous, 1e-6)) if previous is not None else None
                latency, previous = _smooth(latency, (now - frame.captured) * 1000), now
                status = (f"{fps or 0:.1f} FPS  model {model_ms[-1]:.0f} ms  latency {latency:.0f} ms  {runtime}",
                          "tasks: " + "+".join(cycle[choice]))
                canvas = lay_out(frame.image, overlays(outputs), status=status).canvas
                if save:
                    # A folder's images differ in size; a video has one (the first frame's).
                    video_size = video_size or (canvas.shape[1], canvas.shape[0])
                    written = canvas if canvas.shape[1::-1] == video_size else cv2.resize(canvas, video_size)
                    # A live source's indices count the frames it dropped: repeating the frame shown
                    # for them keeps the video in real time at the camera's rate.
                    for _ in range(frame.index - last_index if reader.live else 1):
                        output.write(written)
                last_index = frame.index
                finished.append(time.perf_counter())
                if shown is not None:
                    key = _show(shown, canvas, paused=False)
                    if key == "quit":
                        break
                    if key == "snapshot":
                        print(f"snapshot: {_snapshot(canvas, snapshots)}")
                    elif key == "tasks":
                        choice = (choice + 1) % len(cycle)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a headless camera recording ends; the video is finalised above
    finally:
        reader.close()
        if shown is not None:
            shown.close()
    return {"frames": len(model_ms), "fps": frame_rate(finished),
            "model_ms": statistics.median(model_ms) if model_ms else None, "runtime": runtime,
            "video": str(save) if save else None}


def frame_rate(finished: Sequence[float]) -> float:
    """Frames per second from the times the frames were finished: over the intervals between them,
    as the window's FPS is, so the first frame's one-off costs (the video file opened, the layout's
    first call) are not spread over a short clip's rate. 0.0 for fewer than two frames."""
    span = finished[-1] - finished[0] if len(finished) > 1 else 0.0
    return (len(finished) - 1) / span if span > 0 else 0.0


def summary_line(summary: dict) -> str:
    """run_live's summary as the line `demo live` ends with."""
    model_ms = f", model {summary['model_ms']:.1f} ms median" if summary["model_ms"] is not None else ""
    return (f"{summary['frames']} frames at {summary['fps']:.1f} FPS{model_ms} on {summary['runtime']}"
            + (f" -> {summary['video']}" if summary["video"] else ""))


def _smooth(average: float | None, value: float | None) -> float | None:
    if value is None:
        return average
    return value if average is None else SMOOTHING * average + (1 - SMOOTHING) * value


def _show(window: Window, canvas: np.ndarray, *, paused: bool) -> str | None:
    """Show the frame and read a key: "quit", "snapshot", "tasks" or None. Space pauses until the
    next space (or q); closing the window quits."""
    window.show(canvas)
    while True:
        key = window.key()
        if key == "pause":
            paused = not paused
        elif key is not None:
            return key
        if not paused:
            return None
        time.sleep(0.05)


def _snapshot(canvas: np.ndarray, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / time.strftime("snapshot-%Y%m%d-%H%M%S.png")
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return path
