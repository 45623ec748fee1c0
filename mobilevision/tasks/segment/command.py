"""`mobilevision segment train|val|predict`: the semantic segmentation command group."""

from __future__ import annotations

import argparse
import json

from mobilevision.engine.commands import add_train_parser, on_every_rank, print_results
from mobilevision.tasks.segment.config import RECIPES, SegmentTrainConfig


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    segment = subparsers.add_parser("segment", help="semantic segmentation (Mobile DeepLabv3): train, val, predict",
                                    description="Semantic segmentation on PASCAL VOC (SegmentationClass PNGs, "
                                    "255 = ignore), COCO (masks rasterised to classes) or the built-in dataset.")
    modes = segment.add_subparsers(dest="mode", required=True, metavar="MODE")

    add_train_parser(modes, config_class=SegmentTrainConfig, recipes=RECIPES,
                     help="train a segmenter (torchrun-ready)", description=__doc__, run=run_train)

    val = modes.add_parser("val", help="mIoU, per-class IoU and pixel accuracy on a dataset split")
    _add_weights_arguments(val)
    val.add_argument("--data", required=True, help="dataset folder or YAML (VOC, COCO or built-in)")
    val.add_argument("--split", default="val", choices=("train", "val"), help="split to evaluate (default: val)")
    val.add_argument("--batch", type=int, default=8, help="images per batch (default: 8)")
    val.add_argument("--workers", type=int, default=2, help="data-loading worker processes (default: 2)")
    val.add_argument("--multiscale", action="store_true", help="average scales 0.5-1.75 and flips (the paper's MF "
                     "column; about 12x slower)")
    val.add_argument("--json", action="store_true", help="print only the metrics as JSON on stdout")
    val.set_defaults(run=run_val)

    predict = modes.add_parser("predict", help="class maps of an image, a folder of images or a video")
    predict.add_argument("source", help="an image file, a folder of images or a video file")
    _add_weights_arguments(predict)
    predict.add_argument("--json", action="store_true", help="print a JSON list on stdout instead of text")
    predict.set_defaults(run=run_predict)


def _add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, help="a checkpoint (runs/segment/<name>/weights/best.pt), or "
                        "its ONNX export with --runtime onnxruntime")
    parser.add_argument("--runtime", default="torch", choices=("torch", "onnxruntime"),
                        help="torch (a .pt checkpoint) or onnxruntime (a .onnx export; CPU) (default: torch)")
    parser.add_argument("--imgsz", type=int, default=None, help="input size: the longer side is scaled to it and "
                        "the image padded square (default: the weights' own)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="auto picks cuda, then mps, then cpu (default: auto)")
    parser.add_argument("--project", default="runs", help="folder that holds runs/segment/<name> (default: runs)")
    parser.add_argument("--name", default=None, help="output folder name (default: val / predict, numbered)")


def run_train(args: argparse.Namespace) -> int:
    from mobilevision.engine.run_setup import run_train_command
    from mobilevision.tasks.segment.train import train_segmenter

    return run_train_command(args, task="segment", config_class=SegmentTrainConfig, recipes=RECIPES,
                             train=train_segmenter)


def run_val(args: argparse.Namespace) -> int:
    from mobilevision.tasks.segment.val import validate_segmenter

    metrics = on_every_rank(args.device, lambda: validate_segmenter(
        weights=args.weights, data=args.data, imgsz=args.imgsz, batch=args.batch, device=args.device,
        workers=args.workers, split=args.split, multiscale=args.multiscale, runtime=args.runtime,
        project=args.project, name=args.name, progress=not args.json))
    if metrics is None:
        return 0
    if args.json:
        print(json.dumps(metrics))
        return 0
    print(f"mIoU {_shown(metrics['miou'])}  pixel accuracy {_shown(metrics['pixel_accuracy'])}  "
          f"({metrics['images']} images)")
    for name, iou in metrics["per_class_iou"].items():
        print(f"  {name:>20s} {_shown(iou)}")
    return 0


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"  # None: a class absent from labels and predictions


def run_predict(args: argparse.Namespace) -> int:
    from mobilevision.tasks.segment.predict import predict_masks

    results = predict_masks(args.source, weights=args.weights, imgsz=args.imgsz, device=args.device,
                            runtime=args.runtime, project=args.project, name=args.name)
    return print_results(results, as_json=args.json, line=lambda result: f"{result['source']}: "
                         + ", ".join(f"{name} {fraction:.1%}" for name, fraction in result["classes"].items())
                         + f" -> {result['overlay']}")
