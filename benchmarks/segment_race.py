"""Segmentation race on the built-in dataset: Mobile DeepLabv3 (the `quick` recipe's network, input
size, scale jitter, batch, optimizer, learning rate, gradient clipping and loss stride) against torchvision's
lraspp_mobilenet_v3_large (weights=None, weights_backbone=None; its own loss: cross-entropy with
ignore 255 on the 'out' logits; SGD + poly),
each trained for the same wall-clock seconds from scratch, then both evaluated on the same val
images at the labels' own 320 px by SegmentationEvaluator.

The two trainings alternate in slices of `--slice` seconds, so both see the same machine load (the
2-core machines here are shared). Each model's learning rate is a function of its own elapsed
training seconds (linear warm-up over the first 3%, then poly 0.9 to 0), so each uses its whole
budget; evaluation time is not counted. Both read the same VOC view through the same pipeline.

    python benchmarks/segment_race.py --data /tmp/segbench/data --seconds 900

--data: a built-in dataset folder; made with `mobilevision data synth --images 1500 --size 320`
when missing (1200 train / 300 val); the first --train-images (900) of train are used.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from mobilevision.datasets import generate_dataset
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import segmentation_collate
from mobilevision.datasets.transforms import IGNORE_INDEX, segmentation_transforms
from mobilevision.engine.allocator import keep_freed_memory
from mobilevision.engine.amp import amp_dtype
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.engine.device import autocast
from mobilevision.engine.evaluation import evaluate
from mobilevision.engine.optim import build_optimizer
from mobilevision.engine.sampling import eval_loader
from mobilevision.heads.resize import resize_bilinear
from mobilevision.tasks.registry import build_model
from mobilevision.tasks.segment.config import RECIPES
from mobilevision.tasks.segment.evaluator import SegmentationEvaluator
from mobilevision.tasks.segment.options import DeepLabOptions

WARMUP_FRACTION = 0.03
CPU = torch.device("cpu")


class Contestant:
    """One model, its optimizer, its endless data iterator and its training clock."""

    def __init__(self, name: str, model: nn.Module, optimizer: torch.optim.Optimizer, loss, *, lr: float,
                 seconds: float, loader, amp: torch.dtype | None, clip_grad: float = 0.0) -> None:
        self.name, self.model, self.optimizer, self.loss = name, model, optimizer, loss
        self.lr, self.seconds, self.amp, self.clip_grad = lr, seconds, amp, clip_grad
        self.batches = itertools.chain.from_iterable(itertools.repeat(loader))
        self.elapsed, self.images, self.steps, self.last_loss = 0.0, 0, 0, math.nan

    def learning_rate(self) -> float:
        progress = min(1.0, self.elapsed / self.seconds)
        if progress < WARMUP_FRACTION:
            return self.lr * (0.01 + 0.99 * progress / WARMUP_FRACTION)
        return self.lr * (1 - (progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION)) ** 0.9

    def train_for(self, seconds: float) -> None:
        """Steps until this slice's seconds (or the whole budget) are used; loading counts too."""
        self.model.train()
        stop = min(self.elapsed + seconds, self.seconds)
        while self.elapsed < stop:
            started = time.perf_counter()
            images, masks = next(self.batches)
            images = images.contiguous(memory_format=torch.channels_last)
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate()
            with autocast(CPU, self.amp):
                loss = self.loss(self.model, images, masks)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad)
            self.optimizer.step()
            self.elapsed += time.perf_counter() - started
            self.images += images.shape[0]
            self.steps += 1
            self.last_loss = loss.item()


class AtTrainingSize(nn.Module):
    """Eval wrapper: (N, 3, H, W) at the labels' size -> scaled to the training size -> logits
    scaled back -> class map (N, H, W), so both models are scored on the same 320 px labels."""

    def __init__(self, logits, *, size: int) -> None:
        super().__init__()
        self.logits, self.size = logits, size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        small = resize_bilinear(images, (self.size, self.size))
        return resize_bilinear(self.logits(small.contiguous(memory_format=torch.channels_last)),
                               images.shape[2:]).argmax(dim=1)


def race_data(data: Path, *, train_images: int, seed: int = 0) -> Path:
    """A dataset YAML over the built-in dataset at `data` (generated when missing: 1500 images of
    320 px, 1200 train / 300 val) whose train split is the first `train_images` training images."""
    if not data.is_dir():
        generate_dataset(data, images=1500, seed=seed, size=320)
    voc = data / "voc" / "ImageSets" / "Segmentation"
    names = (voc / "train.txt").read_text().split()[:train_images]
    (voc / f"train{len(names)}.txt").write_text("\n".join(names) + "\n")
    class_names = json.loads((data / "mobilevision_synth.json").read_text())["class_names"]
    yaml_file = data / f"segment_race_{len(names)}.yaml"
    yaml_file.write_text(f"format: voc\nroot: {data / 'voc'}\nsplits: {{train: train{len(names)}, val: val}}\n"
                         f"class_names: {json.dumps(class_names)}\n")
    return yaml_file


def ours_loss(model, images, masks):
    return sum(model(images, masks).values())


def lraspp_loss(model, images, masks):
    return F.cross_entropy(model(images)["out"], masks, ignore_index=IGNORE_INDEX)


