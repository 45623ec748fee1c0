"""The multi-task model as one Task: classification, detection and segmentation from one backbone
pass, on COCO-form data; each head's results are its single task's (registry.get_task)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mobilevision.backbones.key_mapping import load_strict
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.engine.weights import load_backbone_weights
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.base import Flag, Task, TrainedModel
from mobilevision.tasks.classify.options import ClassifierOptions
from mobilevision.tasks.detect.anchor_check import checked_anchor_options
from mobilevision.tasks.detect.coco_eval import save_coco_results
from mobilevision.tasks.detect.options import SSDLiteOptions
from mobilevision.tasks.multitask.config import RECIPES, MultitaskTrainConfig
from mobilevision.tasks.multitask.dataset import MultiTaskDataset, multitask_collate
from mobilevision.tasks.multitask.evaluator import MultiTaskEvaluator, evaluator_factory
from mobilevision.tasks.multitask.model import MultiTaskModel, task_list
from mobilevision.tasks.multitask.predictor import MultiTaskPredictor
from mobilevision.tasks.segment.options import DeepLabOptions, weights_head_options

if TYPE_CHECKING:
    from mobilevision.tasks.starting_point import StartingPoint


class MultitaskTask(Task):
    name = "multitask"
    title = "classify + detect + segment from one backbone pass: train, val, predict, assemble"
    description = ("One MobileNet backbone pass feeding the classifier, SSDLite and DeepLabv3 heads, on COCO-form "
                   "data (COCO: boxes and masks; the built-in dataset: image labels too). val: every task's "
                   "metrics (top-1 / top-5, COCO's 12 numbers, mIoU) and their mean, `score`.")
    config_class = MultitaskTrainConfig
    recipes = RECIPES
    data_layouts = ("a COCO folder or YAML (boxes and masks in one instances JSON) or a built-in dataset folder "
                    "(`mobilevision data synth`)")
    main_metric = "score"
    collate = staticmethod(multitask_collate)
    predict_flags = (Flag("topk", 3, "classes listed per image"),)
    bench_imgsz = 320
    other_sources = " or `mobilevision multitask assemble`"

    def fresh_model_kwargs(self, *, width: float, num_classes: int, imgsz: int) -> dict:
        return {"width": width, "num_classes": num_classes, "imgsz": imgsz}

    def training_data(self, config: MultitaskTrainConfig, *, preprocessing: Mapping):
        transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
        return (self.dataset(config.data, split="train",
                             transform=detection_transforms(True, augment=config.augment, **transform)),
                self.dataset(config.data, split="val", transform=detection_transforms(False, **transform)))

    def training_classes(self, train_set: MultiTaskDataset, config: MultitaskTrainConfig) -> dict[str, list[str]]:
        tasks = task_list(config.tasks)
        missing = [task for task in tasks if task not in train_set.tasks]
        if missing:
            raise MobileVisionError(f"--data {config.data} has no {'/'.join(missing)} labels; it serves "
                                    f"{','.join(train_set.tasks)}, so pass --tasks with those")
        return {task: list(train_set.class_names[task]) for task in tasks}

    def model_kwargs(self, config: MultitaskTrainConfig, *, train_set, class_names) -> dict:
        from mobilevision.tasks.registry import get_task

        kwargs = {
            "width": config.width, "tasks": list(class_names), "imgsz": config.imgsz,
            # Detection counts the background class in num_classes; its names leave it out.
            "num_classes": {task: len(names) + get_task(task).background_classes
                            for task, names in class_names.items()},
            "loss_weights": {task: getattr(config, f"{task}_loss_weight") for task in class_names},
            "ssdlite": as_kwargs(options_of(SSDLiteOptions, config)),
            "deeplab": as_kwargs(options_of(DeepLabOptions, config)),
            "classifier": as_kwargs(options_of(ClassifierOptions, config)),
            "freeze_bn": config.freeze_bn or config.freeze_backbone,
            "classify_from_segment": config.classify_from_segment,
        }
        if "detect" in class_names:
            kwargs["ssdlite"] = checked_anchor_options(data=config.data, imgsz=config.imgsz, model=config.model,
                                                       model_kwargs=kwargs, detector_of=lambda built: built.tasks["detect"])
        return kwargs

    def weights_options(self, model_kwargs: Mapping) -> dict:
        """The three heads' options the model was built with (not its class weights: weights_head_options)."""
        return {**as_kwargs(options_of(SSDLiteOptions, model_kwargs.get("ssdlite"))),
                **weights_head_options(model_kwargs.get("deeplab")),
                **as_kwargs(options_of(ClassifierOptions, model_kwargs.get("classifier")))}

    def load_initial_weights(self, model: MultiTaskModel, config: MultitaskTrainConfig, *,
                             start: StartingPoint | None) -> None:
        """--weights: a multi-task checkpoint with the same heads and classes, loaded whole (the
        heads' class counts differ per task, so none is re-initialised); else --weights-backbone."""
        if start is not None:
            load_strict(model, start.state_dict(), source=start.path)
        elif config.weights:
            raise MobileVisionError(f"--weights {config.weights}: no multi-task checkpoint; for a classifier's "
                                    "backbone use --weights-backbone, or combine task checkpoints with "
                                    "`multitask assemble`")
        elif config.weights_backbone:
            load_backbone_weights(model.backbone, config.weights_backbone)

    def dataset(self, data: str, *, split: str, transform=None) -> MultiTaskDataset:
        return MultiTaskDataset(build_dataset(data, task="joint", split=split, transform=transform))

    def eval_transform(self, *, size: int, preprocessing: Mapping):
        # The square resize the model trains on, with every task's targets.
        return detection_transforms(False, size=size, mean=preprocessing["mean"], std=preprocessing["std"])

    def check_classes(self, dataset, trained: TrainedModel, *, data: str) -> None:
        for task, names in trained.names_per_task().items():
            found = list(dataset.class_names.get(task, []))
            if found != names:
                raise MobileVisionError(f"--data {data}: its {task} classes {found[:5]} are not the {len(names)} the "
                                        f"weights were trained on ({names[:5]}); evaluate on the dataset they were "
                                        "trained for")

    def make_evaluator(self, data: str, class_names, *, imgsz: int, split: str = "val"):
        return evaluator_factory(data, class_names, imgsz=imgsz, split=split)

    def save_val_outputs(self, evaluator: MultiTaskEvaluator, run_dir: Path) -> None:
        evaluator.plot(run_dir)
        if "detect" in evaluator.evaluators:
            save_coco_results(evaluator.evaluators["detect"].results, run_dir / "predictions.json")

    def predictor(self, trained: TrainedModel, *, imgsz: int, device, min_conf: float = 0.0) -> MultiTaskPredictor:
        return MultiTaskPredictor(trained, imgsz=imgsz, device=device, min_conf=min_conf)

