"""The live demo's frames, read in a background thread so decoding overlaps inference.

A live source (a camera index, an rtsp:// or http(s):// stream) keeps only its newest frame:
when inference is slower than the camera, stale frames are dropped, so what is shown lags the
scene by at most one frame. A video file, an image or a folder of images is read in full and in
order through a small queue: the reader waits for the consumer instead of dropping.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mobilevision.engine.media import frames
from mobilevision.errors import MobileVisionError

QUEUE_FRAMES = 4  # decoded frames a file source may read ahead
OPEN_TIMEOUT_MS = 5000  # a stream that does not answer in time is reported, not waited on for minutes


@dataclass
class Frame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    index: int  # position in the source: a live source's indices skip the frames it dropped
    captured: float  # time.perf_counter() when it was read


def is_live(source: str) -> bool:
    """A camera index ("0") or a network stream, as opposed to a file or folder."""
    return source.isdigit() or "://" in source


def open_capture(source: str) -> cv2.VideoCapture:
    """An opened cv2.VideoCapture of a camera index or stream URL; a one-line error otherwise."""
    # OpenCV and FFmpeg log their backends' failed attempts on stderr; the error below says it in
    # one line. (FFmpeg reads its level once, when OpenCV first loads it.)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        if source.isdigit():
            capture = cv2.VideoCapture(int(source))
        else:
            capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS])
    finally:
        cv2.utils.logging.setLogLevel(previous)
    if not capture.isOpened():
        what = (f"camera {source} (not connected, or in use by another program)" if source.isdigit()
                else "this stream (unreachable, or a format OpenCV's FFmpeg cannot read)")
        raise MobileVisionError(f"--source {source}: cannot open {what}")
    return capture


class FrameReader:
    """read() returns the next Frame to show, or None once the source has ended; close() stops the
    thread. Errors of a file source (a missing path, an undecodable video) are raised at construction."""

    def __init__(self, source: str) -> None:
        self.source, self.live = source, is_live(source)
        self._stop = threading.Event()
        self._ended = False
        if self.live:
            self._capture = open_capture(source)
            self.fps = self._capture.get(cv2.CAP_PROP_FPS) or None
            self._latest: Frame | None = None
            self._condition = threading.Condition()
            self._last_index = -1
            target = self._read_live
        else:
            if not Path(source).exists():
                raise MobileVisionError(f"--source {source}: no such file or folder (a camera is a number, e.g. 0)")
            self._frames = frames(source)
            # Decoding the first frame here turns a bad path into an error before any model loads.
            first = next(self._frames, None)
            if first is None:
                raise MobileVisionError(f"--source {source}: the video has no frames OpenCV can decode")
            self._first = first[1]
            self.fps = None
            self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
            target = self._read_all
        self._thread = threading.Thread(target=target, name=f"frames:{source}", daemon=True)
        self._thread.start()

    def read(self) -> Frame | None:
        if not self.live:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            return item
        with self._condition:
            self._condition.wait_for(lambda: self._ended or (self._latest and self._latest.index > self._last_index))
            if self._latest is None or self._latest.index <= self._last_index:
                return None
            self._last_index = self._latest.index
            return self._latest

    def close(self) -> None:
        self._stop.set()
        if not self.live:
            while not self._queue.empty():  # unblock a reader waiting to put
                self._queue.get_nowait()
        self._thread.join(timeout=5)
        if self.live:
            self._capture.release()

    def _read_live(self) -> None:
        index = 0
        while not self._stop.is_set():
            ok, bgr = self._capture.read()
            if not ok:
                break
            frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index, time.perf_counter())
            with self._condition:
                self._latest = frame
                self._condition.notify_all()
            index += 1
        with self._condition:
            self._ended = True
            self._condition.notify_all()

    def _read_all(self) -> None:
        try:
            self._put(Frame(self._first, 0, time.perf_counter()))
            for index, (_, image) in enumerate(self._frames, start=1):
                if self._stop.is_set() or not self._put(Frame(image, index, time.perf_counter())):
                    return
            self._put(None)
        except MobileVisionError as error:
            self._put(error)

    def _put(self, item) -> bool:
        """Queue `item`, waiting for room; False when close() was called meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
