"""Device choice and autocast, with no CUDA assumption: the same code runs on cpu, cuda, mps."""

from __future__ import annotations

import contextlib

import torch

from mobilevision.errors import MobileVisionError

DEVICES = ("auto", "cpu", "cuda", "mps")  # what --device takes everywhere


def select_device(name: str, *, local_rank: int = 0) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; under torchrun each process takes cuda:<local_rank>."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda":
        if not cuda:
            raise MobileVisionError("--device cuda: no CUDA device is available; use --device cpu or auto")
        return torch.device("cuda", local_rank)
    if name == "mps":
        if not mps:
            raise MobileVisionError("--device mps: MPS is not available on this machine; use --device cpu or auto")
        return torch.device("mps")
    if name != "cpu":
        raise MobileVisionError(f"--device must be auto, cpu, cuda or mps, got {name!r}")
    return torch.device("cpu")


def autocast(device: torch.device, dtype: torch.dtype | None):
    """torch.autocast for the device, or a no-op context when dtype is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(value, device: torch.device):
    """Tensors, and lists / tuples / dicts of them (detection targets), moved to `device`."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    if isinstance(value, list):
        return [to_device(item, device) for item in value]
    if isinstance(value, tuple):
        return tuple(to_device(item, device) for item in value)
    return value
