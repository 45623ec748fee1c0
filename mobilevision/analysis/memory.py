"""Activation memory of a forward pass, counted two ways (MobileNetV2 paper, section 5.1, Table 3).

Analytic: every ATen op of one forward is recorded with the activation storages it reads and
writes; a storage must exist from the op that makes it to the last op that reads it (to the end
for the outputs, and for the input, which the caller holds). The peak is the largest sum of
storages that must exist at one op: the least memory that schedule of ops runs in. The largest
single storage is the paper's Table 3 figure. Counted at `bytes_per_element` per float value
(the paper: 2, 16-bit) from one batch-1 forward, for any model and input size.

Measured: the same forward run for real, summing the bytes of the storages ATen ops return while
Python or torch still hold them (weakref finalizers on the storages), plus the input the caller
holds. It exceeds the analytic peak where a reference outlives a tensor's last use. Parameters and
buffers never count; kernel scratch space (oneDNN workspaces) and the allocator's caches are
invisible here, as are the weights, which blur a process's RSS.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from mobilevision.errors import MobileVisionError

BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: str) -> int:
    """ "262144", "256KiB", "1MiB", "512kB", "1.5MB" -> bytes (KiB = 1024, kB = 1000)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if match is None or match.group(2).lower() not in BYTE_UNITS:
        raise MobileVisionError(f"memory size {text!r}: give bytes or a number with KiB, MiB, GiB, kB, MB or GB "
                                "(e.g. 256KiB)")
    return int(float(match.group(1)) * BYTE_UNITS[match.group(2).lower()])


def format_bytes(count: int) -> str:
    """Bytes in KiB below a MiB, MiB above: 401408 -> "392.0 KiB"."""
    return f"{count / 2**10:.1f} KiB" if count < 2**20 else f"{count / 2**20:.2f} MiB"


def _tensors(*trees) -> list[torch.Tensor]:
    return [leaf for leaf in tree_flatten(trees)[0] if isinstance(leaf, torch.Tensor)]


def _weight_storages(model: nn.Module) -> set[int]:
    return {id(t.untyped_storage()) for t in (*model.parameters(), *model.buffers())}


class _ModulePath:
    """The innermost module running, by name, through forward hooks on every submodule; when
    `on_return` is set, it is given each module's positional inputs as the module returns."""

    def __init__(self, model: nn.Module) -> None:
        self.stack = ["(model)"]  # raw_outputs runs ops outside any submodule
        self.on_return: Callable | None = None
        self.handles = []
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._enter(name or "(model)")))
            self.handles.append(module.register_forward_hook(self._leave))

    def _enter(self, name: str) -> Callable:
        def hook(*_) -> None:  # a hook that returned a value would replace the module's input
            self.stack.append(name)

        return hook

    def _leave(self, _module, args, _output) -> None:
        if self.on_return is not None:
            self.on_return(args)
        self.stack.pop()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class _OpLog(TorchDispatchMode):
    """Each op's module and the activation storages it touched, numbered in order of appearance.

    Holds no storage: a freed storage's id may be reused by a new one, so ids map to numbers only
    while their storage lives (a finalizer retires the id)."""

    def __init__(self, skip: set[int], path: _ModulePath, bytes_per_element: int) -> None:
        super().__init__()
        self.skip, self.path, self.bytes_per_element = skip, path, bytes_per_element
        self.ops: list[tuple[str, list[int]]] = []
        self.numbers: dict[int, int] = {}  # id of a live storage -> its number
        self.storages: list[dict] = []  # by number: {"bytes", "shape", "first"}

    def note(self, tensor: torch.Tensor, *, made_here: bool) -> int | None:
        storage = tensor.untyped_storage()
        key = id(storage)
        if key in self.skip:
            return None
        if key not in self.numbers:
            values = storage.nbytes() // tensor.element_size()
            size = values * self.bytes_per_element if tensor.is_floating_point() else storage.nbytes()
            self.numbers[key] = len(self.storages)
            self.storages.append({"bytes": size, "shape": tuple(tensor.shape),
                                  "first": len(self.ops) if made_here else 0})
            weakref.finalize(storage, self.numbers.pop, key)
        return self.numbers[key]

    def hold(self, args: tuple) -> None:
        """A module returns: Python held its arguments until now, so they count as read here."""
        numbers = [self.note(t, made_here=False) for t in _tensors(args)]
        self.ops.append((f"{self.path.stack[-1]} (return)", [number for number in numbers if number is not None]))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        read = [self.note(t, made_here=False) for t in _tensors(args, kwargs)]
        written = [self.note(t, made_here=True) for t in _tensors(out)]
        self.ops.append((f"{self.path.stack[-1]} ({func.overloadpacket})",
                         [number for number in read + written if number is not None]))
        return out


