"""SSDLite detection as one Task: COCO / VOC boxes in, COCO mAP (and VOC mAP) out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from mobilevision.datasets.coco_joint import DetectionWithClassMaps
from mobilevision.datasets.collate import detection_collate
from mobilevision.datasets.detection_base import DetectionDataset
from mobilevision.datasets.resolve import resolve_data
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.base import SingleTask, TrainedModel
from mobilevision.tasks.detect.anchor_check import checked_anchor_options
from mobilevision.tasks.detect.coco_eval import save_coco_results
from mobilevision.tasks.detect.config import RECIPES, DetectTrainConfig
from mobilevision.tasks.detect.evaluator import DetectionEvaluator, evaluator_factory
from mobilevision.tasks.detect.model import SSDLite
from mobilevision.tasks.detect.options import SSDLiteOptions
from mobilevision.tasks.detect.predictor import DetectPredictor, describe_detections
from mobilevision.tasks.detect.relabel import Relabelled, label_lookup
from mobilevision.visualize.compose import Overlay
from mobilevision.visualize.draw import draw_detections

SHOWN_IN_LINE = 10  # detections named in a predict line


class DetectTask(SingleTask):
    name = "detect"
    title = "SSDLite object detection: train, val, predict"
    description = ("SSDLite on MobileNetV2 / MobileNetV1 for COCO-form, VOC-form or the built-in dataset (its COCO "
                   "view). val: pycocotools' COCOeval in original-image coordinates (and VOC07 / VOC12 mAP on VOC "
                   "data), predictions.json and PR_curve.png; predict: annotated copies and detections.json.")
    config_class = DetectTrainConfig
    recipes = RECIPES
    data_layouts = ("a COCO folder (annotations/instances_{train,val}.json), a VOC folder, a dataset YAML or a "
                    "built-in dataset")
    main_metric = "mAP"
    collate = staticmethod(detection_collate)
    predictions_file = "detections.json"
    background_classes = 1
    bench_imgsz = 320  # torchvision's SSDLite anchor's; the paper's 300 is not a multiple of 32
    timed_from_frames = True
    default_mean, default_std = SSDLite.mean, SSDLite.std  # TF trained SSDLite on [-1, 1] inputs
    fresh_modules = ("aux_segment.",)

    def fresh_model_kwargs(self, *, width: float, num_classes: int, imgsz: int) -> dict:
        return {"width": width, "num_classes": num_classes, "imgsz": imgsz}

    def training_data(self, config: DetectTrainConfig, *, preprocessing: Mapping):
        transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
        train_set = self._training_set(config, transform=detection_transforms(True, augment=config.augment,
                                                                              **transform))
        val_set = self.dataset(config.data, split="val", transform=detection_transforms(False, **transform))
        if list(val_set.class_names) != list(train_set.class_names):
            raise MobileVisionError(f"--data {config.data}: the val split's classes {val_set.class_names} differ from "
                                    f"the train split's {train_set.class_names}; both must list the same categories")
        return train_set, val_set

    def model_kwargs(self, config: DetectTrainConfig, *, train_set, class_names) -> dict:
        kwargs = {"width": config.width, "num_classes": len(class_names) + self.background_classes,
                  "imgsz": config.imgsz, "ssdlite": as_kwargs(options_of(SSDLiteOptions, config)),
                  "freeze_bn": config.freeze_bn or config.freeze_backbone}
        if config.aux_segment:
            kwargs |= {"aux_segment_classes": len(train_set.segment_class_names),
                       "aux_segment_weight": config.aux_segment}
        kwargs["ssdlite"] = checked_anchor_options(
            data=config.data, imgsz=config.imgsz, model=config.model, model_kwargs=kwargs,
            train_set=train_set if isinstance(train_set, DetectionDataset) else None)
        return kwargs

    def weights_options(self, model_kwargs: Mapping) -> dict:
        """The anchors, losses and NMS the detector was built with."""
        return as_kwargs(options_of(SSDLiteOptions, model_kwargs.get("ssdlite")))

    def _training_set(self, config: DetectTrainConfig, *, transform):
        """The train split's samples; with --aux-segment each target also holds its class map, which
        only COCO-form data (boxes and masks in one instances JSON) provides."""
        if not config.aux_segment:
            return self.dataset(config.data, split="train", transform=transform)
        if resolve_data(config.data).view("detect").format != "coco":
            raise MobileVisionError(f"--aux-segment needs masks, which --data {config.data} (not COCO-form) lacks; "
                                    "use COCO or the built-in dataset, or leave --aux-segment at 0")
        from mobilevision.datasets.build import build_dataset

        return DetectionWithClassMaps(build_dataset(config.data, task="joint", split="train", transform=transform))

    def eval_transform(self, *, size: int, preprocessing: Mapping):
        return detection_transforms(False, size=size, mean=preprocessing["mean"], std=preprocessing["std"])

    def fit_to_data(self, dataset, trained: TrainedModel, *, data: str) -> TrainedModel:
        """A detector labelling boxes with COCO's category ids (torchvision's) has its labels
        renumbered into the data's when its classes are the data's with the unused ids between."""
        lookup = label_lookup(trained.class_names, dataset.class_names)
        if lookup is None:
            return super().fit_to_data(dataset, trained, data=data)
        return replace(trained, network=Relabelled(trained.network, lookup=lookup),
                       class_names=list(dataset.class_names))

    def make_evaluator(self, data: str, class_names, *, imgsz: int, split: str = "val"):
        return evaluator_factory(data, list(class_names), imgsz=imgsz, split=split)

    def val_metrics(self, evaluator: DetectionEvaluator, *, dataset) -> dict:
        return {"images": len(evaluator.targets), "per_class_AP": evaluator.per_class()}

    def save_val_outputs(self, evaluator: DetectionEvaluator, run_dir: Path) -> None:
        save_coco_results(evaluator.results, run_dir / "predictions.json")
        evaluator.plot(run_dir)

    def predictor(self, trained: TrainedModel, *, imgsz: int, device, min_conf: float = 0.0) -> DetectPredictor:
        return DetectPredictor(trained, imgsz=imgsz, device=device, min_conf=min_conf)

    def describe(self, result, class_names: Sequence[str], **options) -> dict:
        return {"detections": describe_detections(result, class_names=class_names)}

    def headline(self, described: dict) -> str | None:
        if "detections" not in described:
            return None
        return (", ".join(f"{d['name']} {d['score']:.2f}" for d in described["detections"][:SHOWN_IN_LINE])
                or "no detections")

    def overlays(self, result, class_names: Sequence[str]) -> list[Overlay]:
        return [Overlay(depth=1, paint=partial(draw_detections, boxes=result["boxes"], labels=result["labels"],
                                               scores=result["scores"], class_names=class_names))]

    def entries(self, result, class_names: Sequence[str]) -> list[dict]:
        return describe_detections(result, class_names=class_names)

