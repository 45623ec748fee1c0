"""torchrun support in a few functions: join the process group, know your rank, reduce sums.

Without torchrun (no WORLD_SIZE in the environment) everything here is a no-op for one process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

Result = TypeVar("Result")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only rank 0 prints and writes files."""
        return self.rank == 0


def init_distributed(device_name: str) -> DistInfo:
    """Join the torchrun process group (nccl on CUDA, gloo otherwise) once; return this rank's place."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def dist_info() -> DistInfo:
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of `tensor` over all ranks (a copy; the input is untouched). Evaluators reduce their
    counts with this, so metrics equal the single-process ones on the same data."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor.clone()
    backend_device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    total = tensor.detach().to(backend_device, copy=True)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total.to(tensor.device)


def broadcast_object(value):
    """Rank 0's value on every rank (e.g. the run folder it created)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Rank 0's BatchNorm statistics on every rank. DDP syncs buffers at the start of each forward,
    so after the last step every rank holds the statistics of its own last batch; evaluating with
    those would make a rank's shard see other weights than the checkpoint rank 0 writes."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Rank 0's parameters of `module` on every rank, after a rank changed them outside the
    optimizer (DDP keeps only the gradients in step)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    for parameter in module.parameters():
        dist.broadcast(parameter.data, src=0)


def any_rank(flag: bool) -> bool:
    """True when `flag` is true on some rank, so every rank stops together."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    return bool(reduce_sum(torch.tensor([int(flag)])).item())


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def on_every_rank(device: str, work: Callable[[], Result]) -> Result | None:
    """Run `work` in every torchrun process (evaluation reduces across them); the result on rank 0,
    None on the others, which then print nothing."""
    is_main = init_distributed(device).is_main
    try:
        result = work()
    finally:
        shutdown()
    return result if is_main else None