@dataclass(frozen=True)
class ActivationMemory:
    """The analytic count of one forward at batch 1 (bytes at `bytes_per_element` per float)."""

    peak_bytes: int  # largest sum of activations that must exist at one op
    peak_at: str  # "module path (op)" where that sum is reached
    largest_tensor_bytes: int  # the largest single activation: Table 3's figure
    channels_by_size: dict[tuple[int, int], int]  # (H, W) -> most channels of a map that size; (1, 1) for vectors
    bytes_per_element: int


def analytic_activation_memory(model: nn.Module, *, imgsz: int | tuple[int, int], bytes_per_element: int,
                               forward: Callable | None = None, input_channels: int = 3,
                               hold_module_inputs: bool = False) -> ActivationMemory:
    """The analytic count of `forward` (default `model`) on one (1, C, H, W) image of zeros, run on
    the model's device. On "meta" nothing is computed, but torch's meta kernels are Python and
    several times slower than a CPU forward at batch 1."""
    height, width = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    device = next(model.parameters()).device
    images = torch.zeros(1, input_channels, height, width, device=device)
    return trace_activation_memory(forward or model, images, weights=model, bytes_per_element=bytes_per_element,
                                   hold_module_inputs=hold_module_inputs)


def trace_activation_memory(fn: Callable, x: torch.Tensor, *, weights: nn.Module, bytes_per_element: int,
                            hold_module_inputs: bool = False) -> ActivationMemory:
    """The analytic count of fn(x) for any input (a single block's, for example); the parameters
    and buffers of `weights` are not activations. With `hold_module_inputs`, each submodule's
    inputs live until it returns, as in eager PyTorch, where the calling frames hold them (a block
    whose input is dead after its first op still keeps it): the count the real forward can meet."""
    path = _ModulePath(weights)
    log = _OpLog(_weight_storages(weights), path, bytes_per_element)
    if hold_module_inputs:
        path.on_return = log.hold
    was_training = weights.training
    weights.eval()
    try:
        with torch.no_grad(), log:
            # The input counts to the end, as the caller holds it (model(images) does).
            final = [log.note(x, made_here=False)]
            outputs = fn(x)
            final += [log.note(t, made_here=False) for t in _tensors(outputs)]
    finally:
        path.remove()
        weights.train(was_training)
    if not log.ops:
        raise MobileVisionError("the forward ran no tensor operations: nothing to count")
    last = [entry["first"] for entry in log.storages]
    for index, (_, numbers) in enumerate(log.ops):
        for number in numbers:
            last[number] = index
    for number in final:
        if number is not None:
            last[number] = len(log.ops) - 1
    change = [0] * (len(log.ops) + 1)
    for number, entry in enumerate(log.storages):
        change[entry["first"]] += entry["bytes"]
        change[last[number] + 1] -= entry["bytes"]
    alive, peak, peak_index = 0, -1, 0
    for index in range(len(log.ops)):
        alive += change[index]
        if alive > peak:
            peak, peak_index = alive, index
    channels: dict[tuple[int, int], int] = {}
    for entry in log.storages:
        shape = entry["shape"]
        size = tuple(shape[-2:]) if len(shape) == 4 else (1, 1) if len(shape) == 2 else None
        if size is not None:
            channels[size] = max(channels.get(size, 0), shape[1])
    return ActivationMemory(peak_bytes=peak, peak_at=log.ops[peak_index][0],
                            largest_tensor_bytes=max(entry["bytes"] for entry in log.storages),
                            channels_by_size=dict(sorted(channels.items(), reverse=True)),
                            bytes_per_element=bytes_per_element)


class _LiveBytes(TorchDispatchMode):
    """Bytes of the activation storages alive now, and the most alive at once."""

    def __init__(self, skip: set[int]) -> None:
        super().__init__()
        self.skip = skip
        self.live: dict[int, int] = {}
        self.current = self.peak = 0

    def hold(self, storage: torch.UntypedStorage) -> None:
        key = id(storage)
        if key in self.skip or key in self.live:
            return
        self.live[key] = storage.nbytes()
        self.current += self.live[key]
        self.peak = max(self.peak, self.current)
        # The storage's Python object lives exactly as long as the storage (torch preserves it),
        # so its finalizer runs when torch frees the memory, wherever the last reference was.
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in _tensors(out):
            self.hold(tensor.untyped_storage())
        return out


def measured_activation_peak(model: nn.Module, images: torch.Tensor, *, forward: Callable | None = None) -> int:
    """Peak bytes of activations alive at once while `forward` (default `model`) runs on `images`
    for real, at the dtype they run in; the images count, as the caller holds them throughout."""
    tracker = _LiveBytes(_weight_storages(model))
    with torch.no_grad(), tracker:
        tracker.hold(images.untyped_storage())
        (forward or model)(images)
    return tracker.peak
