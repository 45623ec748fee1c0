"""`mobilevision multitask train|val|predict|assemble`: classification, detection and segmentation
from one backbone pass."""

from __future__ import annotations

import argparse
import json

from mobilevision.engine.commands import (add_output_options, add_train_parser, add_val_options, print_results,
                                                run_val_command)
from mobilevision.tasks.multitask.config import RECIPES, MultitaskTrainConfig


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
    add_val_options(val, data="COCO or built-in", batch=16)
    add_output_options(val, task="multitask", folder="val")
    val.set_defaults(run=run_val)

    predict = modes.add_parser("predict", help="draw every task's predictions on an image, a folder or a video",
                               description="Run the multi-task model once per image or frame and save it with the "
                               "class map, the boxes and the image class drawn on it (a video becomes an annotated "
                               ".mp4), and predictions.json, into runs/multitask/predict*.")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    predict.add_argument("--weights", required=True, help="a multi-task checkpoint")
    predict.add_argument("--conf", type=float, default=0.25, help="lowest box score drawn and listed (default: 0.25)")
    add_output_options(predict, task="multitask", folder="predict")
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
    from mobilevision.engine.run_setup import run_train_command
    from mobilevision.tasks.multitask.train import train_multitask

    return run_train_command(args, task="multitask", config_class=MultitaskTrainConfig, recipes=RECIPES,
                             train=train_multitask)


def run_val(args: argparse.Namespace) -> int:
    from mobilevision.tasks.multitask.val import validate_multitask

    return run_val_command(args, validate_multitask, summary=lambda metrics, run_dir: "  ".join(
        f"{name} {'n/a' if value is None else f'{value:.4f}'}" for name, value in metrics.items() if name != "images")
        + f"\n{metrics['images']} images; plots (and predictions.json) in {run_dir}")


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
