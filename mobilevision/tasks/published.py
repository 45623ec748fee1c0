"""Published trained networks by name: torchvision's MobileNetV3 detector, segmenters and
classifiers, each built by one of our registered models and loaded exactly.

A name is `torchvision:<builder>.<WEIGHTS>` as torchvision's weights API spells them (the builder
alone means its default weights). `published_checkpoint(name)` downloads the publisher's file into
the torch hub cache only when asked (its SHA-256 checked), renames its keys to ours once and keeps
the result beside it as one of our checkpoints (`<hub>/mobilevision/`), so every command that
takes a checkpoint takes the name: val, predict, export, bench, the demos, train's --weights.
The class names (COCO's 91 ids with their gaps, VOC's 21, ImageNet's 1000) and the preprocessing
travel in that checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from mobilevision.backbones.key_mapping import class_layers, load_strict, to_our_keys
from mobilevision.backbones.pretrained import PretrainedWeights, cached_download, hub_file, read_state_dict
from mobilevision.backbones.pretrained import catalogue as backbone_catalogue
from mobilevision.conventions import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.engine.checkpoint import inference_checkpoint, is_converted, save_published
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.detect.torchvision_keys import is_torchvision_ssdlite, ssdlite_to_our_keys
from mobilevision.tasks.registry import get_task, model_entry
from mobilevision.tasks.tf_releases import TFRelease, releases, tf_checkpoint

PREFIX = "torchvision:"
# torchvision's code is BSD-3-Clause; its docs give no other terms for the weights, and say that
# weights trained on a dataset may carry that dataset's terms (COCO: CC BY 4.0 annotations).
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision); COCO annotations CC BY 4.0"
IMAGENET_LICENCE = "BSD-3-Clause (torchvision); ImageNet terms of access"


@dataclass(frozen=True)
class PublishedModel:
    """One published weight file and the registered model that loads it."""

    builder: str  # torchvision's builder, and the first half of the name
    weights: str  # torchvision's weights enum member, e.g. "COCO_V1"
    enum: str  # torchvision's weights enum class
    model: str  # our registered model
    dataset: str
    metric: str  # the publisher's accuracy metric, as torchvision's meta names it
    sha256: str  # the whole digest where known; else the 8 hex digits torchvision puts in the file name
    file_bytes: int | None  # exact size where known (None: torchvision's rounded MB only)
    licence: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    default: bool = False  # the builder's DEFAULT weights, named by the builder alone

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.builder}.{self.weights}"

    def meta(self) -> dict:
        """torchvision's own metadata of these weights (url, categories, num_params, _metrics, ...)."""
        from torchvision.models import get_weight

        weights = get_weight(f"{self.enum}.{self.weights}")
        return {**weights.meta, "url": weights.url}

    @property
    def task(self) -> str:
        return model_entry(self.model).task

    def accuracy(self) -> float:
        return next(iter(self.meta()["_metrics"].values()))[self.metric]

    def class_names(self) -> list[str]:
        """As our checkpoints of the task store them: detection without its background (COCO's
        unused ids stay, as "N/A", so label i is COCO id i); segmentation's background named so."""
        names = list(self.meta()["categories"])
        if get_task(self.task).background_classes:
            return names[get_task(self.task).background_classes:]
        return ["background" if name == "__background__" else name for name in names]


