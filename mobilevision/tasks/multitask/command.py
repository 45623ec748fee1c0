"""`mobilevision multitask train|val|predict|assemble`: classification, detection and segmentation
from one backbone pass."""

from __future__ import annotations

import argparse
import json

from mobilevision.tasks.engine.commands import add_train_parser, on_every_rank, print_results
from mobilevision.tasks.multitask.config import RECIPES, MultitaskTrainConfig

DEVICES = ("auto", "cpu", "cuda", "mps")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    multitask = subparsers.add_parser("multitask", help="classify + detect + segment from one backbone pass: train, "
                                      "val, predict, assemble",
                                      description="One MobileNet backbone pass feeding the classifier, SSDLite and "
                                      "DeepLabv3 heads, on COCO-form data (COCO: boxes and masks; the built-in "
                                      "dataset: image labels too).")
    modes = multitask.add_subparsers(dest="mode", required=True, metavar="MODE")

    add_train_parser(modes, config_class=MultitaskTrainConfig, recipes=RECIPES,
                     help="train the chosen heads on one backbone (torchrun-ready)", description=__doc__,
                     run=run_train)

    val = modes.add_parser("val", help="every task's metrics of a multi-task model",
                           description="Evaluate a multi-task checkpoint: top-1 / top-5, COCO's 12 numbers "
                           "(pycocotools) and mIoU / pixel accuracy, from one backbone pass per image. Writes "
                           "predictions.json and the tasks' plots into runs/multitask/val*.")
    val.add_argument("--weights", required=True, help="a checkpoint (runs/multitask/<name>/weights/best.pt or one "
                     "written by `multitask assemble`)")
    val.add_argument("--data", required=True, help="dataset folder or YAML (COCO or built-in)")
    val.add_argument("--split", default="val", choices=("train", "val"), help="split to evaluate (default: val)")
    val.add_argument("--imgsz", type=int, default=None, help="input size (default: the checkpoint's)")
    val.add_argument("--batch", type=int, default=16, help="images per batch (default: 16)")
    val.add_argument("--workers", type=int, default=2, help="data-loading worker processes (default: 2)")
    val.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    val.add_argument("--project", default="runs", help="folder that holds runs/multitask/<name> (default: runs)")
    val.add_argument("--name", default="val", help="run folder name (default: val, val2, ...)")
    val.add_argument("--json", action="store_true", help="print only the metrics as JSON on stdout")
    val.set_defaults(run=run_val)

    predict = modes.add_parser("predict", help="draw every task's predictions on an image, a folder or a video",
                               description="Run the multi-task model once per image or frame and save it with the "
                               "class map, the boxes and the image class drawn on it (a video becomes an annotated "
                               ".mp4), and predictions.json, into runs/multitask/predict*.")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    predict.add_argument("--weights", required=True, help="a multi-task checkpoint")
    predict.add_argument("--imgsz", type=int, default=None, help="input size (default: the checkpoint's)")
    predict.add_argument("--conf", type=float, default=0.25, help="lowest box score drawn and listed (default: 0.25)")
    predict.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    predict.add_argument("--project", default="runs", help="folder that holds runs/multitask/<name> (default: runs)")
    predict.add_argument("--name", default=None, help="run folder name (default: predict, predict2, ...)")
    predict.add_argument("--json", action="store_true", help="print a JSON list of the predictions on stdout")
    predict.set_defaults(run=run_predict)

    assemble = modes.add_parser("assemble", help="combine classify / detect / segment checkpoints into one model",
                                description="Combine single-task checkpoints whose heads were trained on one frozen "
                                "backbone (--freeze-backbone from the same --weights-backbone) into one multi-task "
                                "checkpoint, without training. Refuses checkpoints whose backbones differ.")
    assemble.add_argument("--weights", nargs="+", required=True, help="one checkpoint per task (classify, detect, "
                          "segment; any two or all three)")
    assemble.add_argument("--out", required=True, help="the multi-task checkpoint to write (.pt)")
    assemble.add_argument("--imgsz", type=int, default=None, help="input size it records (default: the largest of "
                          "the checkpoints')")
    assemble.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    assemble.set_defaults(run=run_assemble)


def run_train(args: argparse.Namespace) -> int:
    from mobilevision.tasks.engine.run_setup import run_train_command
    from mobilevision.tasks.multitask.train import train_multitask

    return run_train_command(args, task="multitask", config_class=MultitaskTrainConfig, recipes=RECIPES,
                             train=train_multitask)


def run_val(args: argparse.Namespace) -> int:
    from mobilevision.tasks.multitask.val import validate_multitask

    result = on_every_rank(args.device, lambda: validate_multitask(
        weights=args.weights, data=args.data, imgsz=args.imgsz, batch=args.batch, device=args.device,
        workers=args.workers, split=args.split, project=args.project, name=args.name, progress=not args.json))
    if result is None:
        return 0
    metrics, run_dir = result
    if args.json:
        print(json.dumps(metrics))
    else:
        print("  ".join(f"{name} {'n/a' if value is None else f'{value:.4f}'}" for name, value in metrics.items()
                        if name != "images"))
        print(f"{metrics['images']} images; plots in {run_dir}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from mobilevision.tasks.multitask.predict import predict_multitask

    results = predict_multitask(args.source, weights=args.weights, imgsz=args.imgsz, conf=args.conf,
                                device=args.device, project=args.project, name=args.name)
    return print_results(results, as_json=args.json, line=_summary)


def _summary(result: dict) -> str:
    shown = []
    if "top" in result:
        shown.append(f"{result['top'][0]['name']} {result['top'][0]['score']:.2f}")
    if "detections" in result:
        shown.append(f"{len(result['detections'])} boxes")
    if "classes" in result:
        shown.append(", ".join(f"{name} {fraction:.1%}" for name, fraction in result["classes"].items())
                     or "background only")
    return f"{result['source']}: {'; '.join(shown)} -> {result['output']}"


def run_assemble(args: argparse.Namespace) -> int:
    from mobilevision.tasks.multitask.assemble import assemble

    result = assemble(args.weights, out=args.out, imgsz=args.imgsz)
    print(json.dumps(result) if args.json else f"{result['model_name']} ({', '.join(result['tasks'])}) -> "
          f"{result['out']}")
    return 0