def main() -> None:
    keep_freed_memory()  # as the `mobilevision` command does, for both arms alike
    recipe = RECIPES["quick"].config
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/segbench/data"))
    parser.add_argument("--train-images", type=int, default=900)
    parser.add_argument("--seconds", type=float, default=120.0, help="training seconds of each model")
    parser.add_argument("--slice", type=float, default=30.0, help="seconds per turn before the other model trains")
    parser.add_argument("--imgsz", type=int, default=recipe.imgsz, help="training crop of both models")
    parser.add_argument("--batch", type=int, default=recipe.batch)
    parser.add_argument("--width", type=float, default=recipe.width)
    parser.add_argument("--decoder", action=argparse.BooleanOptionalAction, default=recipe.decoder)
    parser.add_argument("--lr", type=float, default=recipe.lr, help="ours (the quick recipe's)")
    parser.add_argument("--lraspp-lr", type=float, default=0.02, help="torchvision's reference: 0.01 at batch 32 "
                        "on COCO from ImageNet; higher here, from scratch in minutes")
    parser.add_argument("--lraspp-wd", type=float, default=1e-6, help="torchvision's reference --wd")
    parser.add_argument("--workers", type=int, default=1, help="loader processes per model")
    parser.add_argument("--amp", choices=("auto", "off", "bf16"), default=recipe.amp,
                        help="mixed precision of both models' training steps (default: the recipe's; auto = bf16 on "
                        "CPUs with native bf16 kernels, as the engine)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--arms", nargs="+", choices=("ours", "lraspp"), default=["ours", "lraspp"],
                        help="train only these models (one alone: compare with the other's run on an idle machine, "
                        "e.g. ours through `benchmarks/quick_recipe.py --task segment`)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    amp = amp_dtype(args.amp, CPU)
    yaml_file = race_data(args.data, train_images=args.train_images, seed=args.seed)
    train_set = build_dataset(yaml_file, task="segment", split="train",
                              transform=segmentation_transforms(True, size=args.imgsz,
                                                                scale_range=(recipe.scale_min, recipe.scale_max)))
    val_set = build_dataset(yaml_file, task="segment", split="val", transform=segmentation_transforms(False, size=None))
    classes = len(train_set.class_names)

    def loader(seed: int):
        return torch.utils.data.DataLoader(train_set, batch_size=args.batch, shuffle=True, drop_last=True,
                                           num_workers=args.workers, collate_fn=segmentation_collate,
                                           persistent_workers=args.workers > 0,
                                           generator=torch.Generator().manual_seed(seed))

    def build_ours() -> Contestant:
        deeplab = {**as_kwargs(options_of(DeepLabOptions, recipe)), "decoder": args.decoder}
        model = build_model(recipe.model, width=args.width, num_classes=classes, output_stride=recipe.output_stride,
                            deeplab=deeplab).to(memory_format=torch.channels_last)
        optimizer = build_optimizer(model, name=recipe.optimizer, lr=args.lr, momentum=recipe.momentum,
                                    nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)
        return Contestant("ours", model, optimizer, ours_loss, lr=args.lr, seconds=args.seconds,
                          loader=loader(args.seed), amp=amp, clip_grad=recipe.clip_grad)

    def build_lraspp() -> Contestant:
        model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=classes).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lraspp_lr, momentum=0.9, weight_decay=args.lraspp_wd)
        return Contestant("lraspp", model, optimizer, lraspp_loss, lr=args.lraspp_lr, seconds=args.seconds,
                          loader=loader(args.seed), amp=amp)

    builders = {"ours": build_ours, "lraspp": build_lraspp}
    contestants = []
    for key in args.arms:
        torch.manual_seed(args.seed)
        contestants.append(builders[key]())
    print(f"{len(train_set)} train / {len(val_set)} val images, {classes} classes, {args.seconds:.0f} s each at "
          f"{args.imgsz} px, batch {args.batch}, slices of {args.slice:.0f} s", flush=True)
    while any(c.elapsed < c.seconds for c in contestants):
        for contestant in contestants:
            contestant.train_for(args.slice)
        shown = "  ".join(f"{c.name} {c.elapsed:5.0f}s {c.images / max(c.elapsed, 1e-9):4.1f} img/s loss {c.last_loss:.3f}"
                          for c in contestants)
        print(shown, flush=True)

    results = {"seconds": args.seconds, "imgsz": args.imgsz, "batch": args.batch, "val_images": len(val_set),
               "amp": str(amp)}
    for contestant in contestants:
        logits = contestant.model.raw_outputs if contestant.name == "ours" else (lambda x, m=contestant.model: m(x)["out"])
        evaluator = SegmentationEvaluator(train_set.class_names)
        started = time.perf_counter()
        metrics = evaluate(AtTrainingSize(logits, size=args.imgsz), eval_loader(
            # One image a batch: a padded batch of mixed sizes would be resized with its padding.
            val_set, rank=0, world_size=1, batch=1, workers=args.workers, collate_fn=segmentation_collate),
            evaluator, device=torch.device("cpu"), progress=False)
        iou = evaluator.per_class_iou(evaluator.reduced).tolist()
        results[contestant.name] = {**metrics, "per_class_iou": dict(zip(train_set.class_names, iou)),
                                    "images_per_s": contestant.images / contestant.elapsed, "steps": contestant.steps,
                                    "eval_s": time.perf_counter() - started}
        per_class = " ".join(f"{name} {value:.2f}" for name, value in zip(train_set.class_names, iou))
        print(f"{contestant.name}: mIoU {metrics['miou']:.4f}  pixel acc {metrics['pixel_accuracy']:.4f}  "
              f"{contestant.images / contestant.elapsed:.1f} img/s, {contestant.steps} steps  [{per_class}]", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
