"""Data order and augmentation that a resumed run repeats exactly, on one process or under torchrun."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


class ResumableDistributedSampler(DistributedSampler):
    """DistributedSampler (shuffled from seed + epoch, padded to equal shards) that can start
    part-way through an epoch: `set_position(epoch, start)` skips the first `start` indices of this
    rank's shard, which is how a run resumes from a checkpoint saved mid-epoch."""

    def __init__(self, dataset: Dataset, *, num_replicas: int, rank: int, seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.start = 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return self.num_samples - self.start


class ShardSampler(Sampler[int]):
    """Indices rank, rank + world_size, ... in order, without DistributedSampler's padding
    duplicates, so summed evaluation counts cover every image exactly once."""

    def __init__(self, size: int, *, rank: int, world_size: int) -> None:
        self.indices = range(rank, size, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class SeededAugmentation(Dataset):
    """Makes a dataset's random augmentation a function of (seed, epoch, index).

    Before each sample the albumentations Compose in `dataset.transform` is re-seeded, so the crops
    and flips of an image do not depend on worker count, worker order or where a run was resumed.
    """

    def __init__(self, dataset: Dataset, *, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        seedable = _seedable(getattr(self.dataset, "transform", None))
        if seedable is not None:
            seedable.set_random_seed(int(np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]))
        return self.dataset[index]


def _seedable(transform):
    """The albumentations Compose of a transform: itself, or the `.compose` of datasets' Pipeline."""
    for candidate in (transform, getattr(transform, "compose", None)):
        if hasattr(candidate, "set_random_seed"):
            return candidate
    return None


def _seed_worker(worker_id: int) -> None:
    # Workers of a non-persistent loader are re-forked each epoch; numpy must not repeat itself.
    np.random.seed(torch.initial_seed() % 2**32)


def train_loader(dataset: SeededAugmentation, sampler: ResumableDistributedSampler, *, batch: int, workers: int,
                 collate_fn: Callable, seed: int) -> DataLoader:
    """Full batches only (BatchNorm needs more than one image); a private generator so that
    creating the loader's iterator never draws from the global RNG that dropout uses."""
    drop_last = sampler.num_samples >= batch
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers, collate_fn=collate_fn,
                      drop_last=drop_last, worker_init_fn=_seed_worker, generator=torch.Generator().manual_seed(seed),
                      pin_memory=torch.cuda.is_available())


def eval_loader(dataset: Dataset, *, rank: int, world_size: int, batch: int, workers: int,
                collate_fn: Callable) -> DataLoader:
    return DataLoader(dataset, batch_size=batch, sampler=ShardSampler(len(dataset), rank=rank, world_size=world_size),
                      num_workers=workers, collate_fn=collate_fn, generator=torch.Generator().manual_seed(0),
                      pin_memory=torch.cuda.is_available())
