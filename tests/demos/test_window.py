"""`mobilevision demo live` in a real window on a virtual X display (Debian's Xvfb, which .ci/run
installs): the window opens, a screenshot of the display shows the frame, the status line, the top
classes, the legend, the keys and the scene never overlap, and the keys work."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilevision.cli import main
from tests.demos.test_layout import overlap

ROOT = Path(__file__).resolve().parents[2]
SCREEN = (1280, 1024)


@pytest.fixture
def display():
    """The name (":N") of a fresh Xvfb display."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian's xvfb; .ci/run installs it)")
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it once it accepts connections.
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                               "-nolisten", "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def demo_live(display: str, out: Path, args: list[str], *, keys: dict[int, str] | None = None) -> dict:
    """tests/demos/window_run.py's record of `mobilevision demo live ARGS` run on `display`."""
    subprocess.run([sys.executable, "-m", "tests.demos.window_run", str(out), json.dumps(keys or {}), "demo", "live",
                    *args], cwd=ROOT, env={**os.environ, "DISPLAY": display}, check=True, timeout=300)
    return json.loads((out / "shown.json").read_text())


def test_demo_live_opens_a_window_that_shows_the_laid_out_frame(checkpoints, video, display, tmp_path):
    shown = demo_live(display, tmp_path, ["--source", str(video), "--weights", str(checkpoints["classify"]),
                                          "--weights", str(checkpoints["segment"]), "--weights",
                                          str(checkpoints["detect"]), "--runtime", "torch", "--conf", "0.05",
                                          "--project", str(tmp_path)])
    assert shown["code"] == 0 and "no window" not in shown["printed"] and "8 frames" in shown["printed"]
    assert len(shown["frames"]) == 8 and all("where" in frame for frame in shown["frames"])

    canvas = np.asarray(Image.open(tmp_path / "canvas.png"))
    screen = np.asarray(Image.open(tmp_path / "screen.png"))
    left, top = shown["frames"][-1]["where"]
    shot = screen[top:top + canvas.shape[0], left:left + canvas.shape[1]]
    assert shot.shape == canvas.shape  # the window shows the frame whole, unshrunk
    assert shot.std() > 20  # not an empty window: a scene, masks, text
    assert np.abs(shot.astype(np.int16) - canvas.astype(np.int16)).mean() < 2

    regions = shown["frames"][-1]["regions"]
    # Every task's text is there: top classes (top-left corner), the segmentation legend (bottom-left).
    assert {"status", "scene", "keys", "top-left", "bottom-left"} <= set(regions)
    for first, second in itertools.combinations(regions, 2):
        assert not overlap(regions[first], regions[second]), (first, regions[first], second, regions[second])
    for name in ("status", "top-left", "bottom-left", "keys"):
        x0, y0, x1, y1 = regions[name]
        assert (shot[y0:y1, x0:x1] > 200).all(axis=2).any(), name  # white text drawn there, on screen
    # For a person's look (pytest -s): where the screenshot is, and what the window reported.
    print(f"screenshot {tmp_path / 'screen.png'}; status shown: {shown['frames'][-1]['status'][0]}")


def test_the_keys_take_a_snapshot_switch_the_tasks_and_quit(checkpoints, video, display, tmp_path):
    shown = demo_live(display, tmp_path, ["--source", str(video), "--weights", str(checkpoints["segment"]),
                                          "--weights", str(checkpoints["detect"]), "--runtime", "torch",
                                          "--project", str(tmp_path)], keys={2: "s", 3: "t", 5: "q"})
    assert shown["code"] == 0 and "5 frames" in shown["printed"]  # q after the fifth of eight
    assert "snapshot: " in shown["printed"] and len(list((tmp_path / "demo" / "live").glob("snapshot-*.png"))) == 1
    tasks = [frame["status"][1] for frame in shown["frames"]]
    # t after the third frame: the fourth shows the detector alone, or the fifth when X delivers the key late.
    assert tasks[:3] == ["tasks: detect+segment"] * 3 and tasks[-1] == "tasks: detect", tasks


def test_without_a_display_the_demo_says_why_and_writes_the_video(checkpoints, video, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    code = main(["demo", "live", "--source", str(video), "--weights", str(checkpoints["detect"]), "--runtime", "torch",
                 "--project", str(tmp_path)])
    printed = capsys.readouterr().out
    saved = tmp_path / "demo" / "live" / "clip.mp4"
    assert code == 0 and f"no window (DISPLAY is not set): writing the annotated video to {saved}" in printed
    assert saved.is_file() and f"-> {saved}" in printed
