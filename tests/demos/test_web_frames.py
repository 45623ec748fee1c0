"""One frame check for both web endpoints (frames.read_frame): grayscale, RGBA and 16-bit images
come out (H, W, 3) uint8 RGB, a frame beyond the pixel limit is refused before it is decoded and a
large one scaled down, whether it came as an uploaded file (/predict) or as the data URL a webcam
streams (/stream); through the server, every bad frame is answered with a message and the webcam
session goes on."""

from __future__ import annotations

import base64
import contextlib
import re

import cv2
import numpy as np
import pytest

from mobilevision.demos.frames import DISPLAY_SIDE, MAX_PIXELS, read_frame
from mobilevision.errors import MobileVisionError
from tests.demos.conftest import scene
from tests.demos.web_clients import WebcamStream, ask, big_png, client, write_image


def payloads(path) -> list[dict]:
    """The two ways a payload carries an image: an uploaded file, and a webcam's data URL."""
    return [{"path": str(path), "orig_name": path.name},
            {"url": f"data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"}]


@pytest.mark.parametrize("channels", ["gray", "rgba", "gray16"])
def test_every_frame_comes_out_rgb_uint8(tmp_path, channels):
    image = scene(1, size=(60, 80))
    on_disk = {"gray": cv2.cvtColor(image, cv2.COLOR_RGB2GRAY),
               "rgba": cv2.cvtColor(image, cv2.COLOR_RGB2RGBA),
               "gray16": cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257}[channels]
    path = write_image(tmp_path / f"{channels}.png", on_disk)
    expected = image if channels == "rgba" else cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY),
                                                             cv2.COLOR_GRAY2RGB)
    for payload in payloads(path):
        frame = read_frame(payload, name="the frame")
        assert frame.shape == (60, 80, 3) and frame.dtype == np.uint8
        assert np.array_equal(frame, expected)


def test_the_pixel_limit_and_the_downscale_hold_for_both_payloads(tmp_path):
    bomb = big_png(tmp_path / "bomb.png", width=7000, height=7000, gray=True)
    assert 7000 * 7000 > MAX_PIXELS and bomb.stat().st_size < 100_000
    large = big_png(tmp_path / "large.png", width=2400, height=1600)
    for bomb_payload, large_payload in zip(payloads(bomb), payloads(large)):
        with pytest.raises(MobileVisionError, match=r"is too large \(7000 x 7000 pixels\); this demo takes images "
                           r"up to 25 megapixels"):
            read_frame(bomb_payload, name="the frame")
        assert read_frame(large_payload, name="the frame").shape == (DISPLAY_SIDE * 2 // 3, DISPLAY_SIDE, 3)


@pytest.mark.parametrize(("payload", "reason"), [
    ({"url": "data:image/png;base64,"}, "the frame is empty (0 bytes)"),
    ({"url": "data:image/png;base64,bm90IGFuIGltYWdl"}, "the frame is not an image"),  # "not an image"
    ({"url": "data:image/png;base64,***"}, "the frame is not valid base64"),
    ({"url": "http://example.com/cat.jpg"}, "the frame holds no image"),
    ({"path": "/no/such/upload.png"}, "the frame is no longer on the server (No such file or directory)"),
])
def test_a_bad_frame_says_what_is_wrong(payload, reason):
    with pytest.raises(MobileVisionError, match=re.escape(reason)):
        read_frame(payload, name="the frame")


def test_the_webcam_endpoint_answers_bad_frames_and_streams_on(web_demo, tmp_path):
    url, predictors = web_demo
    detector = next(p for p in predictors if p.tasks == ("detect",))
    image = scene(2, size=(120, 160))
    gray = write_image(tmp_path / "gray.png", cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    rgba = write_image(tmp_path / "rgba.png", cv2.cvtColor(image, cv2.COLOR_RGB2RGBA))
    huge = big_png(tmp_path / "huge.png", width=7000, height=7000, gray=True)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with contextlib.closing(WebcamStream(url, models=[detector.name], tasks=["detect"])) as webcam:
        for path, reason in ((huge, "the frame is too large (7000 x 7000 pixels)"),
                             (text, "the frame is not an image")):
            overlay, results, _, status = webcam.send(path)
            assert overlay is None and results is None
            assert status.startswith("**Cannot use this frame:**") and reason in status, status
        for path in (gray, rgba):  # a ValueError inside the handler before
            overlay, results, _, status = webcam.send(path)
            assert overlay is not None and "detect" in results and "ms on" in status, status


def test_controls_the_page_would_never_send_are_named(web_demo, tmp_path):
    url, predictors = web_demo
    path = write_image(tmp_path / "scene.png", scene(0, size=(60, 80)))
    session = client(url)
    name = predictors[0].name
    for models, conf, reason in ((name, 0.3, f"models must be a list of names, got {name!r}"),
                                 ([name], -1, "the detection threshold must be a number from 0 to 1, got -1"),
                                 ([name], "high", "the detection threshold must be a number from 0 to 1, got 'high'")):
        overlay, _, _, status = ask(session, path, models=models, conf=conf)
        assert overlay is None and status == f"**Cannot use this upload:** {reason}"
