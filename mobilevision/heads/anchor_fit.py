"""How well an anchor layout covers a dataset's boxes, and the layout fitted to them (`--anchors auto`).

Best possible recall (BPR): the share of ground-truth boxes that at least one anchor overlaps at
IoU >= the training match IoU, i.e. the boxes the matcher can give a positive by its threshold
rather than only by the forced best-anchor match (YOLOv5's autoanchor reports the same for its
anchors, with a width/height ratio in place of IoU).

It is exact and cheap: anchors of one shape on one level differ only by their centre, and the IoU
of two boxes of fixed sizes never grows as their centres move apart along x or along y, so the best
anchor of each (level, shape) is the one in the grid cell holding the box's centre. A box is
compared with one anchor per (level, shape), ~30, not with all ~2,000; the anchors themselves come
from the model's AnchorGenerator, so the layout measured is the one trained.

The fit searches SSD's own parameters, not free anchor sizes: the level scales (min_scale,
max_scale) and one exponent that stretches the layout's aspect ratios (r -> r ** p, so TF's
1, 2, 0.5, 3, 0.3333 become 1, 4, 0.25, 9, 0.111 at p = 2). The number of anchors per location stays
the layout's, so the head's shapes do not change. Coordinate ascent on a grid, maximising the mean
over boxes of log(1 + positives), a box's positives being the anchors SSD's matcher gives it (IoU
at least the match IoU). BPR alone is the wrong aim: spreading the scales wide covers every box
with one anchor but halves the positives of the common ones (the built-in data at 384 px: BPR 0.953
to 1.000, positives per box 23.7 to 11.6, and 10 points of COCO mAP lost after 10 minutes of
training, docs/experiments.md). The log gives a box's first positive the most weight and further
ones less; and a layout must cover at least the start's share of the boxes, or KEEP_BPR of them, so
that many positives on the common boxes never cost the rare ones their match. The starting layout
is a candidate, so on the boxes searched (a fixed sample of FIT_SAMPLE_BOXES) the fit is never worse
than the start, up to the 4-decimal rounding of the values recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mobilevision.heads.anchors import AnchorGenerator, default_aspect_ratios, feature_map_sizes

MIN_SCALES = tuple(float(s) for s in np.geomspace(0.02, 0.6, 16))
MAX_SCALE_STEPS = 10  # max_scale values tried between min_scale and 1
RATIO_POWERS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
FIT_SAMPLE_BOXES = 500  # positives need every anchor's IoU: the search scores a fixed sample of larger sets
IOU_CHUNK = 65_536  # boxes compared with their cells' anchors at once
POSITIVES_CHUNK = 512  # boxes compared with every anchor at once
KEEP_BPR = 0.98  # the fit keeps at least the start's BPR, or this much (YOLOv5's refit threshold)


@dataclass(frozen=True)
class AnchorFit:
    """An anchor layout's parameters and its coverage of a box set."""

    min_scale: float
    max_scale: float
    aspect_ratios: tuple[float, ...]
    bpr: float  # best possible recall at the match IoU
    mean_iou: float  # mean over boxes of the best anchor's IoU
    positives: float = 0.0  # mean over boxes of the anchors at the match IoU or above
    fitness: float = 0.0  # mean over boxes of log(1 + positives): what the fit maximises


def best_anchor_iou(boxes: torch.Tensor, *, generator: AnchorGenerator, strides: Sequence[int],
                    image_size: tuple[int, int]) -> torch.Tensor:
    """boxes (N, 4) xyxy in input pixels of an (H, W) input -> (N,) IoU of each with its best anchor.

    Equal to `box_iou(boxes, anchors).max(dim=1)` over all the generator's anchors (module docstring).
    """
    centres = cell_centres(boxes, generator=generator, strides=strides, image_size=image_size)
    return _best_iou(boxes, centres=centres, sizes=anchor_sizes(generator, image_size=image_size))


