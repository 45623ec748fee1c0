"""The one predict loop every task shares: a frame predictor over an image, a folder of images or
a video; each frame drawn and saved (images as <stem>.jpg, a video as <stem>.mp4) and described as
JSON, which is also written to the task's predictions file in the run folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from mobilevision.engine.media import VideoOutput, frames, is_video, save_drawn


class PredictingTask(Protocol):
    """What the loop needs of a task (tasks/base.py's Task)."""

    predictions_file: str

    def describe_results(self, results: dict, class_names: dict, **options) -> dict: ...

    def draw_results(self, image: Any, results: dict, class_names: dict) -> Any: ...

    def save_extras_of(self, results: dict, *, run_dir: Path, stem: str, output: Path, video: bool) -> dict: ...


def predict_source(task: PredictingTask, predictor: Any, *, source: str, run_dir: Path, conf: float,
                   **options) -> Iterator[dict]:
    """For each image or frame of `source`: {"source", "size": [w, h], "output": the drawn file, and
    the task's description of its results (describe_results; `options`: the task's predict flags)
    and extra files}. `predictor`: a tasks.predictor.FramePredictor; `conf`: its lowest box score."""
    video, results = is_video(source), []
    with VideoOutput(run_dir / f"{Path(source).stem}.mp4", source=source) as video_output:
        try:
            for frame_name, image in frames(source):
                found = predictor(image, conf=conf)
                drawn = task.draw_results(image, found, predictor.class_names)
                output = save_drawn(drawn, frame_name=frame_name, run_dir=run_dir,
                                    video_output=video_output if video else None)
                result = {"source": frame_name, "size": [image.shape[1], image.shape[0]], "output": str(output),
                          **task.describe_results(found, predictor.class_names, **options),
                          **task.save_extras_of(found, run_dir=run_dir, stem=Path(frame_name).stem, output=output,
                                                video=video)}
                results.append(result)
                yield result
        finally:
            (run_dir / task.predictions_file).write_text(json.dumps(results, indent=1))
