"""`mobilevision multitask train`: the chosen heads on one backbone, on COCO-form data (COCO or the
built-in dataset), through the engine's `fit`."""

from __future__ import annotations

from mobilevision.backbones.key_mapping import load_strict
from mobilevision.backbones.pretrained import IMAGENET_MEAN, IMAGENET_STD, resolve_weights
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import multitask_collate
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.loading import is_checkpoint
from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.engine.loop import seed_everything
from mobilevision.engine.run_setup import fit_in_run_dir, require_data, require_samples
from mobilevision.tasks.multitask.config import MultitaskTrainConfig
from mobilevision.tasks.multitask.evaluator import evaluator_factory
from mobilevision.tasks.multitask.model import MultiTaskModel, task_list
from mobilevision.tasks.registry import build_model, model_entry
from mobilevision.engine.weights import load_backbone_weights


def initial_preprocessing(config: MultitaskTrainConfig) -> dict:
    """ImageNet mean and std, unless the weights the model starts from were trained with others."""
    mean, std, source = IMAGENET_MEAN, IMAGENET_STD, config.weights or config.weights_backbone
    if source and is_checkpoint(source):
        mean, std = (read_checkpoint(source)["preprocessing"][key] for key in ("mean", "std"))
    elif source:
        _, entry = resolve_weights(source)
        if entry is not None:
            mean, std = entry.mean, entry.std
    return {"mean": list(mean), "std": list(std), "input_size": config.imgsz}


def load_initial_weights(model: MultiTaskModel, config: MultitaskTrainConfig) -> None:
    """--weights (a multi-task checkpoint with the same heads) or else --weights-backbone."""
    if config.weights:
        checkpoint = read_checkpoint(config.weights)
        if checkpoint["task"] != "multitask":
            raise MobileVisionError(f"--weights {config.weights}: a {checkpoint['task']} checkpoint; for its backbone "
                                    "use --weights-backbone, or combine task checkpoints with `multitask assemble`")
        # The EMA weights when the run kept them: they are the ones its metrics describe.
        load_strict(model, checkpoint.get("ema_state_dict") or checkpoint["state_dict"], source=config.weights)
    elif config.weights_backbone:
        load_backbone_weights(model.backbone, config.weights_backbone)


def train_multitask(config: MultitaskTrainConfig, *, resume_from: dict | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics ("classify/top1", "detect/mAP", ...)."""
    require_data(config, expected="a COCO folder or YAML (boxes and masks in one instances JSON) or a built-in "
                 "dataset folder (`mobilevision data synth`)")
    if model_entry(config.model).task != "multitask":
        raise MobileVisionError(f"--model {config.model} is a {model_entry(config.model).task} model; multitask "
                                "needs multitask_mobilenet_v2 or multitask_mobilenet_v1")
    tasks = task_list(config.tasks)
    preprocessing = resume_from["preprocessing"] if resume_from else initial_preprocessing(config)
    transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
    train_set = build_dataset(config.data, task="multitask", split="train",
                              transform=detection_transforms(True, augment=config.augment, **transform))
    val_set = build_dataset(config.data, task="multitask", split="val",
                            transform=detection_transforms(False, **transform))
    require_samples(config, train_set=train_set, val_set=val_set)
    missing = [task for task in tasks if task not in train_set.tasks]
    if missing:
        raise MobileVisionError(f"--data {config.data} has no {'/'.join(missing)} labels; it serves "
                                f"{','.join(train_set.tasks)}, so pass --tasks with those")
    class_names = {task: list(train_set.class_names[task]) for task in tasks}

    # Detection counts the background class in num_classes; its names leave it out.
    num_classes = {task: len(names) + (task == "detect") for task, names in class_names.items()}
    model_kwargs = {
        "width": config.width, "tasks": list(tasks), "num_classes": num_classes,
        "loss_weights": {task: getattr(config, f"{task}_loss_weight") for task in tasks}, "imgsz": config.imgsz,
        "anchor_layout": config.anchor_layout, "anchor_scales": (config.anchor_min_scale, config.anchor_max_scale),
        "class_loss": config.class_loss, "match_iou": config.match_iou, "nms_iou": config.nms_iou,
        "head": config.head,
        "decoder": config.decoder, "decoder_stride": config.decoder_stride, "aux": config.aux,
        "loss_stride": config.loss_stride,
        "label_smoothing": config.label_smoothing,
        "freeze_bn": config.freeze_bn or config.freeze_backbone,
        "classify_from_segment": config.classify_from_segment,
    }
    seed_everything(config.seed)  # the same initial weights on every rank and every rerun
    model = build_model(config.model, **model_kwargs)
    if resume_from is None:
        load_initial_weights(model, config)
    return fit_in_run_dir(model, task="multitask", config=config, model_kwargs=model_kwargs, class_names=class_names,
                          preprocessing=preprocessing, train_set=train_set, val_set=val_set,
                          collate_fn=multitask_collate,
                          make_evaluator=evaluator_factory(config.data, class_names, imgsz=config.imgsz),
                          resume_from=resume_from, freeze_backbone=config.freeze_backbone)
