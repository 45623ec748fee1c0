"""Why Mobile DeepLabv3 starts slowly from scratch: the head's 1x1 classifier gets the backbone's
Kaiming fan-out initialisation (heads/deeplab.py, init_conv_bn), whose std sqrt(2 / num_classes)
makes the first logits large (loss 6.4 for 7 classes, against ln 7 = 1.95 for uniform ones). TF
DeepLab initialises its logits layer with a normal of std 0.01. This trains both for 60 steps
(width 0.5, decoder, 96 px crops, batch 8, SGD lr 0.02, 1 thread) on the same data and prints the losses.

    python benchmarks/segment_classifier_init.py --data /tmp/segbench/data/segment_race_900.yaml
"""

from __future__ import annotations

import argparse
import itertools

import torch

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import segmentation_collate
from mobilevision.datasets.transforms import segmentation_transforms
from mobilevision.engine.optim import build_optimizer
from mobilevision.tasks.registry import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="/tmp/segbench/data/segment_race_900.yaml")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = build_dataset(args.data, task="segment", split="train", transform=segmentation_transforms(True, size=96))
    for small_classifier in (False, True):
        torch.manual_seed(0)
        model = build_model("deeplabv3_mobilenet_v2", width=0.5, num_classes=len(dataset.class_names),
                            deeplab={"decoder": True}).train()
        if small_classifier:
            torch.nn.init.normal_(model.head.classifier.weight, std=0.01)
            torch.nn.init.zeros_(model.head.classifier.bias)
        optimizer = build_optimizer(model, name="sgd", lr=0.02, momentum=0.9, nesterov=True, weight_decay=4e-5)
        loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True, collate_fn=segmentation_collate,
                                             generator=torch.Generator().manual_seed(0))
        losses = []
        for images, masks in itertools.islice(loader, args.steps):
            loss = sum(model(images, masks).values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        name = "classifier normal(0, 0.01)" if small_classifier else "classifier Kaiming fan-out (as built)"
        print(f"{name}: first loss {losses[0]:.3f}, mean of steps 1-10 {sum(losses[:10]) / 10:.3f}, "
              f"mean of the last 10 {sum(losses[-10:]) / 10:.3f}", flush=True)


if __name__ == "__main__":
    main()
