"""`mobilevision demo live` in a window, recording what it showed: the child process of
tests/demos/test_window.py (Tk keeps its X connection until the process ends, and a test process
that outlived its Xvfb would die on the next Tk call).

    python -m tests.demos.window_run OUT KEYS demo live --source ... (DISPLAY set)

KEYS is JSON, {"frame number": key pressed after that frame is shown}. Writes OUT/shown.json:
{"code", "printed", "frames": [{"status", "regions", "where"}]}, where "where" is the window's
top-left corner on the screen, and OUT/canvas.png and OUT/screen.png: the last frame as laid out,
and a screenshot of the whole display taken once the window showed it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageGrab

from mobilevision.cli import main
from mobilevision.demos import live, window


def run(out: Path, keys: dict[str, str], args: list[str]) -> None:
    frames, last = [], {}
    live_lay_out, window_show = live.lay_out, window.Window.show

    def lay_out(*lay_args, **lay_kwargs):
        last["laid_out"] = live_lay_out(*lay_args, **lay_kwargs)
        frames.append({"status": list(lay_kwargs["status"]), "regions": last["laid_out"].regions})
        return last["laid_out"]

    def show(self, canvas):
        window_show(self, canvas)
        self.root.update_idletasks()
        frames[-1]["where"] = [self.root.winfo_rootx(), self.root.winfo_rooty()]
        last["screen"] = np.asarray(ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).convert("RGB"))
        if str(len(frames)) in keys:
            self.root.focus_force()
            self.root.event_generate("<KeyPress>", keysym=keys[str(len(frames))])

    live.lay_out, window.Window.show = lay_out, show
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "shown.json").write_text(json.dumps({"code": code, "printed": printed.getvalue(), "frames": frames}))
    if last:
        Image.fromarray(last["laid_out"].canvas).save(out / "canvas.png")
        Image.fromarray(last["screen"]).save(out / "screen.png")


if __name__ == "__main__":
    run(Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:])