def cell_centres(boxes: torch.Tensor, *, generator: AnchorGenerator, strides: Sequence[int],
                 image_size: tuple[int, int]) -> list[torch.Tensor]:
    """Per level, (N, 2) xy of the anchors in the cell that holds each box's centre, float64.
    They depend on the grid only, not on the anchor shapes, so a search computes them once."""
    sizes = feature_map_sizes(image_size, strides=strides)
    anchors = generator(sizes, image_size).to(torch.float64)
    boxes = boxes.to(torch.float64)
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    centres, start = [], 0
    for (grid_h, grid_w), per_cell in zip(sizes, generator.num_anchors_per_location()):
        level = anchors[start:start + grid_h * grid_w * per_cell].reshape(grid_h, grid_w, per_cell, 4)
        start += grid_h * grid_w * per_cell
        # Cell j spans [j, j + 1) * W / grid_w, and its anchors are centred in it.
        col = (centre_x * grid_w / image_size[1]).floor().long().clamp(0, grid_w - 1)
        row = (centre_y * grid_h / image_size[0]).floor().long().clamp(0, grid_h - 1)
        cell = level[row, col, 0]
        centres.append((cell[:, :2] + cell[:, 2:]) / 2)
    return centres


def anchor_sizes(generator: AnchorGenerator, *, image_size: tuple[int, int]) -> list[torch.Tensor]:
    """Per level, (S, 2) width and height in pixels of each anchor shape, as the generator makes them
    for an (H, W) input (read off a one-cell grid per level)."""
    anchors = generator([(1, 1)] * len(generator.shapes), image_size).to(torch.float64)
    sizes = anchors[:, 2:] - anchors[:, :2]
    return list(sizes.split(generator.num_anchors_per_location()))


def _best_iou(boxes: torch.Tensor, *, centres: list[torch.Tensor], sizes: list[torch.Tensor]) -> torch.Tensor:
    """(N,) best IoU of boxes (N, 4) with the anchors of sizes[l] (S, 2) at centres[l] (N, 2)."""
    boxes = boxes.to(torch.float64)
    best = torch.zeros(len(boxes), dtype=torch.float64)
    for level_centres, level_sizes in zip(centres, sizes):
        half = level_sizes[None] / 2  # (1, S, 2)
        # In chunks: COCO's ~860k boxes would take ~1 GB of (N, S, 4) temporaries at once.
        for start in range(0, len(boxes), IOU_CHUNK):
            chunk = slice(start, start + IOU_CHUNK)
            anchors = torch.cat([level_centres[chunk, None] - half, level_centres[chunk, None] + half], dim=-1)
            best[chunk] = torch.maximum(best[chunk], _paired_iou(boxes[chunk, None, :], anchors).max(dim=1).values)
    return best


def _paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of broadcast xyxy boxes a (..., 4) and b (..., 4) -> (...)."""
    width = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    height = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter)


def anchor_positives(boxes: torch.Tensor, *, generator: AnchorGenerator, strides: Sequence[int],
                     image_size: tuple[int, int], match_iou: float) -> torch.Tensor:
    """boxes (N, 4) xyxy in input pixels -> (N,) int64 count of the generator's anchors whose IoU
    with each is at least match_iou: the positives SSD's matcher gives it by its threshold."""
    # float32: a count at a threshold, read off ~10^7 IoUs per layout the fit tries.
    anchors = generator(feature_map_sizes(image_size, strides=strides), image_size).float()
    boxes = boxes.float()
    counts = torch.zeros(len(boxes), dtype=torch.int64)
    for start in range(0, len(boxes), POSITIVES_CHUNK):
        chunk = slice(start, start + POSITIVES_CHUNK)
        counts[chunk] = (_paired_iou(boxes[chunk, None, :], anchors[None]) >= match_iou).sum(dim=1)
    return counts


def coverage(boxes: torch.Tensor, *, generator: AnchorGenerator, strides: Sequence[int],
             image_size: tuple[int, int], match_iou: float) -> tuple[float, float]:
    """(BPR, mean best IoU) of a generator's anchors on boxes (N, 4) xyxy in input pixels; (1, 1)
    for no boxes."""
    best = best_anchor_iou(boxes, generator=generator, strides=strides, image_size=image_size)
    if not len(best):
        return 1.0, 1.0
    return float((best >= match_iou).double().mean()), float(best.mean())


