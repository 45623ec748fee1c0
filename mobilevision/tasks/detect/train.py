"""`mobilevision detect train`: SSDLite on COCO, VOC or the built-in dataset through the engine's `fit`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from mobilevision.backbones.pretrained import resolve_weights
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.coco import load_coco
from mobilevision.datasets.collate import detection_collate
from mobilevision.datasets.multitask import DetectionWithClassMaps
from mobilevision.datasets.resolve import resolve_data
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.loading import is_checkpoint
from mobilevision.tasks.detect.config import DetectTrainConfig
from mobilevision.tasks.detect.evaluator import DetectionEvaluator
from mobilevision.tasks.detect.model import SSDLite
from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.engine.loop import seed_everything
from mobilevision.engine.run_setup import fit_in_run_dir, require_data, require_samples
from mobilevision.tasks.registry import build_model, model_entry
from mobilevision.engine.weights import load_backbone_weights, load_weights

DATA_LAYOUTS = "a COCO folder (annotations/instances_{train,val}.json), a VOC folder, a dataset YAML or a built-in dataset"


def detection_model(name: str) -> None:
    if model_entry(name).task != "detect":
        raise MobileVisionError(f"--model {name} is a {model_entry(name).task} model; detect needs "
                                "ssdlite_mobilenet_v2 or ssdlite_mobilenet_v1")


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


def initial_preprocessing(config: DetectTrainConfig) -> dict:
    """Mean, std and size the network is fed with: SSDLite's own [-1, 1] scaling, unless the
    weights it starts from were trained with other statistics (torchvision's ImageNet ones, or a
    classifier checkpoint's)."""
    mean, std = SSDLite.mean, SSDLite.std
    if config.weights or (config.weights_backbone and is_checkpoint(config.weights_backbone)):
        saved = read_checkpoint(config.weights or config.weights_backbone)["preprocessing"]
        mean, std = saved["mean"], saved["std"]
    elif config.weights_backbone:
        _, entry = resolve_weights(config.weights_backbone)
        if entry is not None:
            mean, std = entry.mean, entry.std
    return {"mean": list(mean), "std": list(std), "input_size": config.imgsz}


def load_initial_weights(model: SSDLite, config: DetectTrainConfig) -> None:
    """--weights (a detector of this suite; its head too when the classes match) or else
    --weights-backbone (ImageNet weights into the backbone only)."""
    if config.weights:
        checkpoint = read_checkpoint(config.weights)
        if checkpoint["task"] != "detect":
            raise MobileVisionError(f"--weights {config.weights}: a {checkpoint['task']} checkpoint; for a classifier's "
                                    "backbone use --weights-backbone")
        load_weights(model, config.weights, include_head=checkpoint["model_kwargs"]["num_classes"] == model.num_classes)
    elif config.weights_backbone:
        load_backbone_weights(model.backbone, config.weights_backbone)


def training_set(config: DetectTrainConfig, *, transform):
    """The train split's detection samples; with --aux-segment each target also holds its class map,
    which only COCO-form data (boxes and masks in one instances JSON) provides."""
    if not config.aux_segment:
        return build_dataset(config.data, task="detect", split="train", transform=transform)
    if resolve_data(config.data).view("detect").format != "coco":
        raise MobileVisionError(f"--aux-segment needs masks, which --data {config.data} (not COCO-form) lacks; "
                                "use COCO or the built-in dataset, or leave --aux-segment at 0")
    return DetectionWithClassMaps(build_dataset(config.data, task="multitask", split="train", transform=transform))


def train_detector(config: DetectTrainConfig, *, resume_from: dict | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics."""
    require_data(config, expected=DATA_LAYOUTS)
    detection_model(config.model)
    preprocessing = resume_from["preprocessing"] if resume_from else initial_preprocessing(config)
    transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
    train_transform = detection_transforms(True, augment=config.augment, **transform)
    train_set = training_set(config, transform=train_transform)
    val_set = build_dataset(config.data, task="detect", split="val", transform=detection_transforms(False, **transform))
    require_samples(config, train_set=train_set, val_set=val_set)
    class_names = list(train_set.class_names)
    if list(val_set.class_names) != class_names:
        raise MobileVisionError(f"--data {config.data}: the val split's classes {val_set.class_names} differ from "
                                f"the train split's {class_names}; both must list the same categories")

    model_kwargs = {"width": config.width, "num_classes": len(class_names) + 1, "imgsz": config.imgsz,
                    "anchor_layout": config.anchor_layout,
                    "anchor_scales": (config.anchor_min_scale, config.anchor_max_scale), "freeze_bn": config.freeze_bn or config.freeze_backbone,
                    "class_loss": config.class_loss,
                    "match_iou": config.match_iou, "nms_iou": config.nms_iou}  # num_classes counts the background
    if config.aux_segment:
        model_kwargs |= {"aux_segment_classes": len(train_set.segment_class_names),
                         "aux_segment_weight": config.aux_segment}
    seed_everything(config.seed)  # the same initial weights on every rank and every rerun
    model = build_model(config.model, **model_kwargs)
    if resume_from is None:
        load_initial_weights(model, config)
    return fit_in_run_dir(model, task="detect", config=config, model_kwargs=model_kwargs, class_names=class_names,
                          preprocessing=preprocessing, train_set=train_set, val_set=val_set,
                          collate_fn=detection_collate,
                          make_evaluator=evaluator_factory(config.data, class_names, imgsz=config.imgsz),
                          resume_from=resume_from, freeze_backbone=config.freeze_backbone)
