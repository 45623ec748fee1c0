"""Image classification as one Task: class folders in, top-1 / top-5 out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from mobilevision.datasets.collate import classification_collate
from mobilevision.datasets.transforms import classification_transforms
from mobilevision.engine.checkpoint import is_checkpoint
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.base import Flag, SingleTask, TrainedModel
from mobilevision.tasks.classify.background import WithoutBackground, has_background_class
from mobilevision.tasks.classify.config import RECIPES, ClassifyTrainConfig
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.classify.options import ClassifierOptions
from mobilevision.tasks.classify.predictor import ClassifyPredictor, top_classes
from mobilevision.visualize.compose import Overlay

SHOWN = 3  # classes drawn per image


class ClassifyTask(SingleTask):
    name = "classify"
    title = "image classification: train, val, predict"
    description = ("Image classification on class folders (root/train/<class>/, root/val/<class>/) or the built-in "
                   "dataset.")
    config_class = ClassifyTrainConfig
    recipes = RECIPES
    data_layouts = ("a class-folder dataset (train/<class>/, val/<class>/), a dataset YAML or a built-in dataset "
                    "folder")
    main_metric = "top1"
    collate = staticmethod(classification_collate)
    val_batch = 64
    predict_flags = (Flag("topk", 5, "classes listed per image"),)

    def load(self, weights: str, *, model: str | None = None, width: float = 1.0) -> TrainedModel:
        """A `classify train` checkpoint, or published weights of `model` (default mobilenet_v2) at `width`."""
        if is_checkpoint(weights):
            return super().load(weights)
        from mobilevision.tasks.classify.published import load_published

        model = model or "mobilenet_v2"
        self.check_model(model)
        return load_published(weights, model=model, width=width)

    def training_data(self, config: ClassifyTrainConfig, *, preprocessing: Mapping):
        transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
        return (self.dataset(config.data, split="train", transform=classification_transforms(
                    True, min_crop_area=config.min_crop_area, **transform)),
                self.dataset(config.data, split="val", transform=classification_transforms(False, **transform)))

    def model_kwargs(self, config: ClassifyTrainConfig, *, train_set, class_names) -> dict:
        return {"width": config.width, "num_classes": len(class_names),
                "classifier": as_kwargs(options_of(ClassifierOptions, config)),
                "freeze_bn": config.freeze_bn or config.freeze_backbone}

    def weights_options(self, model_kwargs: Mapping) -> dict:
        return as_kwargs(options_of(ClassifierOptions, model_kwargs.get("classifier")))

    def eval_transform(self, *, size: int, preprocessing: Mapping):
        return classification_transforms(False, size=size, mean=preprocessing["mean"], std=preprocessing["std"])

    def check_classes(self, dataset, trained: TrainedModel, *, data: str) -> None:
        # Published weights name classes in words, ImageNet folders by synset: there only the count
        # can be checked (folders sort into torchvision's class order).
        if not trained.publisher_names:
            super().check_classes(dataset, trained, data=data)
        elif len(dataset.class_names) != len(trained.class_names):
            raise MobileVisionError(f"--data {data}: its {len(dataset.class_names)} classes are not the "
                                    f"{len(trained.class_names)} classes the weights were trained on")

    def fit_to_data(self, dataset, trained: TrainedModel, *, data: str) -> TrainedModel:
        """TF-slim's 1001-class weights on folders of the 1000 classes: their background logit
        dropped, their names the rest."""
        if trained.publisher_names and has_background_class(trained.class_names,
                                                            data_classes=len(dataset.class_names)):
            trained = replace(trained, network=WithoutBackground(trained.network),
                              class_names=trained.class_names[1:])
        return super().fit_to_data(dataset, trained, data=data)

    def make_evaluator(self, data: str, class_names, *, imgsz: int, split: str = "val"):
        return lambda: ClassificationEvaluator(class_names)

    def val_metrics(self, evaluator: ClassificationEvaluator, *, dataset) -> dict:
        return {"images": int(evaluator.confusion.sum())}  # readable images only: the ones counted

    def predictor(self, trained: TrainedModel, *, imgsz: int, device, min_conf: float = 0.0) -> ClassifyPredictor:
        return ClassifyPredictor(trained, imgsz=imgsz, device=device)

    def describe(self, result, class_names: Sequence[str], *, topk: int = 5, **options) -> dict:
        return {"top": top_classes(result, class_names=class_names, k=topk)}

    def headline(self, described: dict) -> str | None:
        if "top" not in described:
            return None
        return ", ".join(f"{top['name']} {top['score']:.3f}" for top in described["top"])

    def overlays(self, result, class_names: Sequence[str]) -> list[Overlay]:
        rows = [(f"{top['name']} {top['score']:.0%}", None) for top in top_classes(result, class_names=class_names,
                                                                                   k=SHOWN)]
        return [Overlay(depth=2, corner="top-left", rows=rows)]

    def entries(self, result, class_names: Sequence[str]) -> list[dict]:
        return top_classes(result, class_names=class_names, k=SHOWN)