def anchor_coverage(boxes: torch.Tensor, *, layout: str, min_scale: float, max_scale: float,
                    aspect_ratios: Sequence[float] | None, strides: Sequence[int], image_size: tuple[int, int],
                    match_iou: float, sample: torch.Tensor | None = None) -> AnchorFit:
    """One layout's parameters and its coverage of boxes (N, 4) xyxy in input pixels: BPR and mean
    best IoU over every box, positives per box over `sample` (default: every box), as a count reads
    every anchor's IoU with each box (COCO's ~860k boxes: ~10^9 IoUs at 320 px)."""
    ratios = tuple(aspect_ratios) if aspect_ratios is not None else default_aspect_ratios(layout)
    generator = AnchorGenerator(layout=layout, num_levels=len(strides), min_scale=min_scale, max_scale=max_scale,
                                aspect_ratios=ratios)
    bpr, mean_iou = coverage(boxes, generator=generator, strides=strides, image_size=image_size, match_iou=match_iou)
    positives = anchor_positives(boxes if sample is None else sample, generator=generator, strides=strides,
                                 image_size=image_size, match_iou=match_iou)
    return AnchorFit(min_scale=min_scale, max_scale=max_scale, aspect_ratios=ratios, bpr=bpr, mean_iou=mean_iou,
                     **_positive_stats(positives))


def _positive_stats(positives: torch.Tensor) -> dict[str, float]:
    if not len(positives):
        return {"positives": 0.0, "fitness": 0.0}
    return {"positives": float(positives.double().mean()), "fitness": float(positives.double().log1p().mean())}


def fit_anchors(boxes: torch.Tensor, *, layout: str, min_scale: float, max_scale: float,
                aspect_ratios: Sequence[float] | None, strides: Sequence[int], image_size: tuple[int, int],
                match_iou: float, seed: int = 0) -> AnchorFit:
    """The layout's scales and stretched aspect ratios that cover boxes (N, 4) xyxy in input pixels
    best (module docstring), starting from the given ones; its BPR and mean IoU are on all boxes,
    its positives per box on the sample searched."""
    base_ratios = tuple(aspect_ratios) if aspect_ratios is not None else default_aspect_ratios(layout)
    sample = boxes
    if len(boxes) > FIT_SAMPLE_BOXES:
        generator = torch.Generator().manual_seed(seed)
        sample = boxes[torch.randperm(len(boxes), generator=generator)[:FIT_SAMPLE_BOXES]]

    def score(min_s: float, max_s: float, ratios: tuple[float, ...]) -> AnchorFit:
        generator = AnchorGenerator(layout=layout, num_levels=len(strides), min_scale=min_s, max_scale=max_s,
                                    aspect_ratios=ratios)
        positives = anchor_positives(sample, generator=generator, strides=strides, image_size=image_size,
                                     match_iou=match_iou)
        bpr = float((positives > 0).double().mean()) if len(positives) else 1.0
        return AnchorFit(min_scale=min_s, max_scale=max_s, aspect_ratios=ratios, bpr=bpr, mean_iou=0.0,
                         **_positive_stats(positives))

    best = score(min_scale, max_scale, base_ratios)
    least_bpr = min(best.bpr, KEEP_BPR)

    def better(a: AnchorFit, b: AnchorFit) -> AnchorFit:
        return a if (a.bpr >= least_bpr, a.fitness, a.bpr) >= (b.bpr >= least_bpr, b.fitness, b.bpr) else b

    for _ in range(2):
        for min_s in MIN_SCALES:
            for max_s in np.linspace(min_s, 1.0, MAX_SCALE_STEPS + 1)[1:]:
                best = better(best, score(min_s, float(max_s), best.aspect_ratios))
        for power in RATIO_POWERS:
            ratios = tuple(round(r ** power, 4) for r in base_ratios)
            best = better(best, score(best.min_scale, best.max_scale, ratios))
    return anchor_coverage(boxes, layout=layout, min_scale=round(best.min_scale, 4),
                           max_scale=round(best.max_scale, 4), aspect_ratios=best.aspect_ratios, strides=strides,
                           image_size=image_size, match_iou=match_iou, sample=sample)
