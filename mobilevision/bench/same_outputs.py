"""`--compare torchvision` on published weights: whether our model of the published file computes
what torchvision's own model computes with that same file, checked before either is timed, so
that the ratio compares two implementations of one network, not two networks."""

from __future__ import annotations

import torch

from mobilevision.bench.cases import BenchCase
from mobilevision.bench.runtimes import TORCHVISION_BUILDERS

# Both sum the same float32 products, maybe in another order: differences are rounding, about
# 1e-7 of the outputs' magnitude; a wrong weight or layer shows at 1e-2 of it and above.
TOLERANCE = 1e-4  # raw outputs (times their largest magnitude, when above 1) and detection scores
BOX_TOLERANCE = 1e-3  # detection boxes, in pixels of the input


def torchvision_raw(model: torch.nn.Module, images: torch.Tensor, *, name: str) -> tuple[torch.Tensor, ...]:
    """torchvision's `name` on normalised images (N, 3, S, S) -> its raw outputs: a detector's
    (box regression (N, A, 4), class logits (N, A, C)) before decoding, a segmenter's logits
    (N, K, S, S) (auxiliary head left out), a classifier's logits (N, C)."""
    family = TORCHVISION_BUILDERS[name][0]
    if family == "detection":
        head = model.head(list(model.backbone(images).values()))
        return head["bbox_regression"], head["cls_logits"]
    if family == "segmentation":
        return (model(images)["out"],)
    return (model(images),)


def same_detections(ours: list[dict], theirs: list[dict]) -> bool:
    """The same boxes in the same order (both label with COCO ids), scores and boxes within tolerance."""
    return all(len(mine["labels"]) == len(reference["labels"]) and torch.equal(mine["labels"], reference["labels"])
               and torch.allclose(mine["scores"], reference["scores"], atol=TOLERANCE, rtol=0)
               and torch.allclose(mine["boxes"], reference["boxes"], atol=BOX_TOLERANCE, rtol=0)
               for mine, reference in zip(ours, theirs, strict=True))


@torch.no_grad()
def compare_outputs(case: BenchCase, torchvision_model: torch.nn.Module, *, name: str, seed: int) -> dict:
    """{"outputs_max_abs_diff", "same_detections", "same_outputs"}: ours (the case's checkpoint,
    eager PyTorch) against torchvision's model `name` on 2 seeded images (2, 3, S, S) in [0, 1] at the case's size S,
    normalised as the weights say: the largest |difference| of the raw outputs; for a detector
    whether the final detections are the same (torchvision's own transform and post-processing
    against ours; its resize is the identity at its own size), else None; and whether the raw
    outputs are within TOLERANCE (relative to their magnitude) and the detections the same."""
    from mobilevision.tasks.registry import load_checkpoint

    model, checkpoint = load_checkpoint(case.checkpoint)
    images = torch.rand(2, 3, case.imgsz, case.imgsz, generator=torch.Generator().manual_seed(seed))
    mean, std = (torch.tensor(checkpoint["preprocessing"][key])[:, None, None] for key in ("mean", "std"))
    normalised = (images - mean) / std
    ours = model.raw_outputs(normalised)
    ours = tuple(ours) if isinstance(ours, (tuple, list)) else (ours,)
    theirs = torchvision_raw(torchvision_model, normalised, name=name)
    if [mine.shape for mine in ours] != [reference.shape for reference in theirs]:
        return {"outputs_max_abs_diff": float("inf"), "same_detections": None, "same_outputs": False}
    difference = max(float((mine - reference).abs().max()) for mine, reference in zip(ours, theirs, strict=True))
    magnitude = max(float(reference.abs().max()) for reference in theirs)
    detections = None
    if TORCHVISION_BUILDERS[name][0] == "detection":
        detections = same_detections(model(normalised), torchvision_model(list(images)))
    return {"outputs_max_abs_diff": difference, "same_detections": detections,
            "same_outputs": difference <= TOLERANCE * max(1.0, magnitude) and detections is not False}
