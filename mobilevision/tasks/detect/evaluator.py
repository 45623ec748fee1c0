"""Detection metrics for the engine: COCO's 12 numbers (pycocotools), VOC07 / VOC12 mAP on VOC data,
gathered across torchrun ranks, with a precision-recall plot.

Evaluation is in original-image coordinates: the model sees a (S, S) resize of each image and
predicts in those pixels, and the eval transform resized the ground truth the same way, so both
are scaled back by each target's `orig_size` before they are compared (the areas that split
COCO's small / medium / large then mean what they mean on the dataset).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist

from mobilevision.datasets.coco import load_coco
from mobilevision.datasets.resolve import resolve_data
from mobilevision.tasks.detect.coco_eval import (
    coco_from_targets,
    coco_metrics,
    coco_results,
    per_class_ap,
    run_coco_eval,
)
from mobilevision.tasks.detect.postprocess import rescale_boxes
from mobilevision.tasks.detect.voc_eval import evaluate_voc
from mobilevision.visualize.plots import plot_pr_curves


def gather_lists(items: list) -> list:
    """Every rank's list concatenated in rank order, on every rank (no-op on one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return items
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]


def _cpu(detections: dict, *, keys: Sequence[str], from_size: Sequence[int], to_size: Sequence[int]) -> dict:
    """The `keys` of a prediction / target dict as CPU tensors, boxes scaled to `to_size`."""
    out = {}
    for key in keys:
        value = torch.as_tensor(detections[key]).detach().cpu()
        out[key] = rescale_boxes(value.float(), from_size=from_size, to_size=to_size) if key.endswith("boxes") else value
    return out


class DetectionEvaluator:
    """Implements engine.Evaluator for SSDLite: update(predictions, targets) with the model's eval
    output (one {"boxes" (D, 4), "scores", "labels"} per image, in (S, S) input pixels) and the
    detection collate's targets; compute() -> the 12 COCO numbers (+ voc07_mAP, voc12_mAP)."""

    main_metric = "mAP"

    def __init__(self, class_names: Sequence[str], *, input_size: int, voc: bool = False,
                 category_ids: Sequence[int] | None = None) -> None:
        """category_ids: the dataset's COCO category id of labels 1..C (results files use them)."""
        self.class_names = list(class_names)
        self.input_size = (input_size, input_size)
        self.voc = voc
        self.category_ids = list(category_ids) if category_ids is not None else None
        self.predictions: list[dict] = []
        self.targets: list[dict] = []
        self.results: list[dict] = []  # COCO results format, filled by compute()
        self.ground_truth = None
        self.coco_eval = None

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        for prediction, target in zip(predictions, targets):
            size = tuple(int(v) for v in target["orig_size"])
            self.predictions.append(_cpu(prediction, keys=("boxes", "scores", "labels"), from_size=self.input_size,
                                         to_size=size))
            truth = _cpu(target, keys=("boxes", "labels", "difficult", "crowd_boxes", "crowd_labels"),
                         from_size=self.input_size, to_size=size)
            self.targets.append({**truth, "image_id": int(target["image_id"]), "orig_size": size})

    def compute(self) -> dict[str, float]:
        # Every rank gathers every image, so all ranks return the same numbers as one process would.
        self.predictions, self.targets = gather_lists(self.predictions), gather_lists(self.targets)
        num_classes = len(self.class_names) + 1
        self.ground_truth = coco_from_targets(self.targets, num_classes=num_classes, category_ids=self.category_ids)
        image_ids = [target["image_id"] for target in self.targets]
        self.results = coco_results(self.predictions, image_ids, category_ids=self.category_ids)
        self.coco_eval = run_coco_eval(self.ground_truth, self.results)
        metrics = coco_metrics(self.coco_eval)
        if self.voc:
            for metric in ("voc07", "voc12"):
                voc = evaluate_voc(self.predictions, self.targets, num_classes=num_classes, metric=metric)
                metrics[f"{metric}_mAP"] = voc["mAP"]
        return metrics

    def per_class(self) -> dict[str, dict]:
        """Per-class AP, AP50 and instances (coco_eval.per_class_ap) of the last compute()."""
        return per_class_ap(self.ground_truth, self.coco_eval, self.class_names, category_ids=self.category_ids)

    def plot(self, folder: Path) -> None:
        """PR_curve.png: precision against recall at IoU 0.5 per class (all areas, 100 detections),
        and the class mean at IoU 0.5 and averaged over 0.5:0.95, from COCOeval's precision array."""
        if self.coco_eval is None:
            return
        # COCOeval's precision (IoU 10, recall 101, class K) over all areas at 100 detections.
        plot_pr_curves(self.coco_eval.eval["precision"][:, :, :, 0, -1], self.coco_eval.params.recThrs,
                       self.class_names, folder / "PR_curve.png")


def category_ids(data: str, *, split: str) -> list[int] | None:
    """The COCO category id of each label 1..C on COCO data (the readers number categories in
    ascending id order), so results files carry the dataset's own ids; None for other formats."""
    spec = resolve_data(data).view("detect")
    if spec.format != "coco":
        return None
    return sorted(load_coco(spec.splits[split]["annotations"]).cats)


def evaluator_factory(data: str, class_names: list[str], *, imgsz: int,
                      split: str = "val") -> Callable[[], DetectionEvaluator]:
    """A maker of fresh evaluators for `data`'s split (one per validation pass): COCO's numbers
    always, VOC07 / VOC12 mAP as well on VOC-form data. The annotations are read once, here."""
    voc = resolve_data(data).view("detect").format == "voc"
    return partial(DetectionEvaluator, class_names, input_size=imgsz, voc=voc,
                   category_ids=category_ids(data, split=split))
