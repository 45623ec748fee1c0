"""`mobilevision detect train|val|predict`: the SSDLite detection command group."""

from __future__ import annotations

import argparse
import json

from mobilevision.tasks.detect.config import RECIPES, DetectTrainConfig
from mobilevision.tasks.engine.commands import add_train_parser, on_every_rank, print_results

DEVICES = ("auto", "cpu", "cuda", "mps")


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
    val.add_argument("--data", required=True, help="dataset folder or YAML (COCO, VOC or built-in)")
    val.add_argument("--split", default="val", choices=("train", "val"), help="split to evaluate (default: val)")
    val.add_argument("--imgsz", type=int, default=None, help="input size (default: the checkpoint's)")
    val.add_argument("--batch", type=int, default=16, help="images per batch (default: 16)")
    val.add_argument("--workers", type=int, default=2, help="data-loading worker processes (default: 2)")
    val.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    val.add_argument("--project", default="runs", help="folder that holds runs/detect/<name> (default: runs)")
    val.add_argument("--name", default="val", help="run folder name (default: val, val2, ...)")
    val.add_argument("--json", action="store_true", help="print only the metrics as JSON on stdout")
    val.set_defaults(run=run_val)

    predict = modes.add_parser("predict", help="draw detections on an image, a folder of images or a video",
                               description="Detect objects and save annotated copies (a video becomes an "
                               "annotated .mp4) and detections.json into runs/detect/predict*.")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    predict.add_argument("--weights", required=True, help="a checkpoint (runs/detect/<name>/weights/best.pt)")
    predict.add_argument("--imgsz", type=int, default=None, help="input size (default: the checkpoint's)")
    predict.add_argument("--conf", type=float, default=0.25, help="lowest score drawn and listed (default: 0.25)")
    predict.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    predict.add_argument("--project", default="runs", help="folder that holds runs/detect/<name> (default: runs)")
    predict.add_argument("--name", default=None, help="run folder name (default: predict, predict2, ...)")
    predict.add_argument("--json", action="store_true", help="print a JSON list of detections on stdout")
    predict.set_defaults(run=run_predict)


def run_train(args: argparse.Namespace) -> int:
    from mobilevision.tasks.detect.train import train_detector
    from mobilevision.tasks.engine.run_setup import run_train_command

    return run_train_command(args, task="detect", config_class=DetectTrainConfig, recipes=RECIPES, train=train_detector)


def run_val(args: argparse.Namespace) -> int:
    from mobilevision.tasks.detect.val import validate_detector

    result = on_every_rank(args.device, lambda: validate_detector(
        weights=args.weights, data=args.data, imgsz=args.imgsz, batch=args.batch, device=args.device,
        workers=args.workers, split=args.split, project=args.project, name=args.name, progress=not args.json))
    if result is None:
        return 0
    metrics, run_dir = result
    if args.json:
        print(json.dumps(metrics))
    else:
        print("  ".join(f"{name} {value:.4f}" for name, value in metrics.items() if name != "images"))
        print(f"{metrics['images']} images; predictions.json and PR_curve.png in {run_dir}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from mobilevision.tasks.detect.predict import predict_detections

    results = predict_detections(args.source, weights=args.weights, imgsz=args.imgsz, conf=args.conf,
                                 device=args.device, project=args.project, name=args.name)
    return print_results(results, as_json=args.json, line=lambda result: f"{result['source']}: "
                         + (", ".join(f"{d['name']} {d['score']:.2f}" for d in result["detections"][:10])
                            or "no detections") + f" -> {result['output']}")
