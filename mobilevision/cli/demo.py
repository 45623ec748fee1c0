"""`mobilevision demo live|web`: the models on a camera, a stream or a video (OpenCV), or in a
web page (Gradio)."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from mobilevision.cli.flag_types import port, positive_int, probability
from mobilevision.demos.render import DEFAULT_CONF
from mobilevision.engine.device import DEVICES


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="live demos: OpenCV window / annotated video, Gradio web app",
                                 description=__doc__)
    modes = demo.add_subparsers(dest="mode", required=True, metavar="MODE")

    live = modes.add_parser("live", help="a camera, stream, video or folder, in a window or into an annotated video",
                            description="Keys in the window: q quit, space pause, s snapshot, t cycle the tasks shown.")
    live.add_argument("--source", required=True, help="camera index (0), video file, image folder, or stream URL "
                      "(rtsp://, http://)")
    _add_model_arguments(live)
    live.add_argument("--save", default=None, help="also write the annotated video here (.mp4); without a window "
                      "it goes to runs/demo/live*/ by default")
    live.add_argument("--no-window", action="store_true", help="never open a window, even where one could open")
    live.add_argument("--project", default="runs", help="folder for runs/demo/live* (default: runs)")
    live.set_defaults(run=run_live)

    web = modes.add_parser("web", help="a Gradio web app: image upload and webcam streaming")
    _add_model_arguments(web)
    web.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 opens it to the network, "
                     "where --auth-file should guard it (default: 127.0.0.1, this machine only)")
    web.add_argument("--port", type=port, default=7860, help="port to serve on (default: 7860)")
    web.add_argument("--concurrency", type=positive_int, default=2, help="images processed at once; more wait in "
                     "the queue (default: 2, one per core of a small CPU)")
    web.add_argument("--queue-size", type=positive_int, default=64, help="requests that may wait; more are turned "
                     "away (default: 64)")
    web.add_argument("--auth", default=None, metavar="USER:PASSWORD", help="require this login on the page and "
                     "its API (a password here shows in the process list: prefer --auth-file)")
    web.add_argument("--auth-file", default=None, metavar="PATH", help="require one of the logins in this file, "
                     "one USER:PASSWORD a line (# starts a comment)")
    web.set_defaults(run=run_web)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, action="append", help="a classify, detect, segment or multitask "
                        "checkpoint (runs/<task>/<name>/weights/best.pt), its .onnx export, or a published name such "
                        "as torchvision:ssdlite320_mobilenet_v3_large (`mobilevision weights` lists them); repeat it "
                        "for several models")
    parser.add_argument("--runtime", default="auto", choices=("auto", "torch", "onnxruntime"),
                        help="auto: on a CPU the faster of folded torch and ONNX Runtime (the checkpoint is "
                        "exported once, beside it), timed on first use and cached beside the checkpoint; torch "
                        "with BatchNorm folded on a GPU or where the export fails (default: auto)")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="device for the torch runtime (default: auto)")
    parser.add_argument("--imgsz", type=positive_int, default=None, help="input size of every model (default: each "
                        "checkpoint's own)")
    parser.add_argument("--conf", type=probability, default=DEFAULT_CONF,
                        help=f"lowest detection score shown (default: {DEFAULT_CONF})")


def run_live(args: argparse.Namespace) -> int:
    from mobilevision.demos.live import run_live as run
    from mobilevision.demos.live import summary_line
    from mobilevision.demos.loading import load_predictors
    from mobilevision.demos.sources import FrameReader
    from mobilevision.demos.window import window_unavailable
    from mobilevision.engine.run_dir import new_run_dir

    reader = FrameReader(args.source)  # first: a missing camera fails before the models load
    try:
        predictors = load_predictors(args.weights, runtime=args.runtime, imgsz=args.imgsz, device=args.device,
                                     min_conf=args.conf)
    except BaseException:
        reader.close()
        raise
    no_window = "--no-window" if args.no_window else window_unavailable()
    save, folder = Path(args.save) if args.save else None, Path(args.project) / "demo" / "live"
    if save is None and no_window:
        folder = new_run_dir(args.project, "demo", "live", exist_ok=False)
        save = folder / f"{Path(args.source).stem if not reader.live else 'live'}.mp4"
        print(f"no window ({no_window}): writing the annotated video to {save}")
    elif save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing the annotated video to {save}")
    summary = run(reader, predictors, conf=args.conf, save=save, window=not no_window, snapshots=folder)
    print(summary_line(summary))
    return 0


def run_web(args: argparse.Namespace) -> int:
    from mobilevision.demos.access import exposure_warning, read_logins
    from mobilevision.demos.loading import load_predictor, load_predictors
    from mobilevision.demos.web import MIN_CONF, build_app, serve

    # Before the models load: a bad login fails in a second, not after the warm-up.
    logins = read_logins(auth=args.auth, auth_file=args.auth_file)
    warning = exposure_warning(host=args.host, port=args.port, protected=bool(logins))
    if warning:
        print(f"mobilevision: warning: {warning}", file=sys.stderr)
    # The models loaded now and the published ones loaded when first selected run alike.
    options = {"runtime": args.runtime, "imgsz": args.imgsz, "device": args.device, "min_conf": min(args.conf, MIN_CONF)}
    predictors = load_predictors(args.weights, **options)
    serve(build_app(predictors, conf=args.conf, concurrency=args.concurrency, queue_size=args.queue_size,
                    load=partial(load_predictor, **options)),
          host=args.host, port=args.port, auth=logins)
    return 0
