"""`mobilevision quickstart` (what `make demo` runs): the suite end to end on the built-in dataset.

One run folder, runs/quickstart/ by default:

    data/                          the built-in dataset (COCO, VOC and class-folder views)
    multitask/mobilenet_v2/        the multi-task training run: args.yaml, results.csv, plots,
                                   weights/best.pt and its ONNX export weights/best.onnx
    multitask/mobilenet_v1/        the same for MobileNetV1, with --train-v1
    multitask/val_mobilenet_v2/    the evaluation's plots and predictions.json (and _v1 with --train-v1)
    bench/                         MobileNetV2 against MobileNetV1: results.csv / .json, plots, and
                                   weights/ with what was timed (an untrained V1 unless --train-v1)
    demo_input.mp4, demo.mp4       a video made from val images, and the live demo's annotated copy
    gallery.png                    predictions on val images in a grid
    summary.json, summary.md       the evaluation and benchmark tables, the files, each step's time

A second run reuses the dataset, the checkpoints, the ONNX export and the benchmark when what they
were made from has not changed, and says so; --fresh (or deleting a folder) makes them again.
"""
