"""Mobile DeepLabv3 segmentation as one Task: VOC / COCO masks in, mIoU out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np
from torch import nn

from mobilevision.datasets.collate import segmentation_collate
from mobilevision.datasets.image_io import encode_label_png
from mobilevision.datasets.transforms import segmentation_transforms
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.base import Flag, SingleTask, TrainedModel
from mobilevision.tasks.segment.config import RECIPES, SegmentTrainConfig
from mobilevision.tasks.segment.evaluator import SegmentationEvaluator
from mobilevision.tasks.segment.inference import MultiscaleSegmenter
from mobilevision.tasks.segment.options import DeepLabOptions, weights_head_options
from mobilevision.tasks.segment.predictor import SegmentPredictor
from mobilevision.visualize.compose import Overlay
from mobilevision.visualize.masks import blend_mask, class_fractions, mask_legend


class SegmentTask(SingleTask):
    name = "segment"
    title = "semantic segmentation (Mobile DeepLabv3): train, val, predict"
    description = ("Semantic segmentation on PASCAL VOC (SegmentationClass PNGs, 255 = ignore), COCO (masks "
                   "rasterised to classes) or the built-in dataset. val: mIoU, per-class IoU and pixel accuracy on "
                   "whole images scaled (longer side) to the input size and padded; predict: class maps at each "
                   "image's own size, an overlay and a mask PNG each.")
    config_class = SegmentTrainConfig
    recipes = RECIPES
    data_layouts = ("a VOC tree (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/), a COCO tree, a dataset "
                    "YAML or a built-in dataset folder (`mobilevision data synth`)")
    main_metric = "miou"
    collate = staticmethod(segmentation_collate)
    val_batch = 8
    val_flags = (Flag("multiscale", False, "average scales 0.5-1.75 and flips (the paper's MF column; about 12x "
                      "slower)"),)
    # 512: the paper's 513 without the odd pixel TF needs, so that OS16 maps align; close to lraspp's 520.
    bench_imgsz = 512
    fresh_modules = ("aux_head.",)

    def training_data(self, config: SegmentTrainConfig, *, preprocessing: Mapping):
        """Validation runs on whole images scaled (longer side) to imgsz and padded with ignore, so the
        metrics are those of the padded-input size; `segment val` can evaluate at other sizes."""
        transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
        return (self.dataset(config.data, split="train", transform=segmentation_transforms(
                    True, crop=config.crop, scale_range=(config.scale_min, config.scale_max), resize=config.resize,
                    object_crops=config.object_crops, **transform)),
                self.dataset(config.data, split="val", transform=segmentation_transforms(False, **transform)))

    def model_kwargs(self, config: SegmentTrainConfig, *, train_set, class_names) -> dict:
        return {"width": config.width, "num_classes": len(class_names), "output_stride": config.output_stride,
                "deeplab": as_kwargs(options_of(DeepLabOptions, config)),
                "freeze_bn": config.freeze_bn or config.freeze_backbone}

    def weights_options(self, model_kwargs: Mapping) -> dict:
        """The head (and auxiliary head, decoder, loss options but the class weights) and output
        stride the segmenter was built with; a checkpoint without output_stride was built at the
        builder's (the config's) 16."""
        stride = {"output_stride": model_kwargs["output_stride"]} if "output_stride" in model_kwargs else {}
        return {**stride, **weights_head_options(model_kwargs.get("deeplab"))}

    def eval_transform(self, *, size: int, preprocessing: Mapping):
        return segmentation_transforms(False, size=size, mean=preprocessing["mean"], std=preprocessing["std"])

    def check_classes(self, dataset, trained: TrainedModel, *, data: str) -> None:
        if len(dataset.class_names) != len(trained.class_names):
            shown = ", ".join(dataset.class_names[:4])
            raise MobileVisionError(f"--data {data}: {len(dataset.class_names)} classes ({shown}, ...) but the weights "
                                    f"have {len(trained.class_names)}; evaluate on the dataset they were trained on")

    def make_evaluator(self, data: str, class_names, *, imgsz: int, split: str = "val"):
        return lambda: SegmentationEvaluator(class_names)

    def val_network(self, network: nn.Module, *, multiscale: bool = False, **options) -> nn.Module:
        return MultiscaleSegmenter(network) if multiscale else network

    def val_metrics(self, evaluator: SegmentationEvaluator, *, dataset) -> dict:
        per_class = evaluator.per_class_iou(evaluator.reduced).tolist()
        # JSON has no NaN: a class absent from labels and predictions has no IoU.
        return {"per_class_iou": {name: None if math.isnan(iou) else iou
                                  for name, iou in zip(evaluator.class_names, per_class, strict=True)},
                "images": len(dataset)}

    def predictor(self, trained: TrainedModel, *, imgsz: int, device, min_conf: float = 0.0) -> SegmentPredictor:
        return SegmentPredictor(trained, imgsz=imgsz, device=device)

    def describe(self, result: np.ndarray, class_names: Sequence[str], **options) -> dict:
        """{"classes": {name: fraction of the image's pixels}} of every class present, background too."""
        counts = np.bincount(result.ravel(), minlength=len(class_names)) / result.size
        return {"classes": {class_names[i]: round(float(f), 4) for i, f in enumerate(counts) if f > 0}}

    def headline(self, described: dict) -> str | None:
        if "classes" not in described:
            return None
        return ", ".join(f"{name} {fraction:.1%}" for name, fraction in described["classes"].items())

    def overlays(self, result: np.ndarray, class_names: Sequence[str]) -> list[Overlay]:
        legend = mask_legend(class_fractions(result, class_names=class_names), class_names=class_names)
        return [Overlay(depth=0, paint=partial(blend_mask, class_map=result), corner="bottom-left", rows=legend)]

    def entries(self, result: np.ndarray, class_names: Sequence[str]) -> list[dict]:
        return [{"class": index, "name": class_names[index], "fraction": round(fraction, 4)}
                for index, fraction in class_fractions(result, class_names=class_names).items()]

    def save_extras(self, result: np.ndarray, *, run_dir: Path, stem: str, output: Path, video: bool) -> dict:
        """The class map as <stem>_mask.png (class indices, VOC palette) beside each drawn image."""
        if video:
            return {"overlay": str(output), "mask": None}
        mask = run_dir / f"{stem}_mask.png"
        mask.write_bytes(encode_label_png(result))
        return {"overlay": str(output), "mask": str(mask)}

