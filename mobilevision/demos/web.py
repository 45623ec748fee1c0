"""`mobilevision demo web`: the models in a Gradio page. In: an uploaded image or the webcam
streamed, with task, model and threshold controls. Out: the overlay, the results as JSON, a class
legend and a status line (runtime and time, or what is wrong with an upload or a frame).

Served on 127.0.0.1 unless --host says otherwise (behind a login with `auth`) and never through
Gradio's share tunnel. At most `concurrency` images are processed at once, uploads and webcam
frames alike, since they share the CPU cores; other uploads wait in a queue of `queue_size`,
beyond which Gradio turns requests away instead of piling them up.

Besides the --weights models, the model list offers the published models whose file is already in
the torch hub cache (`mobilevision weights` says which), loaded when first selected; one that would
need a download is not offered, since the page must not download behind its user's back.
"""

from __future__ import annotations

import atexit
import html
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from mobilevision.demos.frames import read_frame
from mobilevision.demos.loading import ModelList, cached_published, load_predictor
from mobilevision.demos.render import legend_entries, predict_all, render, summarize
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.registry import single_tasks

MIN_CONF = 0.05  # the threshold slider's lower end
STREAM_EVERY = 0.1  # seconds between webcam frames sent by the browser: 10 FPS at most
STREAM_LIMIT = 600  # seconds one webcam session may stream before the browser has to restart it
# Webcam sessions streaming at once; more wait in the queue. Gradio holds a session's place in its
# concurrency group for the whole session, so sessions have a group of their own: sharing the
# uploads' group, two open webcams would keep every upload waiting for up to STREAM_LIMIT.
WEBCAM_SESSIONS = 8
MAX_UPLOAD = "100mb"  # refused by the server before it is stored; the pixel limit is frames.MAX_PIXELS
# System fonts: the default theme fetches web fonts, which an offline laptop at a venue cannot.
FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
# Gradio's cache of uploads and results: swept hourly of files older than an hour.
CACHE_SWEEP = (3600, 3600)


class OverlayFiles:
    """Overlays written as JPEG files of their own, handed to Gradio as paths.

    Gradio stores a returned array under the hash of its encoded bytes and rewrites that file on
    every request, so two requests with the same result (two people sending the same photo, the
    load test) race: one is served a file the other is rewriting, and its download breaks
    ("Too little data for declared Content-Length"). A path is copied into the cache under a
    temporary name and renamed, which is safe. Gradio has its copy once the request is answered,
    so files older than `keep_seconds` are deleted.
    """

    def __init__(self, *, keep_seconds: float = 300) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mobilevision-web-"))
        self.keep_seconds = keep_seconds
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def write(self, image: np.ndarray) -> str:
        """image (H, W, 3) uint8 RGB -> the path of its JPEG."""
        now = time.time()
        for old in self.folder.glob("*.jpg"):
            try:
                if now - old.stat().st_mtime > self.keep_seconds:
                    old.unlink()
            except FileNotFoundError:  # another request deleted it first
                pass
        path = self.folder / f"{uuid.uuid4().hex}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        return str(path)


def analyse(image: np.ndarray, models: ModelList, *, chosen: Sequence[str], tasks: Sequence[str], conf: float,
            files: OverlayFiles) -> tuple[str | None, dict | None, str, str]:
    """(overlay JPEG path, summarize's JSON, legend HTML, status Markdown) of the chosen models'
    selected tasks on an RGB image (H, W, 3) uint8; a chosen model that cannot load is named in
    the status instead."""
    try:
        predictors = models.select(chosen)
    except MobileVisionError as error:
        return None, None, "", f"**Cannot load this model:** {error}"
    started = time.perf_counter()
    outputs = predict_all(predictors, image, tasks=tasks, conf=conf)
    milliseconds = (time.perf_counter() - started) * 1000
    summary = summarize(outputs)
    runtimes = ", ".join(dict.fromkeys(predictor.runtime for predictor, _ in outputs))
    status = (f"{len(outputs)} model(s) in {milliseconds:.0f} ms on {runtimes}; "
              f"{len(summary.get('detect', []))} detection(s)" if outputs else "Select a model and a task.")
    return files.write(render(image, outputs)), summary, legend_html(summary), status