def _catalogue() -> tuple[PublishedModel, ...]:
    imagenet = {"dataset": "ImageNet-1K", "metric": "acc@1", "licence": IMAGENET_LICENCE, "mean": IMAGENET_MEAN,
                "std": IMAGENET_STD, "input_size": 224}
    voc = {"dataset": "COCO val2017, VOC's 20 classes", "metric": "miou", "licence": TORCHVISION_LICENCE,
           "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "input_size": 520, "default": True,
           "weights": "COCO_WITH_VOC_LABELS_V1"}
    return (
        PublishedModel("ssdlite320_mobilenet_v3_large", "COCO_V1", "SSDLite320_MobileNet_V3_Large_Weights",
                       "ssdlite320_mobilenet_v3_large", "COCO val2017", "box_map",
                       "a79551df90c79834bcd3bb3845ef9d966b5449a3a9b2833ae8404778ca5d65d2", 14_069_355,
                       TORCHVISION_LICENCE, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 320, default=True),
        PublishedModel(builder="deeplabv3_mobilenet_v3_large", enum="DeepLabV3_MobileNet_V3_Large_Weights",
                       model="deeplabv3_mobilenet_v3_large", file_bytes=44_356_159,
                       sha256="fc3c493d68e89cc31ef488c803d5d7dd2f3190fb570598faa49fef69be8e5e70", **voc),
        PublishedModel(builder="lraspp_mobilenet_v3_large", enum="LRASPP_MobileNet_V3_Large_Weights",
                       model="lraspp_mobilenet_v3_large", file_bytes=13_097_061,
                       sha256="d234d4eae9d55d5f76de18b77cf0dc62c66fe5c5482758209d00f950c92bb280", **voc),
        PublishedModel(builder="mobilenet_v3_large", weights="IMAGENET1K_V1", enum="MobileNet_V3_Large_Weights",
                       model="mobilenet_v3_large", sha256="8738ca79", file_bytes=None, **imagenet),
        PublishedModel(builder="mobilenet_v3_large", weights="IMAGENET1K_V2", enum="MobileNet_V3_Large_Weights",
                       model="mobilenet_v3_large", sha256="5c1a416349c4cf298f2a6a5e2600ed0ee55e604713578f5e74e6bc8bcaef7997",
                       file_bytes=None, default=True, **imagenet),
        PublishedModel(builder="mobilenet_v3_small", weights="IMAGENET1K_V1", enum="MobileNet_V3_Small_Weights",
                       model="mobilenet_v3_small", sha256="047dcff4", file_bytes=None, default=True, **imagenet),
    )


@cache
def catalogue() -> dict[str, PublishedModel]:
    """Every published model by name; a builder's default weights also by the builder's name."""
    entries = _catalogue()
    named = {entry.name: entry for entry in entries}
    named |= {f"{PREFIX}{entry.builder}": entry for entry in entries if entry.default}
    return named


def is_published(spec: str | Path) -> bool:
    """Whether `spec` names a published model: torchvision's, or a TF model zoo release (tf:)."""
    return isinstance(spec, str) and (spec in catalogue() or spec in releases())


def published(name: str) -> PublishedModel | TFRelease:
    if not is_published(name):
        raise MobileVisionError(f"unknown published model {name!r}; `mobilevision weights` lists them: "
                                f"{', '.join(entry.name for entry in _catalogue())}, tf:mobilenet_v2_<width>_<res>, ...")
    return catalogue().get(name) or releases()[name]


def resolve_checkpoint(spec: str) -> str:
    """`spec` itself, or for a published name the path of its converted checkpoint (downloaded and
    converted now if needed)."""
    if not is_published(spec):
        return spec
    entry = published(spec)
    return str(tf_checkpoint(entry) if isinstance(entry, TFRelease) else published_checkpoint(spec))


def converted_path(entry: PublishedModel) -> Path:
    return Path(torch.hub.get_dir()) / "mobilevision" / f"{entry.builder}.{entry.weights}-{entry.sha256[:8]}.pt"


def published_checkpoint(name: str) -> Path:
    """Our checkpoint of the published model `name`: converted once from the publisher's file
    (downloaded into the hub cache if missing, its SHA-256 checked) and kept in the cache. A file
    that is not this model's is refused in one line and nothing is written."""
    entry = published(name)
    meta = entry.meta()
    target = converted_path(entry)
    if is_converted(target, source=hub_file(Path(meta["url"]).name)):
        return target
    source = cached_download(meta["url"], file_name=Path(meta["url"]).name, sha256=entry.sha256)
    names = entry.class_names()
    model_kwargs = {**model_entry(entry.model).defaults, "width": 1.0,
                    "num_classes": len(names) + get_task(entry.task).background_classes}
    model = model_entry(entry.model).build(**model_kwargs)
    state_dict = read_state_dict(source)
    if is_torchvision_ssdlite(state_dict):
        state_dict = ssdlite_to_our_keys(state_dict, backbone=model.backbone)
    else:
        state_dict = to_our_keys(state_dict, backbone=model.backbone)
    _check_classes(model, state_dict, source=source, entry=entry)
    load_strict(model, state_dict, source=f"{source} (as {entry.name})",
                fix="It is another model's file: delete it and run again.")
    checkpoint = inference_checkpoint(
        model.state_dict(), task=entry.task, model_name=entry.model, model_kwargs=model_kwargs, class_names=names,
        preprocessing={"mean": list(entry.mean), "std": list(entry.std), "input_size": entry.input_size})
    save_published(checkpoint, target, published={"name": entry.name, "url": meta["url"], "sha256": entry.sha256,
                                                  entry.metric: entry.accuracy()})
    return target


