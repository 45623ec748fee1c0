"""Published ImageNet weights: what they are, where they live, and how to read a weights file.

`--weights` takes a path, a URL (downloaded into the torch hub cache when the machine is online)
or a name such as `torchvision:IMAGENET1K_V2`. Names carry their preprocessing (mean, std, input
size) and class names, so these travel with the weights into every checkpoint made from them.
Nothing is downloaded unless the user asks for it.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mobilevision.backbones.torch_file import read_torch_file
from mobilevision.conventions import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.errors import MobileVisionError


@dataclass(frozen=True)
class PretrainedWeights:
    """A published weight file and the preprocessing it was trained with."""

    name: str
    backbone: str
    width: float
    url: str
    file_name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    resize_size: int
    top1: float | None
    categories: tuple[str, ...] = field(default=(), repr=False)
    sha256: str | None = None  # the 8 hex digits torchvision's file names carry (timm publishes none)


def _imagenet_categories() -> tuple[str, ...]:
    from torchvision.models import MobileNet_V2_Weights

    return tuple(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])


def _timm(tag: str, *, width: float) -> PretrainedWeights:
    return PretrainedWeights(
        name=f"timm:{tag}",
        backbone="mobilenet_v1",
        width=width,
        url=f"https://huggingface.co/timm/{tag}/resolve/main/model.safetensors",
        file_name=f"timm-{tag}.safetensors",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        input_size=224,
        resize_size=236,
        top1=None,
    )


def catalogue() -> dict[str, PretrainedWeights]:
    """Every named weight the suite knows, by name."""
    entries = [
        # torchvision's weights meta: ImageNet-1K acc@1, resize 256 / 232 then crop 224.
        PretrainedWeights(
            name="torchvision:IMAGENET1K_V1",
            backbone="mobilenet_v2",
            width=1.0,
            url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
            file_name="mobilenet_v2-b0353104.pth",
            sha256="b0353104",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            input_size=224,
            resize_size=256,
            top1=71.878,
        ),
        PretrainedWeights(
            name="torchvision:IMAGENET1K_V2",
            backbone="mobilenet_v2",
            width=1.0,
            url="https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth",
            file_name="mobilenet_v2-7ebf99e0.pth",
            sha256="7ebf99e0",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            input_size=224,
            resize_size=232,
            top1=72.154,
        ),
        # timm's pretrained_cfg: mean/std 0.5, trained at 224 (test crop 0.95); no top-1 recorded here.
        _timm("mobilenetv1_100.ra4_e3600_r224_in1k", width=1.0),
        _timm("mobilenetv1_125.ra4_e3600_r224_in1k", width=1.25),
    ]
    return {entry.name: entry for entry in entries}


def lookup(name: str) -> PretrainedWeights:
    """A named weight, with the ImageNet class names filled in."""
    known = catalogue()
    if name not in known:
        raise MobileVisionError(f"unknown weights {name!r}; known names: {', '.join(known)}")
    entry = known[name]
    return PretrainedWeights(**{**entry.__dict__, "categories": _imagenet_categories()})


def resolve_weights(spec: str) -> tuple[Path, PretrainedWeights | None]:
    """A local file for `spec` (path, URL or name), and the named weight's metadata if any."""
    if spec.startswith(("torchvision:", "timm:")):
        entry = lookup(spec)
        return cached_download(entry.url, file_name=entry.file_name, sha256=entry.sha256), entry
    if spec.startswith(("http://", "https://")):
        return cached_download(spec, file_name=os.path.basename(spec.split("?")[0])), None
    path = Path(spec).expanduser()
    if not path.is_file():
        raise MobileVisionError(
            f"weights file {spec} does not exist; pass a checkpoint path, a URL, or one of: {', '.join(catalogue())}"
        )
    return path, None


def hub_file(file_name: str) -> Path:
    """Where torch.hub keeps a downloaded file: `<hub>/checkpoints/<file_name>`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def cached_download(url: str, *, file_name: str, sha256: str | None = None) -> Path:
    """The file at `url`, downloaded once into the torch hub cache (`<hub>/checkpoints/<file_name>`,
    as torch.hub names it) with a progress bar. With `sha256` (the whole digest, or the prefix a
    publisher gives) the file is checked: a download with another hash is deleted before it gets
    the final name, and a cached file with another hash is refused, naming it."""
    target = hub_file(file_name)
    if target.is_file():
        if sha256:
            check_sha256(target, expected=sha256, url=url)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # download_url_to_file writes to a temporary file, checks its hash and only then renames
        # it, so a cut-off or wrong download never leaves a file behind under the final name.
        torch.hub.download_url_to_file(url, str(target), hash_prefix=sha256, progress=True)
    except RuntimeError as error:  # torch.hub's "invalid hash value"
        raise MobileVisionError(f"the download of {url} has the wrong SHA-256 ({error}); nothing was kept. "
                                f"Try again, or copy the file from a machine that has it to {target}") from None
    except (urllib.error.URLError, OSError) as error:
        raise MobileVisionError(
            f"could not download {url} ({error}). If this machine is offline, fetch that URL on one "
            f"that is online and put the file at {target}."
        ) from None
    return target


def check_sha256(path: Path, *, expected: str, url: str) -> None:
    """Refuse `path` unless its SHA-256 starts with `expected` (a whole digest or a prefix)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(expected):
        raise MobileVisionError(
            f"{path} has SHA-256 {digest.hexdigest()[:16]}..., not {expected[:16]}... of {url}: a cut-off "
            "download or another model's file. Delete it and run again, or copy the right file there."
        )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a .pth / .pt / .safetensors file, without unpickling arbitrary objects.

    Our checkpoints (a dict with "state_dict") and torchvision reference checkpoints (a dict with
    "model") are unwrapped to their state dict.
    """
    if path.suffix != ".safetensors":
        data = read_torch_file(path)
    else:
        from safetensors.torch import load_file

        try:
            data = load_file(str(path))
        except Exception as error:  # noqa: BLE001 - any unreadable file gets the same one-line message
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise MobileVisionError(f"{path} cannot be read as safetensors ({reason}): the file is cut short or "
                                    "not a safetensors file; copy it again or pass a .pt / .pth state dict") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise MobileVisionError(f"{path} does not hold a state dict (names to tensors); pass a checkpoint, or a "
                                "file saved with torch.save(model.state_dict(), path)")
    return data
