"""Why bf16 autocast trains depthwise-heavy networks slowly on a CPU: one 3x3 depthwise conv's
forward and backward, fp32 against bf16, stride 1 against 2, NCHW against channels_last.

    .venv/bin/python benchmarks/depthwise_bf16.py [--batch 8 --iters 10]

The shapes are the quickstart model's (MobileNetV2 width 0.5 at 256 px): 48 channels at 128 px,
96 at 64 and at 32, 288 at 16. On the AMD EPYC VM (avx512_bf16) the bf16 backward at stride 2 was 4-40x the
fp32 one: oneDNN runs its input gradient with a generic grouped kernel (ONEDNN_VERBOSE=1 names it
brgconv_strided), where fp32 and bf16 at stride 1 get the depthwise one (jit_dw). So under CPU
bf16 autocast the engine computes that gradient as a stride-1 depthwise conv
(backbones/strided_depthwise.py).
"""

from __future__ import annotations

import argparse
import functools
import math
import time

import torch

from mobilevision.backbones.strided_depthwise import strided_depthwise_bf16
from mobilevision.engine.machine import cpu_name

SHAPES = ((48, 128), (96, 64), (96, 32), (288, 16))  # (channels, input size)


def forward_backward_ms(*, channels: int, size: int, stride: int, dtype: torch.dtype, channels_last: bool,
                        batch: int, iters: int, spread: bool = False) -> tuple[float, float]:
    """(forward ms, backward ms) of a depthwise 3x3 conv on a (batch, channels, size, size) input;
    spread: through the engine's bf16 strided depthwise (backbones/strided_depthwise.py)."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    conv = torch.nn.Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels, bias=False)
    conv = conv.to(dtype=dtype, memory_format=memory_format)
    x = torch.randn(batch, channels, size, size, dtype=dtype).contiguous(memory_format=memory_format)
    x.requires_grad_(True)
    if spread:
        conv = functools.partial(strided_depthwise_bf16, conv)
    gradient = torch.randn_like(conv(x))
    for _ in range(3):  # oneDNN builds its kernels on the first calls
        conv(x).backward(gradient)
    started = time.perf_counter()
    for _ in range(iters):
        conv(x)
    forward = (time.perf_counter() - started) / iters
    started = time.perf_counter()
    for _ in range(iters):
        conv(x).backward(gradient)
    both = (time.perf_counter() - started) / iters
    return 1000 * forward, 1000 * (both - forward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    print(f"{cpu_name()}, {torch.get_num_threads()} threads, batch {args.batch}; ms per call\n")
    print("| channels @ size | stride | layout | fp32 forward | fp32 backward | bf16 forward | bf16 backward "
          "| engine bf16 forward | engine bf16 backward |")
    print("|---|---|---|---|---|---|---|---|---|")
    for channels, size in SHAPES:
        for stride in (1, 2):
            for channels_last in (False, True):
                cells = []
                for dtype in (torch.float32, torch.bfloat16):
                    cells += forward_backward_ms(channels=channels, size=size, stride=stride, dtype=dtype,
                                                 channels_last=channels_last, batch=args.batch, iters=args.iters)
                cells += (forward_backward_ms(channels=channels, size=size, stride=stride, dtype=torch.bfloat16,
                                              channels_last=channels_last, batch=args.batch, iters=args.iters,
                                              spread=True) if stride > 1 else (float("nan"),) * 2)
                layout = "channels_last" if channels_last else "NCHW"
                print(f"| {channels} @ {size} | {stride} | {layout} | " + " | ".join("-" if math.isnan(ms) else f"{ms:.2f}" for ms in cells) + " |")


if __name__ == "__main__":
    main()