def _check_classes(model: torch.nn.Module, state_dict: dict, *, source: Path, entry: PublishedModel) -> None:
    """A file whose class layers are sized for another number of classes gets its own message."""
    keys, found = class_layers(model.state_dict(), state_dict, num_classes=model.num_classes)
    if keys:
        raise MobileVisionError(f"{source} holds a model of {found} classes; {entry.name} has {model.num_classes} "
                                f"({entry.dataset}); it is another model's file: delete it and run again")


def named_weights() -> list[dict]:
    """Every named weight the suite loads, as `mobilevision weights` lists it: this catalogue's
    published models (kind "model": whole networks, for --weights of every command), then the
    backbones' ImageNet weights (kind "backbone": for --weights-backbone, or a classifier's --weights
    with --model and --width). What a publisher does not say is None; "cached" tells whether the
    publisher's file is already in the torch hub cache, where a download puts it."""
    # catalogue() holds each entry under one or two names; keyed by its full name, each comes once.
    entries = {entry.name: entry for entry in catalogue().values()}.values()
    return [*map(_model_row, entries), *map(_release_row, releases().values()),
            *map(_backbone_row, backbone_catalogue().values())]


def _release_row(release: TFRelease) -> dict:
    """A TF release: its publisher's accuracy and source; the zoo publishes no hashes or sizes."""
    return {"name": release.name, "alias": None, "kind": "model", "task": release.task, "model": release.model,
            "backbone": release.model, "width": release.width, "dataset": release.dataset, "metric": release.metric,
            "accuracy": release.accuracy, "params": None, "file_bytes": None, "file_mib": None, "url": release.url,
            "sha256": None, "sha256_kind": None, "licence": release.licence, "source": release.source,
            **_hub_state(release.file_name)}


def _model_row(entry: PublishedModel) -> dict:
    """The catalogue's entry with torchvision's meta of it (params, size in MiB, URL, accuracy)."""
    meta = entry.meta()
    return {"name": entry.name, "alias": f"{PREFIX}{entry.builder}" if entry.default else None, "kind": "model",
            "task": entry.task, "model": entry.model, "backbone": model_entry(entry.model).defaults["backbone"],
            "width": 1.0, "dataset": entry.dataset, "metric": entry.metric, "accuracy": entry.accuracy(),
            "params": meta["num_params"], "file_bytes": entry.file_bytes, "file_mib": meta["_file_size"],
            "url": meta["url"], "sha256": entry.sha256,
            "sha256_kind": "full" if len(entry.sha256) == 64 else "prefix", "licence": entry.licence,
            **_hub_state(Path(meta["url"]).name)}


def _backbone_row(weights: PretrainedWeights) -> dict:
    """What backbones/pretrained.py knows of `weights`, with torchvision's meta of the ones it publishes
    (params, size) and the hash prefix its file names carry (timm's files have none)."""
    meta = {}
    if weights.name.startswith(PREFIX):
        from torchvision.models import get_model_weights

        meta = get_model_weights(weights.backbone)[weights.name.removeprefix(PREFIX)].meta
    return {"name": weights.name, "alias": None, "kind": "backbone", "task": "classify", "model": weights.backbone,
            "backbone": weights.backbone, "width": weights.width, "dataset": "ImageNet-1K",
            "metric": "acc@1" if weights.top1 is not None else None, "accuracy": weights.top1,
            "params": meta.get("num_params"), "file_bytes": None, "file_mib": meta.get("_file_size"),
            "url": weights.url, "sha256": weights.sha256, "sha256_kind": "prefix" if weights.sha256 else None,
            # torchvision's ImageNet weights carry its terms; timm's are not recorded here.
            "licence": IMAGENET_LICENCE if meta else None, **_hub_state(weights.file_name)}


def _hub_state(file_name: str) -> dict:
    """Where torch.hub keeps the publisher's file `file_name`, and whether it is there."""
    path = hub_file(file_name)
    return {"cached": path.is_file(), "path": str(path)}
