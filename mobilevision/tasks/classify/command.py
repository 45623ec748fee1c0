"""`mobilevision classify train|val|predict`: the classification command group."""

from __future__ import annotations

import argparse
import json

from mobilevision.tasks.classify.config import RECIPES, ClassifyTrainConfig
from mobilevision.engine.commands import add_train_parser, on_every_rank, print_results


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    classify = subparsers.add_parser("classify", help="image classification: train, val, predict",
                                     description="Image classification on class folders (root/train/<class>/, "
                                     "root/val/<class>/) or the built-in dataset.")
    modes = classify.add_subparsers(dest="mode", required=True, metavar="MODE")

    add_train_parser(modes, config_class=ClassifyTrainConfig, recipes=RECIPES,
                     help="train a classifier (torchrun-ready)", description=__doc__, run=run_train)

    val = modes.add_parser("val", help="top-1 / top-5 of weights on a dataset split")
    _add_weights_arguments(val)
    val.add_argument("--data", required=True, help="dataset folder or YAML with class folders")
    val.add_argument("--split", default="val", choices=("train", "val"), help="split to evaluate (default: val)")
    val.add_argument("--batch", type=int, default=64, help="images per batch (default: 64)")
    val.add_argument("--workers", type=int, default=2, help="data-loading worker processes (default: 2)")
    val.add_argument("--json", action="store_true", help="print only the metrics as JSON on stdout")
    val.set_defaults(run=run_val)

    predict = modes.add_parser("predict", help="top-k classes of an image, a folder of images or a video")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    _add_weights_arguments(predict)
    predict.add_argument("--topk", type=int, default=5, help="classes to show per image (default: 5)")
    predict.add_argument("--json", action="store_true", help="print a JSON list on stdout instead of text")
    predict.set_defaults(run=run_predict)


def _add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, help="a checkpoint (runs/classify/<name>/weights/best.pt), a "
                        "URL or a named weight such as torchvision:IMAGENET1K_V2")
    parser.add_argument("--model", default="mobilenet_v2", help="network of published weights (checkpoints "
                        "name their own; default: mobilenet_v2)")
    parser.add_argument("--width", type=float, default=1.0, help="width of published weights (default: 1.0)")
    parser.add_argument("--imgsz", type=int, default=None, help="input size (default: the weights' own)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="auto picks cuda, then mps, then cpu (default: auto)")


def run_train(args: argparse.Namespace) -> int:
    from mobilevision.tasks.classify.train import train_classifier
    from mobilevision.engine.run_setup import run_train_command

    return run_train_command(args, task="classify", config_class=ClassifyTrainConfig, recipes=RECIPES,
                             train=train_classifier)


def run_val(args: argparse.Namespace) -> int:
    from mobilevision.tasks.classify.val import validate_classifier

    metrics = on_every_rank(args.device, lambda: validate_classifier(
        weights=args.weights, data=args.data, model=args.model, width=args.width, imgsz=args.imgsz, batch=args.batch,
        device=args.device, workers=args.workers, split=args.split, progress=not args.json))
    if metrics is None:
        return 0
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"top1 {metrics['top1']:.4f}  top5 {metrics['top5']:.4f}  ({metrics['images']} images)")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from mobilevision.tasks.classify.predict import predict_classes

    results = predict_classes(args.source, weights=args.weights, model=args.model, width=args.width,
                              imgsz=args.imgsz, topk=args.topk, device=args.device)
    return print_results(results, as_json=args.json, line=lambda result: f"{result['source']}: "
                         + ", ".join(f"{top['name']} {top['score']:.3f}" for top in result["top"]))
