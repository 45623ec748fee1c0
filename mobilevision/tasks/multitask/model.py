"""The multi-task model: one backbone forward feeding the classifier, SSDLite and DeepLabv3 heads.

One backbone at output stride 32, because SSDLite needs it undilated: its taps are `c4_expand`
(stride 16) and `last` (stride 32), and its extra levels halve from there; the classifier reads
`last` as well. DeepLab alone runs the backbone at output stride 16, but that dilates the last
stages, which changes every feature the other two heads read and costs the backbone 1.6x the
multiply-adds (MobileNetV2* at 320 px: 930M against 570M). So here the DeepLab head (mobile
head, or ASPP at stride-32 rates) reads the stride-32 `c5`, and detection + segmentation cost
little more than the detector alone (248M against 231M multiply-adds at width 0.5, 320 px).
The DeepLabv3+ decoder (decoder=True) brings back detail from the stride-4 `c2` at a price: its
256-channel convs at stride 4 cost 0.97B multiply-adds at 320 px, four times that whole
detector, so it is an option, not the default.
A single-task segmenter trained with `--output-stride 32` has exactly this head.

The heads are the single-task models themselves (ImageClassifier, SSDLite, DeepLabV3), built with
`backbone_features` so that they own no backbone: their head_outputs, losses and postprocess are
the code the single-task models run, and their state-dict keys are the single-task keys under
`tasks.<task>.`, so separately trained heads assemble into this model key for key (assemble.py).

One link between heads is optional (classify_from_segment): the classifier's logits gain a linear
read of the segmentation's log class areas (heads/segment_areas.py, keys `segment_areas.`). The
built-in dataset labels an image by its largest object, which the pooled stride-32 features blur
(a small lone object reads as an empty image, near-equal objects as each other) and the
segmentation counts pixel by pixel. It starts at zero, so an assembled model answers as its heads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mobilevision.backbones import backbone_class, build_backbone
from mobilevision.engine.config import options_of
from mobilevision.engine.distributed import broadcast_parameters
from mobilevision.errors import MobileVisionError
from mobilevision.heads.segment_areas import SegmentAreaReader
from mobilevision.tasks.classify.model import build_classifier
from mobilevision.tasks.classify.options import ClassifierOptions
from mobilevision.tasks.detect.model import build_ssdlite
from mobilevision.tasks.detect.options import SSDLiteOptions
from mobilevision.tasks.segment.model import build_deeplabv3
from mobilevision.tasks.segment.model import feature_names as segmentation_features
from mobilevision.tasks.segment.options import DeepLabOptions

TASKS = ("classify", "detect", "segment")
OUTPUT_STRIDE = 32


def task_list(tasks: Sequence[str] | str) -> tuple[str, ...]:
    """Chosen tasks in TASKS order, from a sequence or a comma-separated string ("detect,segment")."""
    names = [name.strip() for name in tasks.split(",")] if isinstance(tasks, str) else list(tasks)
    unknown = [name for name in names if name not in TASKS]
    if unknown or not names:
        raise MobileVisionError(f"tasks {names}: choose one or more of {', '.join(TASKS)}")
    return tuple(task for task in TASKS if task in names)


class MultiTaskModel(nn.Module):
    """A shared backbone and one head per chosen task.

    Training mode: forward(images (N, 3, H, W), targets {task: what that task's model takes}) ->
    {"<task>/<loss>": loss_weights[task] * loss}, e.g. "detect/bbox_regression"; the loop sums them.
    Eval mode: forward(images, orig_sizes=None) -> {"classify": logits (N, K), "detect": one
    {"boxes", "scores", "labels"} per image, "segment": class map (N, H, W) int64}, for the chosen
    tasks: the single-task models' structures.
    """

    def __init__(
        self,
        *,
        backbone: str,
        width: float,
        tasks: Sequence[str],
        num_classes: Mapping[str, int],
        loss_weights: Mapping[str, float],
        imgsz: int,
        ssdlite: SSDLiteOptions | Mapping | None = None,
        deeplab: DeepLabOptions | Mapping | None = None,
        classifier: ClassifierOptions | Mapping | None = None,
        freeze_bn: bool = False,
        classify_from_segment: bool = False,
    ) -> None:
        super().__init__()
        self.task_names = task_list(tasks)
        self.loss_weights = {task: float(loss_weights[task]) for task in self.task_names}
        deeplab = options_of(DeepLabOptions, deeplab)
        roles = backbone_class(backbone).roles
        wanted = {"classify": [roles["classifier"]], "detect": list(roles["ssdlite"]),
                  "segment": [name for name in segmentation_features(backbone, deeplab) if name is not None]}
        features = list(dict.fromkeys(name for task in self.task_names for name in wanted[task]))
        # Only the classifier and SSDLite read MobileNetV2's 1280-channel last layer (DeepLab's MobileNetV2*).
        extra = {"include_last_layer": "last" in features} if backbone == "mobilenet_v2" else {}
        self.backbone = build_backbone(backbone, width=width, output_stride=OUTPUT_STRIDE, out_features=features,
                                       freeze_bn=freeze_bn, **extra)
        info = self.backbone.feature_info()
        builders = {
            "classify": lambda: build_classifier(backbone=backbone, width=width, num_classes=num_classes["classify"],
                                                 classifier=classifier, backbone_features=info),
            "detect": lambda: build_ssdlite(backbone=backbone, width=width, num_classes=num_classes["detect"],
                                            imgsz=imgsz, ssdlite=ssdlite, backbone_features=info),
            "segment": lambda: build_deeplabv3(backbone=backbone, width=width, num_classes=num_classes["segment"],
                                               output_stride=OUTPUT_STRIDE, deeplab=deeplab, backbone_features=info),
        }
        self.tasks = nn.ModuleDict({task: builders[task]() for task in self.task_names})
        self.segment_areas = None
        if classify_from_segment:
            if not {"classify", "segment"} <= set(self.task_names):
                raise MobileVisionError(f"classify_from_segment needs the classify and segment heads; the tasks are "
                                        f"{list(self.task_names)}")
            self.segment_areas = SegmentAreaReader(num_classes["segment"], num_classes["classify"])

    def _head_outputs(self, images: torch.Tensor, *,
                      classify_labels: torch.Tensor | None = None) -> tuple[dict[str, torch.Tensor], dict]:
        """(the backbone's features, {task: its head's raw outputs}) from one backbone forward;
        classify_labels (N,), in training: the segmentation read remembers them for `refit`."""
        features = self.backbone(images)
        image_size = tuple(images.shape[-2:])
        raw = {task: head.head_outputs(features, image_size=image_size) for task, head in self.tasks.items()}
        if self.segment_areas is not None:
            raw["classify"] = self.segment_areas.read(raw["classify"], raw["segment"], labels=classify_labels)
        return features, raw

    def refit(self) -> list[str]:
        """Solve the segmentation read outright on the training samples it last saw (the loop calls
        this before each validation; SegmentAreaReader.refit), the same on every rank. Returns the
        submodules it sets, which the loop's EMA copy takes as they are."""
        if self.segment_areas is None:
            return []
        self.segment_areas.refit()
        # Every rank joins, whether or not its own memory was large enough to refit.
        broadcast_parameters(self.segment_areas)
        return ["segment_areas"]

    def raw_outputs(self, images: torch.Tensor):
        """The exported and counted part: (N, 3, H, W) -> the chosen tasks' raw tensors in TASKS
        order, flat: classify logits (N, K); detect box_deltas (N, A, 4), class_logits (N, A, C);
        segment logits (N, K, h, w) (DeepLabV3.head_outputs: with loss_stride > 1 on the loss's grid,
        which postprocess and the predictor resize). A single tensor is returned alone, as ONNX
        Runtime's wrapper does."""
        _, raw = self._head_outputs(images)
        flat = [tensor for task in self.task_names
                for tensor in (raw[task] if isinstance(raw[task], tuple) else (raw[task],))]
        return flat[0] if len(flat) == 1 else tuple(flat)

    @property
    def class_map_source(self) -> str | None:
        """The raw output an exported graph turns into its class map (deploy/onnx_export.py): the
        segmentation's logits, when the model segments."""
        return "segment_logits" if "segment" in self.task_names else None

    @property
    def raw_output_names(self) -> tuple[str, ...]:
        """raw_outputs' tensors in order, as the ONNX export names them: each head's names after its
        task ("detect_box_deltas")."""
        return tuple(f"{task}_{name}" for task, head in self.tasks.items() for name in head.raw_output_names)

    def split_raw_outputs(self, raw) -> dict:
        """raw_outputs (from any runtime) -> {task: what that task's model's raw_outputs returns}."""
        flat = (raw,) if isinstance(raw, torch.Tensor) else tuple(raw)
        per_task, start = {}, 0
        for task in self.task_names:
            count = len(self.tasks[task].raw_output_names)
            per_task[task] = flat[start] if count == 1 else tuple(flat[start:start + count])
            start += count
        return per_task

    def _predictions(self, raw: dict, *, image_size: tuple[int, int], orig_sizes: Sequence[Sequence[int]] | None,
                     class_map: torch.Tensor | None = None) -> dict:
        predictions = {}
        for task, head in self.tasks.items():
            # Only boxes are mapped back to the original images; logits and class maps stay at input size.
            extra = {"detect": {"orig_sizes": orig_sizes}, "segment": {"class_map": class_map}}.get(task, {})
            predictions[task] = head.postprocess(raw[task], image_size=image_size, **extra)
        return predictions

    def postprocess(self, raw, *, image_size: tuple[int, int], orig_sizes: Sequence[Sequence[int]] | None = None,
                    class_map: torch.Tensor | None = None) -> dict:
        """Eval-mode predictions from raw_outputs (any runtime's): each task's own postprocess;
        `class_map`, an exported graph's own, is the segmentation's (its logits in `raw` then None)."""
        return self._predictions(self.split_raw_outputs(raw), image_size=image_size, orig_sizes=orig_sizes,
                                 class_map=class_map)

    def class_map(self, raw, *, image_size: tuple[int, int]) -> torch.Tensor:
        """raw_outputs -> the segmentation's class map (N, *image_size) int64: what an exported graph
        returns beside them (deploy/onnx_export.py)."""
        return self.tasks["segment"].class_map(self.split_raw_outputs(raw)["segment"], image_size=image_size)

    def forward(self, images: torch.Tensor, targets: dict | None = None, *,
                orig_sizes: Sequence[Sequence[int]] | None = None):
        image_size = tuple(images.shape[-2:])
        if not self.training:
            _, raw = self._head_outputs(images)
            return self._predictions(raw, image_size=image_size, orig_sizes=orig_sizes)
        missing = [task for task in self.task_names if targets is None or task not in targets]
        if missing:
            raise MobileVisionError(f"MultiTaskModel in training mode needs targets for {missing}; "
                                    "call model.eval() to predict")
        features, raw = self._head_outputs(images, classify_labels=targets.get("classify"))
        losses = {}
        for task, head in self.tasks.items():
            for name, value in head.losses(raw[task], targets[task], features=features, image_size=image_size).items():
                losses[f"{task}/{name}"] = self.loss_weights[task] * value
        return losses


def build_multitask(
    *,
    backbone: str = "mobilenet_v2",
    width: float = 1.0,
    tasks: Sequence[str] | str = TASKS,
    num_classes: int | Mapping[str, int] = 21,
    loss_weights: Mapping[str, float] | None = None,
    imgsz: int = 320,
    ssdlite: SSDLiteOptions | Mapping | None = None,
    deeplab: DeepLabOptions | Mapping | None = None,
    classifier: ClassifierOptions | Mapping | None = None,
    freeze_bn: bool = False,
    classify_from_segment: bool = False,
) -> MultiTaskModel:
    """A backbone at output stride 32 with the heads of `tasks` (any of classify, detect, segment).

    num_classes: per task ({"classify": 7, "detect": 7, "segment": 7}), or one number for every
    head; as in the single-task models, detection's counts the background and segmentation's
    includes it. loss_weights: per task (default 1). imgsz and `ssdlite` (SSDLiteOptions or its
    dict) are SSDLite's, `deeplab` DeepLab's, `classifier` the classifier's: the single-task
    models' own options. classify_from_segment: the classifier also reads the segmentation's class
    areas (needs both heads).
    """
    chosen = task_list(tasks)
    classes = {task: num_classes for task in chosen} if isinstance(num_classes, int) else dict(num_classes)
    if set(classes) != set(chosen):
        raise MobileVisionError(f"num_classes {classes} must name exactly the tasks {list(chosen)}")
    weights = {task: 1.0 for task in chosen} | dict(loss_weights or {})
    if set(weights) != set(chosen):
        raise MobileVisionError(f"loss_weights {dict(loss_weights)} name tasks the model lacks (it has {list(chosen)})")
    negative = {task: weight for task, weight in weights.items() if weight < 0}
    if negative:
        raise MobileVisionError(f"loss weights must not be negative; got {negative}")
    return MultiTaskModel(backbone=backbone, width=width, tasks=chosen, num_classes=classes, loss_weights=weights,
                          imgsz=imgsz, ssdlite=ssdlite, deeplab=deeplab, classifier=classifier, freeze_bn=freeze_bn,
                          classify_from_segment=classify_from_segment)
