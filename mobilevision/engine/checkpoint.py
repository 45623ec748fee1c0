"""Checkpoints: plain dicts of tensors and Python values that `torch.load(weights_only=True)` opens.

Keys:
  task, model_name, model_kwargs   tasks.registry's `build_model(model_name, **model_kwargs)` rebuilds it
  state_dict, ema_state_dict       trained weights; the EMA copy (None without --ema)
  class_names, preprocessing       {"mean", "std", "input_size"}: what inference must do first
  metrics, best_metric             last validation metrics; best value of the main metric so far
  epoch, global_step               the next epoch to run; optimizer steps done
  optimizer, scheduler, scaler     states for resume (scheduler = {"global_step"}: it is lr(step))
  ema_updates, sampler, rng        EMA step count, {"epoch", "position"}, RNG states of python/numpy/torch/cuda
  epoch_stats, elapsed_seconds     saved mid-epoch: the epoch's loss sums, steps, images, seconds (else None);
                                   training and validation seconds before this epoch (--time)
  args, versions                   the run's options (TrainConfig as a dict); package versions
"""

from __future__ import annotations

import io
import platform
import random
from pathlib import Path

import numpy as np
import torch

from mobilevision.engine.atomic import write_atomic
from mobilevision.errors import MobileVisionError


def save_atomic(checkpoint: dict, path: Path, *, elsewhere: str = "write it to another disk") -> None:
    """`checkpoint` serialised in memory, then written whole or not at all (atomic.write_atomic): a
    full disk is a one-line error naming `path`, never torch's `inline_container.cc` RuntimeError
    from a half-written zip, and the previous file stays as it was."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_atomic(path, buffer.getbuffer(), elsewhere=elsewhere)


def inference_checkpoint(state_dict: dict, *, task: str, model_name: str, model_kwargs: dict,
                         class_names: list[str] | dict[str, list[str]], preprocessing: dict) -> dict:
    """The keys a checkpoint needs to be rebuilt and run (no training state): for random-weight
    models that bench exports, and for published weights converted to our layout."""
    return {"task": task, "model_name": model_name, "model_kwargs": model_kwargs, "state_dict": state_dict,
            "ema_state_dict": None, "class_names": class_names, "preprocessing": preprocessing}


def is_converted(target: Path, *, source: Path) -> bool:
    """Whether `target` was converted from `source` as it is now (written after it): the source
    was checked then, so neither needs reading again."""
    return target.is_file() and source.is_file() and target.stat().st_mtime >= source.stat().st_mtime


def save_published(checkpoint: dict, path: Path, *, published: dict) -> None:
    """A published model converted to our checkpoint: `published` (its name, source, accuracy)
    and the package versions recorded beside it, written atomically."""
    save_atomic({**checkpoint, "published": published, "versions": package_versions()}, path,
                elsewhere="point TORCH_HOME (the hub cache) at another disk")


def read_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint dict; a missing or foreign file is a one-line user error."""
    path = Path(path)
    if not path.is_file():
        raise MobileVisionError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise MobileVisionError(f"{path}: cannot read as a checkpoint ({str(error).splitlines()[0]})") from error
    if not isinstance(checkpoint, dict) or "model_name" not in checkpoint:
        raise MobileVisionError(f"{path}: not a mobilevision checkpoint (no model_name); pass it as --weights instead")
    return checkpoint


def is_checkpoint(spec: str | Path) -> bool:
    """A file this suite wrote (as opposed to torchvision / timm weights or a named weight)."""
    path = Path(spec)
    if not path.is_file() or path.suffix not in (".pt", ".pth"):
        return False
    try:
        return "model_name" in torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip of tensors, or not ours: either way not a checkpoint
        return False


def rng_states() -> dict:
    """Every random generator a training step draws from, in weights_only-loadable types."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    states = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy = states["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def package_versions() -> dict[str, str]:
    import torchvision

    from mobilevision.version import __version__

    versions = {"mobilevision": __version__, "torch": torch.__version__,
                "torchvision": torchvision.__version__, "numpy": np.__version__, "python": platform.python_version()}
    return {name: str(version) for name, version in versions.items()}  # TorchVersion is not weights_only-safe
