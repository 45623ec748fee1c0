"""`mobilevision export`: a checkpoint to ONNX (optionally INT8) or TorchScript, BatchNorm folded."""

from __future__ import annotations

import argparse
import json

from mobilevision.cli.flag_types import output_file, positive_int


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a checkpoint to ONNX / INT8 ONNX / TorchScript",
                                   description=__doc__)
    parser.add_argument("--weights", required=True, help="checkpoint to export (runs/<task>/<name>/weights/best.pt), "
                        "or a published name such as torchvision:ssdlite320_mobilenet_v3_large (`mobilevision "
                        "weights` lists them)")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="output format")
    parser.add_argument("--imgsz", type=positive_int, default=None,
                        help="input size (default: the checkpoint's)")
    parser.add_argument("--int8", action="store_true", help="also write an INT8 model (ONNX Runtime static quantisation)")
    parser.add_argument("--calib", default=None, help="dataset whose val images calibrate INT8 (path or YAML)")
    parser.add_argument("--calib-images", type=positive_int, default=64, help="number of calibration images")
    parser.add_argument("--out", type=output_file, default=None, help="output file, in a folder that exists "
                        "(default: beside the checkpoint)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mobilevision.deploy.export import export

    result = export(args.weights, fmt=args.format, imgsz=args.imgsz, int8=args.int8, calib=args.calib,
                    calib_images=args.calib_images, out=args.out)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