def read_controls(chosen, tasks, threshold) -> tuple[list[str], list[str], float]:
    """The models, tasks and threshold of a request, as sent (unprocessed): a value the page
    would never send is named here instead of failing inside a model."""
    for label, names in (("models", chosen), ("tasks", tasks)):
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise MobileVisionError(f"{label} must be a list of names, got {names!r:.60}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise MobileVisionError(f"the detection threshold must be a number from 0 to 1, got {threshold!r:.60}")
    return chosen, tasks, float(threshold)


def legend_html(summary: dict) -> str:
    rows = [f'<div><span style="display:inline-block;width:1em;height:1em;margin-right:.4em;'
            f'vertical-align:middle;background:rgb{colour}"></span>{html.escape(name)}: {html.escape(found)}</div>'
            for name, colour, found in legend_entries(summary)]
    return "".join(rows) or "<div>No objects or regions found.</div>"


def build_app(predictors: Sequence[FramePredictor], *, conf: float = 0.3, concurrency: int = 2, queue_size: int = 64,
              published_names: Sequence[str] | None = None, load: Callable[[str], FramePredictor] | None = None):
    """The Gradio Blocks app (not started). Its API: /predict (image file, models, tasks,
    threshold) -> (overlay, JSON, legend, status), and /stream for webcam frames.

    The models: `predictors`, then the published models `published_names` (default: those in the
    hub cache, cached_published) not among them, loaded by `load` when first selected (default:
    load_predictor on its automatic runtime, detections down to MIN_CONF)."""
    import gradio as gr

    models = ModelList(predictors, published_names=cached_published() if published_names is None else published_names,
                       load=load or partial(load_predictor, min_conf=min(conf, MIN_CONF)))
    tasks = [task for task in single_tasks() if task in models.tasks]
    files = OverlayFiles()
    inference = threading.BoundedSemaphore(concurrency)  # uploads and webcam frames share the cores

    def answer(payload, chosen, chosen_tasks, threshold, *, source: str, waiting: str):
        # Unprocessed (preprocess=False), the image and the controls alike: read_frame checks the
        # image before it is decoded and says what is wrong with it in the status line, where
        # Gradio would decode a bomb or fail with a generic "Error".
        if not payload:
            return None, None, "", waiting
        with inference:  # decoding too: at most `concurrency` decoded images in memory
            try:
                image = read_frame(payload, name=f"the {source}")
                chosen, chosen_tasks, threshold = read_controls(chosen, chosen_tasks, threshold)
            except MobileVisionError as error:
                return None, None, "", f"**Cannot use this {source}:** {error}"
            return analyse(image, models, chosen=chosen, tasks=chosen_tasks, conf=threshold, files=files)

    on_upload = partial(answer, source="upload", waiting="Upload an image (JPEG, PNG, WebP or BMP).")
    on_frame = partial(answer, source="frame", waiting="Waiting for the webcam.")

    with gr.Blocks(title="mobilevision demo", analytics_enabled=False, delete_cache=CACHE_SWEEP) as app:
        gr.Markdown("## mobilevision demo\n" + "  \n".join(
            [f"**{html.escape(predictor.name)}** on {predictor.runtime}" for predictor in predictors]
            + [f"**{html.escape(name)}**: in the torch hub cache, loaded when selected" for name in models.on_selection]))
        with gr.Row():
            with gr.Column():
                with gr.Tab("Image"):
                    upload = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"],
                                      elem_id="upload")
                    run = gr.Button("Run", variant="primary")
                with gr.Tab("Webcam"):
                    webcam = gr.Image(label="Webcam", sources=["webcam"], streaming=True)
                model_choice = gr.CheckboxGroup(models.names, value=list(models.loaded), label="Models")
                task_choice = gr.CheckboxGroup(tasks, value=tasks, label="Tasks")
                threshold = gr.Slider(min(conf, MIN_CONF), 0.95, value=conf, step=0.05, label="Detection threshold")
            with gr.Column():
                overlay = gr.Image(label="Result", type="filepath", interactive=False, elem_id="overlay")
                status = gr.Markdown(elem_id="status")
                legend = gr.HTML(label="Classes", elem_id="legend")
                results = gr.JSON(label="Results", elem_id="results")
        controls, outputs = [model_choice, task_choice, threshold], [overlay, results, legend, status]
        uploads = {"outputs": outputs, "concurrency_id": "uploads", "concurrency_limit": concurrency,
                   "preprocess": False}
        run.click(on_upload, [upload, *controls], api_name="predict", **uploads)
        # A new upload or a changed control shows its result at once (a streaming webcam picks
        # the controls up with its next frame).
        for trigger in (upload.upload, threshold.release, model_choice.input, task_choice.input):
            trigger(on_upload, [upload, *controls], api_visibility="private", **uploads)
        webcam.stream(on_frame, [webcam, *controls], api_name="stream", stream_every=STREAM_EVERY,
                      time_limit=STREAM_LIMIT, outputs=outputs, concurrency_id="webcams",
                      concurrency_limit=WEBCAM_SESSIONS, preprocess=False)
    return app.queue(max_size=queue_size, default_concurrency_limit=concurrency)


def serve(app, *, host: str = "127.0.0.1", port: int = 7860, auth: Sequence[tuple[str, str]] = (),
          block: bool = True) -> str:
    """Start the app on host:port and return its URL; with `block`, serve until Ctrl-C. `auth`:
    the (user, password) logins Gradio's login page accepts; none, an open page."""
    import gradio as gr

    try:
        app.launch(server_name=host, server_port=port, share=False, ssr_mode=False, max_file_size=MAX_UPLOAD,
                   auth=list(auth) or None, quiet=True, prevent_thread_lock=True,
                   theme=gr.themes.Default(font=FONTS))
    except OSError as error:
        reason = str(error).split(". ")[0]  # Gradio goes on about its environment variables
        raise MobileVisionError(f"--port {port}: cannot serve on {host}:{port} ({reason}); pick a free one "
                                "with --port") from error
    if block:
        print(f"serving the demo on {app.local_url} (Ctrl-C stops)", flush=True)
        app.block_thread()
    return app.local_url
