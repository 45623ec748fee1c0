"""Is bf16 autocast worth it for training on this CPU? Times SGD steps of the classifier in fp32 and
under torch.autocast("cpu", bfloat16), channels_last, same data; `--amp auto` keeps CPU at fp32
unless this shows bf16 faster.

    .venv/bin/python benchmarks/amp_cpu.py [--width 0.5 --imgsz 128 --batch 32 --steps 15]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from mobilevision.engine.allocator import keep_freed_memory
from mobilevision.tasks.registry import build_model


def images_per_second(*, dtype: torch.dtype | None, width: float, imgsz: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", width=width, num_classes=10).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, imgsz, imgsz).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))
    for step in range(steps + 2):
        if step == 2:  # the first steps allocate and pick kernels
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            loss = F.cross_entropy(model.raw_outputs(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    keep_freed_memory()  # as the `mobilevision` command does, for both arms alike
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.5, help="width multiplier (default: 0.5)")
    parser.add_argument("--imgsz", type=int, default=128, help="input size (default: 128)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--steps", type=int, default=15, help="timed steps (default: 15)")
    args = parser.parse_args()
    options = dict(width=args.width, imgsz=args.imgsz, batch=args.batch, steps=args.steps)
    fp32 = images_per_second(dtype=None, **options)
    bf16 = images_per_second(dtype=torch.bfloat16, **options)
    print(f"fp32 {fp32:.1f} img/s, bf16 autocast {bf16:.1f} img/s, bf16/fp32 = {bf16 / fp32:.2f}x "
          f"({torch.get_num_threads()} threads, width {args.width}, {args.imgsz} px, batch {args.batch})")


if __name__ == "__main__":
    main()
