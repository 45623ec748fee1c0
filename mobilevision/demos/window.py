"""The live demo's window: Tk (Python's own tkinter) showing each frame through Pillow's ImageTk.

Why not cv2.imshow: albumentations requires the headless OpenCV wheel, and a GUI build of OpenCV
installed beside it overwrites the same cv2 files (pip cannot tell which one won, and uninstalling
the headless one breaks `pip check`). Tk comes with Python and needs no second OpenCV build, so
wherever a display exists the window opens with nothing more installed.
"""

from __future__ import annotations

import os
import sys
from collections import deque

import cv2
import numpy as np

# What the keys do; q and Esc quit, as in OpenCV's samples and ultralytics' show=True.
KEYS = {"q": "quit", "Escape": "quit", "space": "pause", "s": "snapshot", "t": "tasks"}
SCREEN_FILL = 0.9  # a frame larger than this share of the screen is shrunk to fit it


def window_unavailable() -> str | None:
    """Why no window can open here, in a few words; None when one can."""
    # Tk draws through X11 on Linux (XWayland under Wayland), so DISPLAY is what it needs.
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        return "DISPLAY is not set"
    try:
        import tkinter

        from PIL import ImageTk  # noqa: F401  (Pillow's Tk bridge, imported here to fail early)
    except ImportError:
        return "this Python has no tkinter, which Debian's and Ubuntu's python3-tk package adds"
    try:
        tkinter.Tk().destroy()
    except tkinter.TclError as error:
        return f"cannot open the display: {error}"
    return None


class Window:
    """One top-level window showing (H, W, 3) uint8 RGB frames and collecting the keys pressed."""

    def __init__(self, title: str) -> None:
        import tkinter

        self.root = tkinter.Tk()
        self.root.title(title)
        self.label = tkinter.Label(self.root, borderwidth=0)
        self.label.pack()
        self.pressed: deque[str] = deque()
        self.closed = False
        self.root.bind("<Key>", lambda event: self.pressed.append(KEYS.get(event.keysym, "")))
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.screen = (self.root.winfo_screenwidth(), self.root.winfo_screenheight())
        self.photo = None  # Tk shows the image only while Python holds a reference to it

    def show(self, canvas: np.ndarray) -> None:
        """Put `canvas` (H, W, 3) uint8 RGB on screen now."""
        from PIL import Image, ImageTk

        shrink = min(1.0, SCREEN_FILL * self.screen[0] / canvas.shape[1], SCREEN_FILL * self.screen[1] / canvas.shape[0])
        if shrink < 1:
            size = (round(canvas.shape[1] * shrink), round(canvas.shape[0] * shrink))
            canvas = cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
        self.photo = ImageTk.PhotoImage(Image.fromarray(canvas))
        self.label.configure(image=self.photo)
        self.root.update()

    def key(self) -> str | None:
        """The next key pressed since the last call, as KEYS names it ("quit" once the window is
        closed); None when there is none."""
        if not self.closed:
            self.root.update()
        if self.closed:
            return "quit"
        while self.pressed:
            if key := self.pressed.popleft():
                return key
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.root.destroy()
