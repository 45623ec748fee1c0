"""Clients of the web demo for the tests: gradio_client for /predict, and a webcam session on
/stream spoken over Gradio's HTTP protocol as the page does; and the images they send."""

from __future__ import annotations

import base64
import json
import mimetypes
import uuid
import zlib
from pathlib import Path

import cv2
import numpy as np

TASKS = ["classify", "detect", "segment"]


def client(url: str, *, auth: tuple[str, str] | None = None):
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False)


def ask(session, path: Path, *, models: list[str], tasks: list[str] = TASKS, conf: float = 0.05):
    """(overlay path, results, legend, status) of /predict on the image file at `path`."""
    from gradio_client import handle_file

    return session.predict(handle_file(str(path)), models, tasks, conf, api_name="/predict")


class WebcamStream:
    """A webcam session on /stream, as the page runs one (gradio_client cannot send a stream): the
    first frame joins the queue, each later one is posted to the open event, and each is answered
    by one "process_streaming" message on the session's event stream. Frames go as data URLs, as
    the browser sends them. close() ends the session (contextlib.closing)."""

    def __init__(self, url: str, *, models: list[str], tasks: list[str] = TASKS, conf: float = 0.05,
                 cookies: dict | None = None) -> None:
        import httpx

        self.http = httpx.Client(base_url=f"{url.rstrip('/')}/gradio_api/", cookies=cookies, timeout=120)
        config = self.http.get(f"{url.rstrip('/')}/config").raise_for_status().json()
        stream = next(event for event in config["dependencies"] if event.get("api_name") == "stream")
        self.request = {"fn_index": stream["id"], "trigger_id": stream["targets"][0][0],
                        "session_hash": uuid.uuid4().hex, "event_data": None}
        self.controls = [models, tasks, conf]
        self.event_id: str | None = None
        self.response = self.messages = None

    def send(self, path: Path) -> list:
        """(overlay file data, results, legend, status) of the image file at `path` sent as a frame."""
        mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
        frame = {"url": f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"}
        body = {**self.request, "data": [frame, *self.controls]}
        if self.event_id is None:
            self.event_id = self.http.post("queue/join", json=body).raise_for_status().json()["event_id"]
            self.response = self.http.send(self.http.build_request(
                "GET", "queue/data", params={"session_hash": self.request["session_hash"]}), stream=True)
            self.messages = (json.loads(line[5:]) for line in self.response.iter_lines() if line.startswith("data:"))
        else:
            self.http.post(f"stream/{self.event_id}", json=body).raise_for_status()
        return self._next("process_streaming")["output"]["data"]

    def _next(self, kind: str) -> dict:
        for message in self.messages:
            if message["msg"] == kind:
                return message
            if message["msg"] in ("process_completed", "queue_full", "unexpected_error"):
                raise RuntimeError(f"the stream ended waiting for {kind}: {message}")
        raise RuntimeError(f"the server closed the event stream waiting for {kind}")

    def close(self) -> None:
        """Ends the session as the page's Stop does, and waits for the server's last word."""
        try:
            if self.event_id is not None:
                self.http.post(f"stream/{self.event_id}/close").raise_for_status()
                self._next("process_completed")
        finally:
            if self.response is not None:
                self.response.close()
            self.http.close()


def write_image(path: Path, image: np.ndarray) -> Path:
    """image (H, W, 3) uint8 RGB, (H, W) gray or (H, W, 4) RGBA written as the file `path`."""
    conversion = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}.get(image.shape[2] if image.ndim == 3 else 1)
    cv2.imwrite(str(path), cv2.cvtColor(image, conversion) if conversion is not None else image)
    return path


def big_png(path: Path, *, width: int, height: int, gray: bool = False) -> Path:
    """A valid PNG of width x height black pixels written row by row, so the test never holds it
    decoded: 8-bit RGB, or with `gray` 1-bit grayscale (a 20000 x 20000 bomb in 50 kB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    bit_depth, colour_type, row_bytes = (1, 0, -(-width // 8)) if gray else (8, 2, 3 * width)
    compressor, row = zlib.compressobj(9), b"\x00" + bytes(row_bytes)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([bit_depth, colour_type, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path
