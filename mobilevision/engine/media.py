"""What `predict` reads and writes: images, folders of images and videos in; annotated videos out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mobilevision.datasets.folder import IMAGE_SUFFIXES
from mobilevision.datasets.image_io import UnreadableImage, read_image
from mobilevision.errors import MobileVisionError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
DEFAULT_FPS = 25.0  # when the container does not say


def is_video(source: str | Path) -> bool:
    return Path(source).suffix.lower() in VIDEO_SUFFIXES


def frames(source: str | Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB image (H, W, 3) uint8) for an image, each image of a folder, or each video frame."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise MobileVisionError(f"{source}: no images in this folder")
        for file in files:
            yield from frames(file)
    elif is_video(path):
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise MobileVisionError(f"{source}: OpenCV cannot open this video")
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield f"{path}#frame{index}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
        capture.release()
    elif path.is_file():
        try:
            yield str(path), read_image(path)
        except UnreadableImage as error:
            raise MobileVisionError(f"{source}: {error}") from error
    else:
        raise MobileVisionError(f"{source}: no such image, folder or video")


class VideoOutput:
    """An mp4 of RGB (H, W, 3) frames at `fps`, else the source video's frame rate, opened on the
    first frame (whose size it takes). Use as a context manager so that the file is finalised on
    errors too."""

    def __init__(self, path: Path, *, source: str | Path, fps: float | None = None) -> None:
        self.path, self.source, self.fps, self.writer = path, source, fps, None

    def write(self, image: np.ndarray) -> None:
        if self.writer is None:
            fps = self.fps or cv2.VideoCapture(str(self.source)).get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                          (image.shape[1], image.shape[0]))
        self.writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    def __enter__(self) -> VideoOutput:
        return self

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.release()


def save_drawn(drawn: np.ndarray, *, frame_name: str, run_dir: Path, video_output: VideoOutput | None) -> Path:
    """Where a drawn RGB frame (H, W, 3) went: the next frame of `video_output` (a video source), else
    <run_dir>/<stem of frame_name>.jpg."""
    if video_output is not None:
        video_output.write(drawn)
        return video_output.path
    output = run_dir / f"{Path(frame_name).stem}.jpg"
    cv2.imwrite(str(output), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    return output
