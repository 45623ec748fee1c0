"""The Task interface: what one task is, in one object. The engine's train, validate and predict
runners, export, bench, the demos and the command line all reach a task through it, found by
name in the registry (registry.py); none of them keeps a dict keyed by task name.

A task is: its training config and recipes; its models (which registered models it trains, how a
checkpoint of it loads); its training data, eval transform and collate; its evaluator, main
metric and what `val` reports; its frame predictor and how its results are described (JSON),
drawn (overlays) and saved; its export outputs; and the facts bench needs to time it.
"""

from __future__ import annotations

import dataclasses
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from mobilevision.conventions import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.datasets.build import build_dataset
from mobilevision.engine.config import Recipe, TrainConfig
from mobilevision.engine.distributed import dist_info
from mobilevision.engine.evaluation import Evaluator
from mobilevision.engine.loop import seed_everything
from mobilevision.engine.weights import initial_preprocessing, load_backbone_weights, read_weights
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.checkpoint_file import check_fit
from mobilevision.visualize.compose import Overlay, compose

if TYPE_CHECKING:
    from mobilevision.tasks.starting_point import StartingPoint


@dataclass
class TrainedModel:
    """A trained network ready to run, with what its outputs mean and how its inputs are made."""

    network: nn.Module  # eval mode: the task model, or a runtime's wrapper with its eval interface
    task: str
    model_name: str
    class_names: list[str] | dict[str, list[str]]  # a multi-task model's: per task
    preprocessing: dict  # {"mean": [3 floats], "std": [3 floats], "input_size": int}
    weights: str  # the file or name it came from
    runtime: str = "torch"  # what runs the network, as the demos show it
    from_checkpoint: bool = True  # False: published weights read without a checkpoint of ours (no export)
    publisher_names: bool = False  # class names in the publisher's words, which a dataset's folders may not use

    def names_per_task(self) -> dict[str, list[str]]:
        """{task: class names}: a single-task model's under its own task."""
        if isinstance(self.class_names, Mapping):
            return {task: list(names) for task, names in self.class_names.items()}
        return {self.task: list(self.class_names)}


@dataclass(frozen=True)
class TrainingSetup:
    """What a task hands the engine's training runner: the model to train, what its checkpoint
    records (builder kwargs, class names, preprocessing), the data and the evaluator."""

    model: nn.Module
    model_kwargs: dict
    class_names: list[str] | dict[str, list[str]]
    preprocessing: dict
    train_set: Dataset
    val_set: Dataset
    make_evaluator: Callable[[], Evaluator]


@dataclass(frozen=True)
class Flag:
    """A task's own option of `val` or `predict` (--multiscale, --topk): a keyword its runner hook takes."""

    name: str
    default: Any
    help: str


