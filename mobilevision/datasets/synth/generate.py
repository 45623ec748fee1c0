"""Writing the built-in dataset: every scene in COCO, PASCAL VOC and class-folder form.

Layout under `out`:

    mobilevision_synth.json              what generated it (seed, size, counts, class names)
    coco/annotations/instances_{train,val}.json, coco/{train,val}/NNNNNN.jpg
    voc/JPEGImages/NNNNNN.jpg, voc/Annotations/NNNNNN.xml, voc/SegmentationClass/NNNNNN.png,
    voc/ImageSets/{Main,Segmentation}/{train,val}.txt
    folders/{train,val}/<class>/NNNNNN.jpg   a square crop around the largest object, filed under its
                                         class; the central half of an empty scene under "background"

The COCO and VOC views' JPEGs are hard links to one file where the filesystem allows (edit a copy
and both views change). Scene i is drawn from the generator seeded with (seed, i), so worker processes render any subset
in any order and the files are byte-identical for the same arguments.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mobilevision.datasets.image_io import encode_label_png
from mobilevision.datasets.resolve import MARKER
from mobilevision.datasets.synth.options import DEFAULT_SCENE, SceneOptions
from mobilevision.datasets.synth.scene import render_scene
from mobilevision.datasets.synth.shapes import CLASS_NAMES
from mobilevision.datasets.synth.writers import coco_categories, coco_records, encode_jpeg, voc_xml
from mobilevision.errors import MobileVisionError

BACKGROUND = "background"
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class _Job:
    out: Path
    seed: int
    size: int
    index: int
    split: str
    options: SceneOptions


def split_of(index: int, *, images: int, val_images: int) -> str:
    """The last `val_images` indices are `val`."""
    return "val" if index >= images - val_images else "train"


def generate_dataset(out: str | Path, *, images: int, val_images: int | None = None, seed: int = 0, size: int = 320,
                     workers: int = 2, options: SceneOptions = DEFAULT_SCENE) -> Path:
    """Render `images` scenes of (size, size) pixels (or as `options` say: object and image sizes,
    classes) and write all three views under `out`; the last `val_images` of them (default:
    VAL_FRACTION, at least one of two) form the val split."""
    if val_images is None:
        val_images = max(1, round(images * VAL_FRACTION)) if images >= 2 else 0
    if not 0 <= val_images <= images:
        raise MobileVisionError(f"--val-images {val_images}: the val split takes 0 to {images} of the {images} "
                                "images (--images)")
    out = Path(out)
    _prepare_output(out)
    for folder in ("coco/annotations", "coco/train", "coco/val", "voc/JPEGImages", "voc/Annotations",
                   "voc/SegmentationClass", "voc/ImageSets/Main", "voc/ImageSets/Segmentation"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        for name in (BACKGROUND, *options.class_names):
            (out / "folders" / split / name).mkdir(parents=True, exist_ok=True)
    jobs = [_Job(out, seed, size, index, split_of(index, images=images, val_images=val_images), options)
            for index in range(images)]
    if workers > 1 and images > 1:
        import multiprocessing

        # Spawned, not forked: a fork taken while torch or DataLoader threads hold locks (a training
        # run, the loader benchmark) deadlocked the pool. Spawning costs ~0.5 s of imports.
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_serial_opencv) as pool:
            results = pool.map(_write_scene, jobs, chunksize=max(1, min(32, images // (4 * workers))))
    else:
        results = [_write_scene(job) for job in jobs]

    for split in ("train", "val"):
        entries = [(job, result) for job, result in zip(jobs, results) if job.split == split]
        coco = {
            "info": {"description": "mobilevision built-in dataset", "seed": seed},
            "categories": coco_categories(options.class_names),
            "images": [image for _, (image, _) in entries],
            "annotations": [annotation for _, (_, annotations) in entries for annotation in annotations],
        }
        (out / "coco/annotations" / f"instances_{split}.json").write_text(json.dumps(coco, sort_keys=True))
        names = "".join(f"{_stem(job.index)}\n" for job, _ in entries)
        (out / "voc/ImageSets/Main" / f"{split}.txt").write_text(names)
        (out / "voc/ImageSets/Segmentation" / f"{split}.txt").write_text(names)
    marker = {"generator": "mobilevision synth", "seed": seed, "size": size, "images": images, "val_images": val_images,
              "class_names": list(options.class_names), "folder_background_class": BACKGROUND}
    if options != DEFAULT_SCENE:  # the default dataset's marker keeps its bytes
        marker["scene_options"] = dataclasses.asdict(options)
    (out / MARKER).write_text(json.dumps(marker, sort_keys=True, indent=1))
    return out


def _prepare_output(out: Path) -> None:
    """Refuse a non-empty folder that is not a built-in dataset; empty an old built-in dataset, so
    that a smaller regeneration leaves no stale images behind in the folder view."""
    if not out.exists() or not any(out.iterdir()):
        return
    if not (out / MARKER).is_file():
        raise MobileVisionError(f"--out {out}: folder is not empty and holds no built-in dataset "
                                f"({MARKER} missing); choose a new or empty folder")
    for view in ("coco", "voc", "folders"):
        shutil.rmtree(out / view, ignore_errors=True)
    (out / MARKER).unlink()


def _serial_opencv() -> None:
    # The processes are the parallelism; OpenCV's own threads would only compete with them.
    import cv2

    cv2.setNumThreads(1)


def _stem(index: int) -> str:
    return f"{index:06d}"


def _write_scene(job: _Job) -> tuple[dict, list[dict]]:
    """Render and write one scene's files; return its COCO records for the JSON."""
    scene = render_scene(seed=job.seed, index=job.index, size=job.size, options=job.options)
    stem = _stem(job.index)
    jpeg = encode_jpeg(scene.image)
    label = scene.image_label()
    folder_class = CLASS_NAMES[label - 1] if label else BACKGROUND
    first = job.out / "coco" / job.split / f"{stem}.jpg"
    first.write_bytes(jpeg)
    _link_or_write(first, job.out / "voc/JPEGImages" / f"{stem}.jpg", jpeg)
    (job.out / "folders" / job.split / folder_class / f"{stem}.jpg").write_bytes(encode_jpeg(scene.object_view()))
    (job.out / "voc/Annotations" / f"{stem}.xml").write_text(voc_xml(scene, file_name=f"{stem}.jpg"))
    (job.out / "voc/SegmentationClass" / f"{stem}.png").write_bytes(encode_label_png(scene.class_map()))
    return coco_records(scene, image_id=job.index + 1, file_name=f"{stem}.jpg")


def _link_or_write(source: Path, path: Path, data: bytes) -> None:
    """Hard-link the two views' copies of one JPEG (half of the scene-image writes, the generator's
    bottleneck on slow disks); write a copy where the filesystem has no hard links."""
    path.unlink(missing_ok=True)
    try:
        os.link(source, path)
    except OSError:
        path.write_bytes(data)
