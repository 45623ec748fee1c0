"""`mobilevision demo live` in a real window on a virtual X display (Debian's Xvfb, which .ci/run
installs): the window opens, a screenshot of the display shows the frame, and the status line,
the top classes, the legend, the keys and the scene never overlap."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageGrab

from mobilevision.cli import main
from mobilevision.demos import live, window
from tests.demos.test_layout import overlap

SCREEN = (1280, 1024)


@pytest.fixture
def display(monkeypatch):
    """The name (":N") of a fresh Xvfb display, set as DISPLAY for this test."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian's xvfb; .ci/run installs it)")
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it once it accepts connections.
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                               "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    monkeypatch.setenv("DISPLAY", f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def test_demo_live_opens_a_window_that_shows_the_laid_out_frame(checkpoints, video, display, monkeypatch, tmp_path,
                                                                 capsys):
    assert window.window_unavailable() is None
    seen = []  # (laid-out frame, the window's screenshot, where the window sits on the screen) per frame
    statuses = []

    def lay_out(*args, **kwargs):
        statuses.append(kwargs["status"])
        seen.append([live_lay_out(*args, **kwargs)])
        return seen[-1][0]

    def show(self, canvas):
        window_show(self, canvas)
        self.root.update_idletasks()
        where = (self.root.winfo_rootx(), self.root.winfo_rooty())
        seen[-1] += [np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB")), where]

    live_lay_out, window_show = live.lay_out, window.Window.show
    monkeypatch.setattr(live, "lay_out", lay_out)
    monkeypatch.setattr(window.Window, "show", show)
    code = main(["demo", "live", "--source", str(video), "--weights", str(checkpoints["classify"]),
                 "--weights", str(checkpoints["segment"]), "--weights", str(checkpoints["detect"]),
                 "--runtime", "torch", "--conf", "0.05", "--project", str(tmp_path)])
    printed = capsys.readouterr().out
    print(printed)
    assert code == 0 and "no window" not in printed and "8 frames" in printed
    assert len(seen) == 8 and all(len(shown) == 3 for shown in seen)

    laid_out, screen, (left, top) = seen[-1]
    height, width = laid_out.canvas.shape[:2]
    shot = screen[top:top + height, left:left + width]
    assert shot.shape == laid_out.canvas.shape  # the window shows the frame whole, unshrunk
    assert shot.std() > 20  # not an empty window: a scene, masks, text
    assert np.abs(shot.astype(np.int16) - laid_out.canvas.astype(np.int16)).mean() < 2

    regions = laid_out.regions
    # Every task's text is there: top classes (top-left corner), the segmentation legend (bottom-left).
    assert {"status", "scene", "keys", "top-left", "bottom-left"} <= set(regions)
    for first, second in itertools.combinations(regions, 2):
        assert not overlap(regions[first], regions[second]), (first, regions[first], second, regions[second])
    for name in ("status", "top-left", "bottom-left", "keys"):
        x0, y0, x1, y1 = regions[name]
        assert (shot[y0:y1, x0:x1] > 200).all(axis=2).any(), name  # white text drawn there, on screen

    # For a person's look: the whole display, and the status line the window showed.
    Image.fromarray(screen).save(tmp_path / "screen.png")
    print(f"screenshot {tmp_path / 'screen.png'}; status shown: {statuses[-1][0]}")
