"""The quickstart's steps in order, each announced with its number, timed, and saying what it reused."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mobilevision.datasets.resolve import MARKER
from mobilevision.demos.quickstart.benchmark import (
    benchmarked_export,
    comparison_markdown,
    comparison_rows,
    run_benchmark,
    untrained_checkpoint,
)
from mobilevision.demos.quickstart.dataset import prepare_dataset
from mobilevision.demos.quickstart.evaluation import evaluate_checkpoint, evaluation_markdown
from mobilevision.demos.quickstart.export import export_onnx
from mobilevision.demos.quickstart.gallery import render_gallery
from mobilevision.demos.quickstart.settings import BACKBONES, RECIPE, QuickstartSettings
from mobilevision.demos.quickstart.summary import write_summary
from mobilevision.demos.quickstart.training import train_or_reuse, training_config
from mobilevision.demos.quickstart.video import render_demo_video, write_input_video
from mobilevision.engine.machine import cpu_name
from mobilevision.tasks.multitask.config import RECIPES


class Steps:
    """Prints "[i/n] title" before each step and keeps its duration in `seconds`."""

    def __init__(self, *, total: int) -> None:
        self.total, self.seconds = total, {}

    @contextmanager
    def step(self, name: str, title: str) -> Iterator[None]:
        print(f"\n[{len(self.seconds) + 1}/{self.total}] {title}", flush=True)
        started = time.perf_counter()
        self.seconds[name] = 0.0  # counted from here, so a step's number is right while it runs
        yield
        self.seconds[name] = round(time.perf_counter() - started, 1)


def run_quickstart(settings: QuickstartSettings) -> dict:
    """Every step into settings.folder; returns summary.json's content. With settings.serve, the
    web demo then serves the trained model on 127.0.0.1 until Ctrl-C."""
    folder = settings.folder
    folder.mkdir(parents=True, exist_ok=True)
    steps = Steps(total=7 if settings.serve else 6)
    reused: list[str] = []
    recipe = RECIPES[RECIPE].config
    imgsz = settings.imgsz or recipe.imgsz
    print(f"mobilevision quickstart into {folder}/ (multitask recipe {RECIPE}; a second run reuses what this one "
          "makes, --fresh makes everything again)")

    with steps.step("dataset", "the built-in dataset (mobilevision data synth)"):
        data, was_reused = prepare_dataset(folder / "data", images=settings.images, val_images=settings.val_images,
                                           size=imgsz, fresh=settings.fresh)
        reused += ["dataset"] if was_reused else []

    backbones = ("mobilenet_v2", "mobilenet_v1") if settings.train_v1 else ("mobilenet_v2",)
    trained = {}
    with steps.step("train", "training the multi-task model: classification + SSDLite + DeepLabv3 on one "
                    f"{' and one '.join(BACKBONES[name] for name in backbones)} backbone pass"):
        for backbone in backbones:
            config = training_config(settings, backbone=backbone, data=data)
            checkpoint, was_reused, epochs = train_or_reuse(config, data_marker=data / MARKER, fresh=settings.fresh)
            trained[backbone] = (dataclasses.replace(config, epochs=epochs), checkpoint)
            reused += [f"{backbone} checkpoint"] if was_reused else []
    config, checkpoint = trained["mobilenet_v2"]

    def label(backbone: str) -> str:
        return f"{BACKBONES[backbone]} {config.width:g}, {config.imgsz} px"

    evaluation, metrics, evaluated = [], {}, {}
    with steps.step("evaluate", "evaluating on the val split (mobilevision multitask val)"):
        for backbone, (run_config, run_checkpoint) in trained.items():
            metrics[backbone], evaluated[backbone] = evaluate_checkpoint(
                run_checkpoint, data=data, folder=folder, name=f"val_{backbone}", device=settings.device,
                batch=run_config.batch, workers=run_config.workers)
            print(f"plots and predictions.json in {evaluated[backbone]}")
            evaluation.append({"model": label(backbone), **metrics[backbone]})
        print(evaluation_markdown(evaluation))

    with steps.step("benchmark", f"benchmarking against {BACKBONES['mobilenet_v1']} at the same width (mobilevision "
                    "bench)"):
        if "mobilenet_v1" in trained:
            v1_config, v1_checkpoint = trained["mobilenet_v1"]
            v1_weights = f"trained: recipe {RECIPE}, {v1_config.epochs} epochs"
        else:
            v1_checkpoint = untrained_checkpoint(
                checkpoint, backbone="mobilenet_v1", path=folder / "bench" / "weights" / "mobilenet_v1-untrained.pt")
            v1_weights = "untrained (random weights: latency only; --train-v1 trains it)"
        bench_rows, note, was_reused = run_benchmark([checkpoint, v1_checkpoint], folder=folder / "bench", data=data,
                                                     runtimes=settings.runtimes, iters=settings.bench_iters,
                                                     fresh=settings.fresh)
        reused += ["benchmark"] if was_reused else []
        models = [{"model_name": "multitask_mobilenet_v2", "model": label("mobilenet_v2"),
                   "weights": f"trained: recipe {RECIPE}, {config.epochs} epochs", "metrics": metrics["mobilenet_v2"]},
                  {"model_name": "multitask_mobilenet_v1", "model": label("mobilenet_v1"), "weights": v1_weights,
                   "metrics": metrics.get("mobilenet_v1")}]
        comparison = comparison_rows(bench_rows, models)
        print(comparison_markdown(comparison))
        print(note)

    with steps.step("export", "exporting to ONNX (mobilevision export)"):
        benchmarked, benchmarked_diff = benchmarked_export(folder / "bench", bench_rows,
                                                           model_name="multitask_mobilenet_v2")
        onnx, max_abs_diff, was_reused = export_onnx(checkpoint, imgsz=config.imgsz, benchmarked=benchmarked,
                                                     benchmarked_diff=benchmarked_diff)
        reused += ["ONNX export"] if was_reused else []

    with steps.step("demo", "the live demo on a video of val images, and a gallery of predictions"):
        from mobilevision.demos.loading import load_predictors
        from mobilevision.demos.web import MIN_CONF

        # ONNX Runtime on the export above (auto on a CPU); down to the web page's lowest threshold.
        predictors = load_predictors([str(checkpoint)], device=settings.device, min_conf=MIN_CONF)
        images = sorted((data / "coco" / "val").glob("*.jpg"))
        source = write_input_video(images, folder / "demo_input.mp4")
        video = render_demo_video(predictors, source=source, out=folder / "demo.mp4")
        gallery = render_gallery(predictors, images, out=folder / "gallery.png")

    files = {"dataset": data, "checkpoint": checkpoint, "training run": checkpoint.parent.parent,
             "evaluation": evaluated["mobilenet_v2"], "onnx": onnx, "benchmark": folder / "bench",
             "video": Path(video["video"]), "gallery": gallery, "summary": folder / "summary.md"}
    summary = {
        "settings": {**dataclasses.asdict(settings), "recipe": RECIPE, "width": config.width, "imgsz": config.imgsz,
                     "epochs": config.epochs},
        "evaluation": evaluation,
        "benchmark": {"rows": comparison, "note": note, "bench_rows": bench_rows},
        "export": {"onnx": str(onnx), "max_abs_diff": max_abs_diff},
        "video": video,
        "files": {name: str(path) for name, path in files.items()},
        "reused": reused,
        "seconds": dict(steps.seconds),
        # The times and speeds above hold for this CPU only.
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
    }
    write_summary(folder, summary)
    print(f"\ndone in {sum(steps.seconds.values()) / 60:.1f} min on {summary['machine']['cpu']}"
          + (f" (reused: {', '.join(reused)})" if reused else "") + "; everything is in "
          f"{folder}/, the tables in {folder / 'summary.md'}:")
    for name, path in files.items():
        print(f"  {name}: {path}")

    if settings.serve:
        from mobilevision.demos.render import DEFAULT_CONF
        from mobilevision.demos.web import build_app, serve

        with steps.step("web", f"the web demo with the trained model (later: mobilevision demo web --weights "
                        f"{checkpoint})"):
            serve(build_app(predictors, conf=DEFAULT_CONF), host="127.0.0.1", port=settings.port, block=True)
    return summary