class Task(ABC):
    """The interface. Class attributes describe the task; methods do its part of each mode."""

    name: ClassVar[str]
    title: ClassVar[str]  # one line for --help
    description: ClassVar[str]  # the command group's --help text
    config_class: ClassVar[type[TrainConfig]]
    recipes: ClassVar[dict[str, Recipe]]
    data_layouts: ClassVar[str]  # the --data it reads, for help texts and errors
    main_metric: ClassVar[str]  # the key of its metrics that picks best.pt and that bench reports
    collate: ClassVar[Callable]
    val_batch: ClassVar[int] = 16
    val_flags: ClassVar[tuple[Flag, ...]] = ()
    predict_flags: ClassVar[tuple[Flag, ...]] = ()
    predictions_file: ClassVar[str] = "predictions.json"
    background_classes: ClassVar[int] = 0  # classes the model has beyond its names (detection's background)
    bench_imgsz: ClassVar[int] = 224
    timed_from_frames: ClassVar[bool] = False  # bench times it end to end from camera frames (detection)
    default_mean: ClassVar[tuple[float, ...]] = IMAGENET_MEAN
    default_std: ClassVar[tuple[float, ...]] = IMAGENET_STD
    other_sources: ClassVar[str] = ""  # where else its checkpoints come from, for load's error
    fresh_modules: ClassVar[tuple[str, ...]] = ()  # key prefixes of training-only heads, never loaded from --weights

    # --- models -----------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        from mobilevision.tasks.registry import MODELS

        return [name for name, entry in MODELS.items() if entry.task == self.name]

    def check_model(self, name: str) -> None:
        """--model must name one of this task's registered models."""
        from mobilevision.tasks.registry import model_entry

        if (found := model_entry(name).task) != self.name:
            raise MobileVisionError(f"--model {name} is a {found} model; {self.name} needs one of "
                                    f"{', '.join(self.model_names())} (`mobilevision info`)")

    def load(self, weights: str, *, model: str | None = None, width: float = 1.0) -> TrainedModel:
        """A checkpoint of `mobilevision <task> train` in eval mode. (`model` and `width` name the
        network of published weights, which only the classifier loads today.)"""
        from mobilevision.tasks.registry import load_checkpoint

        network, checkpoint = load_checkpoint(weights)
        if checkpoint["task"] != self.name:
            raise MobileVisionError(f"--weights {weights}: a {checkpoint['task']} checkpoint; {self.name} needs one "
                                    f"written by `mobilevision {self.name} train`{self.other_sources}")
        return TrainedModel(network, task=self.name, model_name=checkpoint["model_name"],
                            class_names=checkpoint["class_names"], preprocessing=checkpoint["preprocessing"],
                            weights=str(weights), publisher_names="published" in checkpoint)

    def fresh_model_kwargs(self, *, width: float, num_classes: int, imgsz: int) -> dict:
        """Builder keyword arguments of a model of `num_classes` (background included) for `imgsz`."""
        return {"width": width, "num_classes": num_classes}

    # --- training ---------------------------------------------------------------------------

    def starting_point(self, weights: str | None) -> StartingPoint | None:
        """--weights as a checkpoint of this task (a published model's name: its converted file);
        None without --weights or for weights that are no checkpoint (a classifier's file, a URL)."""
        from mobilevision.tasks.starting_point import read_starting_point

        start = read_starting_point(weights)
        if start is not None and (found := start.checkpoint["task"]) != self.name:
            raise MobileVisionError(f"--weights {weights}: a {found} model; `mobilevision {self.name} train` starts "
                                    f"from a {self.name} checkpoint{self.other_sources} (from its backbone only: "
                                    "--weights-backbone)")
        return start

    def config_from_weights(self, config: TrainConfig, *, given: Collection[str]) -> TrainConfig:
        """The weights decide the architecture, as in torchvision's references and ultralytics: with
        --weights a checkpoint of this task or a published model's name, the options that make the
        network (model, width, input size, the head's options: weights_options) are the checkpoint's,
        over the recipe's and the defaults. Options given on the command line (`given`) keep their
        value: an --imgsz, an --nms-iou are honoured; --model naming another model is an error
        (training_setup), and an option that changes a tensor's shape fails the load in one line."""
        start = self.starting_point(config.weights)
        if start is None:
            return config
        kwargs = start.model_kwargs()
        fixed = {"model": start.model_name, "width": kwargs["width"],
                 "imgsz": start.checkpoint["preprocessing"]["input_size"], **self.weights_options(kwargs)}
        return dataclasses.replace(config, **{name: value for name, value in fixed.items() if name not in given})

    @abstractmethod
    def weights_options(self, model_kwargs: Mapping) -> dict:
        """The config fields that a model built with `model_kwargs` (its registered defaults
        included) fixes besides model, width and imgsz: its head's options."""

    def training_setup(self, config: TrainConfig, *, resume_from: dict | None) -> TrainingSetup:
        """The same steps for every task: normalisation (the weights' it starts from, or a resumed
        run's), the data, the model of its classes, its initial weights; the hooks below fill them.
        A checkpoint in --weights gives the model its builder arguments that no option sets."""
        from mobilevision.tasks.registry import build_model

        start = None if resume_from else self.starting_point(config.weights)
        if start is not None and config.model != start.model_name:
            raise MobileVisionError(f"--model {config.model}: --weights {config.weights} holds a {start.model_name}; "
                                    "leave --model out (the weights decide the model), or start from the "
                                    "backbone only with --weights-backbone")
        if resume_from is not None:
            preprocessing = resume_from["preprocessing"]
        elif start is not None:
            preprocessing = start.preprocessing(input_size=config.imgsz)
        else:
            preprocessing = initial_preprocessing(config, mean=self.default_mean, std=self.default_std)
        train_set, val_set = self.training_data(config, preprocessing=preprocessing)
        class_names = self.training_classes(train_set, config)
        model_kwargs = self.model_kwargs(config, train_set=train_set, class_names=class_names)
        if start is not None:
            model_kwargs = {**start.architecture(), **model_kwargs}
        seed_everything(config.seed)  # the same initial weights on every rank and every rerun
        model = build_model(config.model, **model_kwargs)
        if start is not None:  # a checkpoint of another width or model: what it holds, in one line
            check_fit(model, start.state_dict(), path=start.path, task=self.name, built=(config.model, model_kwargs),
                      record=(start.model_name, start.model_kwargs()), ignore_prefixes=self.fresh_modules,
                      other_classes=True, fix="use --weights of a matching checkpoint, or leave out --width and the "
                      "head's options: the weights decide them")
        if resume_from is None:
            self.load_initial_weights(model, config, start=start)
        return TrainingSetup(model=model, model_kwargs=model_kwargs, class_names=class_names,
                             preprocessing=preprocessing, train_set=train_set, val_set=val_set,
                             make_evaluator=self.make_evaluator(config.data, class_names, imgsz=config.imgsz))

    @abstractmethod
    def training_data(self, config: TrainConfig, *, preprocessing: Mapping) -> tuple[Dataset, Dataset]:
        """(train split with the training augmentation, val split with the eval transform)."""

    def training_classes(self, train_set: Dataset, config: TrainConfig) -> list[str] | dict[str, list[str]]:
        """The class names the checkpoint records."""
        return list(train_set.class_names)

    @abstractmethod
    def model_kwargs(self, config: TrainConfig, *, train_set: Dataset, class_names) -> dict:
        """The builder's keyword arguments for the model `config` trains, as the checkpoint records them."""

    def load_initial_weights(self, model: nn.Module, config: TrainConfig, *, start: StartingPoint | None) -> None:
        """--weights: the whole model (a checkpoint's, `start`, or a classifier's published file);
        on other classes all but its class layers, which keep their initialisation, and one line
        says which those are. Training-only heads (fresh_modules) start fresh: they only shape the
        gradients. Else --weights-backbone: ImageNet weights into the backbone only (--weights wins
        over a recipe's --weights-backbone: it holds a backbone already)."""
        from mobilevision.tasks.starting_point import load_starting_weights

        if start is not None:
            state_dict, source = start.state_dict(), start.path
        elif config.weights:
            state_dict, source, _ = read_weights(config.weights, backbone=model.backbone)
        else:
            if config.weights_backbone:
                load_backbone_weights(model.backbone, config.weights_backbone)
            return
        replaced = load_starting_weights(model, state_dict, weights=config.weights, source=str(source),
                                         fresh_prefixes=self.fresh_modules, background_classes=self.background_classes)
        if replaced is not None and dist_info().is_main:
            print(replaced, file=sys.stderr, flush=True)  # stdout is for --json

    # --- evaluation -------------------------------------------------------------------------

    @abstractmethod
    def eval_transform(self, *, size: int, preprocessing: Mapping):
        """The validation pipeline at `size` with the weights' normalisation."""

    def dataset(self, data: str, *, split: str, transform=None) -> Dataset:
        return build_dataset(data, task=self.name, split=split, transform=transform)

    def check_classes(self, dataset: Dataset, trained: TrainedModel, *, data: str) -> None:
        """The data's classes must be the ones the weights were trained on, in their order."""
        found, expected = list(dataset.class_names), list(trained.class_names)
        if found != expected:
            raise MobileVisionError(f"--data {data}: its classes {found[:5]} are not the {len(expected)} classes the "
                                    f"weights were trained on ({expected[:5]}); evaluate on the dataset they were "
                                    "trained for")

    def fit_to_data(self, dataset: Dataset, trained: TrainedModel, *, data: str) -> TrainedModel:
        """The weights as `val` runs them on `dataset`, whose classes must be theirs (check_classes)."""
        self.check_classes(dataset, trained, data=data)
        return trained

    @abstractmethod
    def make_evaluator(self, data: str, class_names, *, imgsz: int, split: str = "val") -> Callable[[], Evaluator]:
        """A maker of fresh evaluators (one per validation pass) for `data`'s split, whatever it
        must read of the data read once, here."""

    def val_network(self, network: nn.Module, **options) -> nn.Module:
        """The network `val` evaluates, given the task's val_flags (segment: multi-scale)."""
        return network

    def val_metrics(self, evaluator: Evaluator, *, dataset: Dataset) -> dict:
        """What `val` reports beside compute()'s metrics: at least "images", the images evaluated."""
        return {"images": len(dataset)}

    def save_val_outputs(self, evaluator: Evaluator, run_dir: Path) -> None:
        """The val run folder's files: the evaluator's plots (detection adds predictions.json)."""
        evaluator.plot(run_dir)

    # --- prediction -------------------------------------------------------------------------

    @abstractmethod
    def predictor(self, trained: TrainedModel, *, imgsz: int, device, min_conf: float = 0.0):
        """A FramePredictor (predictor.py) of the trained model; min_conf: the lowest `conf` it will get."""

    # The five below work on a predictor's whole result, {task: result}, for any task or mix of
    # tasks (a multi-task model's, several models' in a demo): each part by its own task.

    def describe_results(self, results: Mapping[str, Any], class_names: Mapping[str, Sequence[str]],
                         **options) -> dict:
        from mobilevision.tasks.registry import get_task

        described = {}
        for task, result in results.items():
            described.update(get_task(task).describe(result, class_names[task], **options))
        return described

    def overlays_of(self, results: Mapping[str, Any], class_names: Mapping[str, Sequence[str]]) -> list[Overlay]:
        from mobilevision.tasks.registry import get_task

        return [overlay for task, result in results.items()
                for overlay in get_task(task).overlays(result, class_names[task])]

    def draw_results(self, image: np.ndarray, results: Mapping[str, Any],
                     class_names: Mapping[str, Sequence[str]]) -> np.ndarray:
        return compose(image, self.overlays_of(results, class_names))

    def save_extras_of(self, results: Mapping[str, Any], *, run_dir: Path, stem: str, output: Path,
                       video: bool) -> dict:
        from mobilevision.tasks.registry import get_task

        extras = {}
        for task, result in results.items():
            extras.update(get_task(task).save_extras(result, run_dir=run_dir, stem=stem, output=output, video=video))
        return extras

    def headline_of(self, described: dict) -> str:
        from mobilevision.tasks.registry import get_task, single_tasks

        parts = [get_task(task).headline(described) for task in single_tasks()]
        return "; ".join(part for part in parts if part is not None)


class SingleTask(Task):
    """A task a head serves (classify, detect, segment): its results are what the composite
    multi-task model's predictor returns per head, so describing and drawing them is theirs."""

    @abstractmethod
    def describe(self, result: Any, class_names: Sequence[str], **options) -> dict:
        """This task's result on one image as JSON, under this task's own keys ({"top": ...})."""

    @abstractmethod
    def headline(self, described: dict) -> str | None:
        """This task's part of a predict line, from describe's keys; None when they are absent."""

    @abstractmethod
    def overlays(self, result: Any, class_names: Sequence[str]) -> list[Overlay]:
        """How this task's result is drawn (visualize.compose)."""

    @abstractmethod
    def entries(self, result: Any, class_names: Sequence[str]) -> list[dict]:
        """This task's findings on one image as a list of JSON entries, for the web demo's results."""

    def save_extras(self, result: Any, *, run_dir: Path, stem: str, output: Path, video: bool) -> dict:
        """Files `predict` writes beside the drawn image for this task, and their keys in its JSON."""
        return {}
