"""Equal-time race on the built-in data: our SSDLite-MobileNetV2 (the `quick` recipe's width, size,
anchors, batch and optimizer) against torchvision's ssdlite320_mobilenet_v3_large (weights=None,
weights_backbone=None, num_classes = ours) trained with torchvision's own loss in a plain loop.

    .venv/bin/python -m mobilevision.cli data synth --out /tmp/synth1500 --images 1500 --size 320
    .venv/bin/python benchmarks/detect_race.py --data /tmp/synth1500 --seconds 900

Both arms read the same training split through the datasets package's pipeline with the quick
recipe's augmentation (ours at its recipe size, anchors and [-1, 1] scaling, torchvision's at 320 in [0, 1],
which it normalises itself), use the quick recipe's optimizer and gradient clipping with a warm-up
and a cosine schedule over the time budget (lr as a function of the arm's own elapsed time), and
are evaluated on the same val images by our COCO evaluator. The machine is shared: the arms take
turns step by step and each clock counts only its own steps (loading included), so a load change
hits both alike. Prints one JSON line per arm.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torchvision
from torch.utils.data import DataLoader

from mobilevision.datasets import build_dataset, detection_collate, detection_transforms
from mobilevision.engine.allocator import keep_freed_memory
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.engine.evaluation import evaluate
from mobilevision.engine.optim import build_optimizer
from mobilevision.tasks.detect.config import RECIPES
from mobilevision.tasks.detect.evaluator import DetectionEvaluator
from mobilevision.tasks.detect.model import SSDLite
from mobilevision.tasks.detect.options import SSDLiteOptions
from mobilevision.tasks.registry import build_model

TORCHVISION_SIZE = 320


class Arm:
    """One model's training state: loader, optimizer, clock; `step()` runs one batch."""

    def __init__(self, name: str, model, *, data: str, size: int, mean, std, batch: int, lr: float, recipe,
                 memory_format, seconds: float, warmup_seconds: float, workers: int, seed: int) -> None:
        self.name, self.model, self.size, self.memory_format = name, model, size, memory_format
        self.transform = {"size": size, "mean": mean, "std": std}
        train_set = build_dataset(data, task="detect", split="train",
                                  transform=detection_transforms(True, augment=recipe.augment, **self.transform))
        self.loader = DataLoader(train_set, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                                 collate_fn=detection_collate, persistent_workers=workers > 0,
                                 generator=torch.Generator().manual_seed(seed))
        self.batches = iter(self.loader)
        self.optimizer = build_optimizer(model, name=recipe.optimizer, lr=lr, momentum=recipe.momentum,
                                         nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)
        self.lr, self.seconds, self.warmup_seconds, self.clip_grad = lr, seconds, warmup_seconds, recipe.clip_grad
        self.elapsed, self.images, self.steps = 0.0, 0, 0
        model.to(memory_format=memory_format).train()

    def learning_rate(self) -> float:
        if self.elapsed < self.warmup_seconds:
            return self.lr * (0.01 + 0.99 * self.elapsed / self.warmup_seconds)
        progress = min(1.0, (self.elapsed - self.warmup_seconds) / max(1e-9, self.seconds - self.warmup_seconds))
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))

    def next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def step(self) -> float:
        started = time.perf_counter()
        images, targets = self.next_batch()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        losses = self.forward(images.contiguous(memory_format=self.memory_format), targets)
        loss = sum(losses.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad)
        self.optimizer.step()
        self.elapsed += time.perf_counter() - started
        self.images += len(images)
        self.steps += 1
        return float(loss.detach())

    def forward(self, images, targets):
        return self.model(images, targets)

    def evaluate(self, data: str, class_names: list[str]) -> dict:
        val_set = build_dataset(data, task="detect", split="val", transform=detection_transforms(False, **self.transform))
        loader = DataLoader(val_set, batch_size=16, collate_fn=detection_collate)
        evaluator = DetectionEvaluator(class_names, input_size=self.size)
        return evaluate(self.model, loader, evaluator, device=torch.device("cpu"), memory_format=self.memory_format,
                        progress=False)


class TorchvisionArm(Arm):
    def forward(self, images, targets):
        # torchvision's detectors take a list of images and targets with only boxes and labels.
        return self.model(list(images), [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets])


def main() -> None:
    keep_freed_memory()  # as the `mobilevision` command does, for both arms alike
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a built-in dataset folder (mobilevision data synth)")
    parser.add_argument("--seconds", type=float, default=120.0, help="training seconds per arm")
    parser.add_argument("--batch", type=int, default=None, help="images per step of each arm (default: the recipe's)")
    parser.add_argument("--tv-lr", type=float, default=None, help="torchvision's peak lr (default: ours)")
    parser.add_argument("--workers", type=int, default=1, help="loader processes per arm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", nargs="+", choices=("ours", "torchvision"), default=["ours", "torchvision"],
                        help="train only these arms (one arm alone: compare with the other's run on an idle machine, "
                        "e.g. ours through `benchmarks/quick_recipe.py --task detect`)")
    args = parser.parse_args()

    recipe = RECIPES["quick"].config
    batch = args.batch or recipe.batch
    class_names = list(build_dataset(args.data, task="detect", split="val").class_names)
    warmup = 0.05 * args.seconds

    def build_ours() -> Arm:
        torch.manual_seed(args.seed)
        model = build_model(recipe.model, width=recipe.width, imgsz=recipe.imgsz, num_classes=len(class_names) + 1,
                            ssdlite=as_kwargs(options_of(SSDLiteOptions, recipe)))
        return Arm("ours_ssdlite_mobilenet_v2", model, data=args.data, size=recipe.imgsz, mean=SSDLite.mean,
                   std=SSDLite.std, batch=batch, lr=recipe.lr, recipe=recipe,
                   memory_format=torch.channels_last, seconds=args.seconds, warmup_seconds=warmup,
                   workers=args.workers, seed=args.seed)

    def build_torchvision() -> Arm:
        torch.manual_seed(args.seed)
        model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=len(class_names) + 1)
        return TorchvisionArm("torchvision_ssdlite320_mobilenet_v3_large", model, data=args.data,
                              size=TORCHVISION_SIZE, mean=(0, 0, 0), std=(1, 1, 1), batch=batch,
                              lr=args.tv_lr or recipe.lr, recipe=recipe, memory_format=torch.contiguous_format,
                              seconds=args.seconds, warmup_seconds=warmup, workers=args.workers, seed=args.seed)

    arms = [{"ours": build_ours, "torchvision": build_torchvision}[key]() for key in args.arms]
    started = time.perf_counter()
    while any(arm.elapsed < args.seconds for arm in arms):
        for arm in arms:
            if arm.elapsed < args.seconds:
                loss = arm.step()
                if arm.steps % 20 == 0:
                    print(f"[{time.perf_counter() - started:7.0f} s] {arm.name}: step {arm.steps} loss {loss:.3f} "
                          f"{arm.images / arm.elapsed:.2f} img/s", flush=True)
    for arm in arms:
        torch.save(arm.model.state_dict(), f"{arm.name}.pt")  # evaluate again without retraining
        metrics = arm.evaluate(args.data, class_names)
        print(json.dumps({"arm": arm.name, "seconds": round(arm.elapsed, 1), "images": arm.images,
                          "epochs": round(arm.images / len(arm.loader.dataset), 2),
                          "img_per_s": round(arm.images / arm.elapsed, 2), "input": arm.size,
                          **{k: round(metrics[k], 4) for k in ("mAP", "mAP50", "mAP75")}}), flush=True)


if __name__ == "__main__":
    main()
