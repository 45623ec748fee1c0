"""Training images/s of our SSDLite step against torchvision's ssdlite320_mobilenet_v3_large step,
at the same resolution and batch, on the same real images and boxes held in memory.

    .venv/bin/python benchmarks/detect_throughput.py --data /tmp/synth [--imgsz 320 --batch 16 --steps 12]

A step is forward with the loss, backward and an SGD step (no data loading: both loops read the
same tensors). Ours runs as the engine runs it (channels_last); torchvision's as its references do
(NCHW, its own transform inside the model). The machine is shared: the loops alternate and the
median of `--rounds` is reported. `--width` lists the widths of ours to time; `--bf16` also times
ours under bf16 autocast, as `--amp bf16` trains (it is not faster on every CPU that supports it).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import torch
import torchvision

from mobilevision.datasets import build_dataset, detection_collate, detection_transforms
from mobilevision.engine.allocator import keep_freed_memory
from mobilevision.tasks.detect.model import build_ssdlite


def load_batches(data: str, *, imgsz: int, batch: int, count: int):
    """`count` batches of (images (N, 3, S, S) in [0, 1], targets) from the training split."""
    dataset = build_dataset(data, task="detect", split="train",
                            transform=detection_transforms(False, size=imgsz, mean=(0, 0, 0), std=(1, 1, 1)))
    samples = [dataset[i % len(dataset)] for i in range(batch * count)]
    return [detection_collate(samples[i * batch:(i + 1) * batch]) for i in range(count)], len(dataset.class_names)


def time_steps(model, step, batches) -> float:
    """images/s of `step(model, images, targets)` over the batches (the first one is a warm-up)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
    model.train()
    step(model, optimizer, *batches[0])
    started = time.perf_counter()
    for images, targets in batches[1:]:
        step(model, optimizer, images, targets)
    return sum(len(images) for images, _ in batches[1:]) / (time.perf_counter() - started)


def our_step(model, optimizer, images, targets, *, bf16: bool = False):
    # Our model expects [-1, 1] input (mean = std = 0.5), as the engine feeds it.
    images = ((images - 0.5) / 0.5).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = sum(model(images, targets).values())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def torchvision_step(model, optimizer, images, targets):
    # torchvision's detectors take a list of [0, 1] images and normalise and resize them inside.
    loss = sum(model(list(images), [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets]).values())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    keep_freed_memory()  # as the `mobilevision` command does, for both arms alike
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a built-in dataset folder (mobilevision data synth)")
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per round (plus one warm-up)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--bf16", action="store_true", help="also time ours under bf16 autocast")
    args = parser.parse_args()

    batches, classes = load_batches(args.data, imgsz=args.imgsz, batch=args.batch, count=args.steps + 1)
    torch.manual_seed(0)
    theirs = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=classes + 1)
    # torchvision resizes to its own 320 unless told the size we train at.
    theirs.transform.min_size, theirs.transform.max_size = (args.imgsz,), args.imgsz
    ours = {width: build_ssdlite(backbone="mobilenet_v2", width=width, num_classes=classes + 1, imgsz=args.imgsz)
            .to(memory_format=torch.channels_last) for width in args.width}
    steps = {"": our_step, **({"_bf16": functools.partial(our_step, bf16=True)} if args.bf16 else {})}
    rates: dict[str, list[float]] = {"torchvision": [], **{f"ours_w{w}{s}": [] for w in args.width for s in steps}}
    for _ in range(args.rounds):
        rates["torchvision"].append(time_steps(theirs, torchvision_step, batches))
        for width, model in ours.items():
            for suffix, step in steps.items():
                rates[f"ours_w{width}{suffix}"].append(time_steps(model, step, batches))
    base = statistics.median(rates["torchvision"])
    print(f"imgsz {args.imgsz}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, "
          f"{torch.get_num_threads()} threads")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:>16}: {rate:6.2f} img/s  (x{rate / base:.2f} of torchvision's)  rounds {[round(v, 2) for v in values]}")


if __name__ == "__main__":
    main()
