"""`mobilevision detect train|val|predict`: the SSDLite detection command group."""

from __future__ import annotations

import argparse

from mobilevision.tasks.detect.config import RECIPES, DetectTrainConfig
from mobilevision.engine.commands import (add_output_options, add_train_parser, add_val_options, print_results,
                                                run_val_command)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    detect = subparsers.add_parser("detect", help="SSDLite object detection: train, val, predict",
                                   description="SSDLite on MobileNetV2 / MobileNetV1 for COCO-form, VOC-form or the "
                                   "built-in dataset (its COCO view).")
    modes = detect.add_subparsers(dest="mode", required=True, metavar="MODE")

    add_train_parser(modes, config_class=DetectTrainConfig, recipes=RECIPES,
                     help="train a detector (torchrun-ready)", description=__doc__, run=run_train)

    val = modes.add_parser("val", help="COCO mAP (and VOC07 / VOC12 mAP on VOC data) of a detector",
                           description="Evaluate a `detect train` checkpoint with pycocotools' COCOeval in "
                           "original-image coordinates; VOC-form data also gets the VOC07 11-point and VOC12 "
                           "area mAP (difficult objects excluded). Writes predictions.json (COCO results "
                           "format) and PR_curve.png into runs/detect/val*.")
    val.add_argument("--weights", required=True, help="a checkpoint (runs/detect/<name>/weights/best.pt)")
    add_val_options(val, data="COCO, VOC or built-in", batch=16)
    add_output_options(val, task="detect", folder="val")
    val.set_defaults(run=run_val)

    predict = modes.add_parser("predict", help="draw detections on an image, a folder of images or a video",
                               description="Detect objects and save annotated copies (a video becomes an "
                               "annotated .mp4) and detections.json into runs/detect/predict*.")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    predict.add_argument("--weights", required=True, help="a checkpoint (runs/detect/<name>/weights/best.pt)")
    predict.add_argument("--conf", type=float, default=0.25, help="lowest score drawn and listed (default: 0.25)")
    add_output_options(predict, task="detect", folder="predict")
    predict.add_argument("--json", action="store_true", help="print a JSON list of detections on stdout")
    predict.set_defaults(run=run_predict)


def run_train(args: argparse.Namespace) -> int:
    from mobilevision.tasks.detect.train import train_detector
    from mobilevision.engine.run_setup import run_train_command

    return run_train_command(args, task="detect", config_class=DetectTrainConfig, recipes=RECIPES, train=train_detector)


def run_val(args: argparse.Namespace) -> int:
    from mobilevision.tasks.detect.val import validate_detector

    return run_val_command(args, validate_detector, summary=val_summary)


def val_summary(metrics: dict, run_dir) -> str:
    """The COCO numbers on one line, then a row per class (as ultralytics' val prints), then where
    the files went."""
    scalars = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items()
                        if name not in ("images", "per_class_AP"))
    rows = [f"{'class':>20s} {'instances':>9s} {'AP50':>6s} {'AP':>6s}"]
    for name, row in metrics["per_class_AP"].items():
        shown = ("-", "-") if row["AP"] is None else (f"{row['AP50']:.3f}", f"{row['AP']:.3f}")
        rows.append(f"{name:>20s} {row['instances']:>9d} {shown[0]:>6s} {shown[1]:>6s}")
    return "\n".join([scalars, *rows, f"{metrics['images']} images; predictions.json and PR_curve.png in {run_dir}"])


def run_predict(args: argparse.Namespace) -> int:
    from mobilevision.tasks.detect.predict import predict_detections

    results = predict_detections(args.source, weights=args.weights, imgsz=args.imgsz, conf=args.conf,
                                 device=args.device, project=args.project, name=args.name)
    return print_results(results, as_json=args.json, line=lambda result: f"{result['source']}: "
                         + (", ".join(f"{d['name']} {d['score']:.2f}" for d in result["detections"][:10])
                            or "no detections") + f" -> {result['output']}")
