"""Training images/s of the engine's loop (`fit`) against a plain loop around torchvision's
mobilenet_v2: same width, resolution, batch, optimizer and the same images held in memory.

    .venv/bin/python benchmarks/train_throughput.py [--width 0.5 --imgsz 96 --batch 32 --steps 40]

Both loops include their first steps; the plain loop runs both NCHW (torchvision's default) and
channels_last, so the engine's gain from its default memory format is visible separately.
The machine is shared: the script alternates the loops and reports the median of `--rounds`.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision

from mobilevision.datasets.collate import classification_collate
from mobilevision.engine.allocator import keep_freed_memory
from mobilevision.engine.config import TrainConfig
from mobilevision.engine.loop import ModelSpec, fit
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.registry import build_model

CLASSES = 7


def plain_loop(samples, *, width: float, batch: int, steps: int, channels_last: bool) -> float:
    """images/s of the textbook loop: forward, cross-entropy, backward, SGD step."""
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(width_mult=width, num_classes=CLASSES)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory_format).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=4e-5)
    started = time.perf_counter()
    for step in range(steps):
        index = torch.arange(step * batch, (step + 1) * batch) % len(samples)
        images = samples.tensors[0][index].contiguous(memory_format=memory_format)
        loss = F.cross_entropy(model(images), samples.tensors[1][index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - started)


def engine_loop(samples, *, width: float, imgsz: int, batch: int, steps: int, amp: str) -> float:
    """images/s over the training part of one `fit` epoch (its results.csv column images_per_s)."""
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", width=width, num_classes=CLASSES)
    config = TrainConfig(device="cpu", workers=0, batch=batch, imgsz=imgsz, width=width, epochs=1, lr=0.01,
                         nesterov=True, amp=amp)
    spec = ModelSpec(task="classify", model_name="mobilenet_v2", model_kwargs={"width": width, "num_classes": CLASSES},
                     class_names=[str(i) for i in range(CLASSES)],
                     preprocessing={"mean": [0.5] * 3, "std": [0.5] * 3, "input_size": imgsz})
    train_set = torch.utils.data.Subset(samples, range(steps * batch))
    val_set = torch.utils.data.Subset(samples, range(batch))
    with tempfile.TemporaryDirectory() as run_dir:
        fit(model=model, spec=spec, train_set=train_set, val_set=val_set, collate_fn=classification_collate,
            make_evaluator=lambda: ClassificationEvaluator(spec.class_names), config=config, run_dir=Path(run_dir))
        with open(Path(run_dir) / "results.csv", newline="") as file:
            return float(next(csv.DictReader(file))["images_per_s"])


def main() -> None:
    keep_freed_memory()  # as the `mobilevision` command does, for both arms alike
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.5, help="width multiplier (default: 0.5, the quick recipe)")
    parser.add_argument("--imgsz", type=int, default=96, help="input size (default: 96, the quick recipe)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per measurement (default: 40)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each loop (default: 3)")
    parser.add_argument("--amp", default="auto", choices=("auto", "off", "bf16"),
                        help="the engine's --amp (default: auto, its default; the plain loops run fp32)")
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    count = args.steps * args.batch
    samples = torch.utils.data.TensorDataset(torch.randn(count, 3, args.imgsz, args.imgsz, generator=generator),
                                             torch.randint(0, CLASSES, (count,), generator=generator))
    rates: dict[str, list[float]] = {"engine (channels_last)": [], "plain torchvision NCHW": [],
                                     "plain torchvision channels_last": []}
    for _ in range(args.rounds):
        rates["engine (channels_last)"].append(engine_loop(samples, width=args.width, imgsz=args.imgsz,
                                                           batch=args.batch, steps=args.steps, amp=args.amp))
        rates["plain torchvision NCHW"].append(plain_loop(samples, width=args.width, batch=args.batch,
                                                          steps=args.steps, channels_last=False))
        rates["plain torchvision channels_last"].append(plain_loop(samples, width=args.width, batch=args.batch,
                                                                   steps=args.steps, channels_last=True))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"width {args.width}, {args.imgsz} px, batch {args.batch}, {args.steps} steps, engine --amp {args.amp}, "
          f"{torch.get_num_threads()} threads; median of {args.rounds} rounds")
    for name, value in medians.items():
        print(f"  {name:<34} {value:7.1f} img/s   (all: {', '.join(f'{v:.1f}' for v in rates[name])})")
    engine = medians["engine (channels_last)"]
    print(f"  ratio engine / plain NCHW:          {engine / medians['plain torchvision NCHW']:.2f}x")
    print(f"  ratio engine / plain channels_last: {engine / medians['plain torchvision channels_last']:.2f}x")


if __name__ == "__main__":
    main()
