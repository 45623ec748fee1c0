"""Encoders from one `Scene` to the three on-disk formats: COCO records, a VOC XML, file bytes.

Output is deterministic: JPEGs through cv2.imencode at a fixed quality, PNGs through PIL at a
fixed compression level, XML from a fixed template, COCO records as plain dicts (the writer dumps
them with sorted keys).
"""

from __future__ import annotations

import cv2
import numpy as np

from mobilevision.datasets.synth.scene import Scene
from mobilevision.datasets.synth.shapes import CLASS_NAMES

JPEG_QUALITY = 92


def encode_jpeg(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok, "OpenCV could not encode a JPEG"
    return data.tobytes()


def coco_records(scene: Scene, *, image_id: int, file_name: str) -> tuple[dict, list[dict]]:
    """The COCO `images` entry and `annotations` entries of one scene.

    Segmentations are compressed RLE of the visible pixels (rings have holes, occluded shapes
    are not polygons); category ids are the labels 1..number of classes; annotation ids are
    image_id * 100 + k so that images can be encoded in any order.
    """
    from pycocotools import mask as mask_utils

    height, width = scene.image.shape[:2]
    image = {"id": image_id, "file_name": file_name, "height": height, "width": width}
    annotations = []
    for k, instance in enumerate(scene.instances):
        rle = mask_utils.encode(np.asfortranarray(instance.mask.astype(np.uint8)))
        x1, y1, x2, y2 = (float(v) for v in instance.box)
        annotations.append({
            "id": image_id * 100 + k + 1,
            "image_id": image_id,
            "category_id": instance.label,
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "area": int(instance.mask.sum()),
            "iscrowd": 0,
            "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")},
        })
    return image, annotations


def coco_categories(class_names: tuple[str, ...] = CLASS_NAMES) -> list[dict]:
    return [{"id": label, "name": name, "supercategory": "shape"} for label, name in enumerate(class_names, start=1)]


def voc_xml(scene: Scene, *, file_name: str) -> str:
    """A PASCAL VOC Annotations XML. VOC boxes are 1-based inclusive pixel indices, so a box with
    pixel edges (x1, x2) = (c0, c1 + 1) is written as xmin = c0 + 1, xmax = c1 + 1."""
    height, width = scene.image.shape[:2]
    objects = []
    for instance in scene.instances:
        x1, y1, x2, y2 = (int(v) for v in instance.box)
        truncated = int(x1 == 0 or y1 == 0 or x2 == width or y2 == height)
        objects.append(
            "\t<object>\n"
            f"\t\t<name>{CLASS_NAMES[instance.label - 1]}</name>\n"
            "\t\t<pose>Unspecified</pose>\n"
            f"\t\t<truncated>{truncated}</truncated>\n"
            "\t\t<difficult>0</difficult>\n"
            "\t\t<bndbox>\n"
            f"\t\t\t<xmin>{x1 + 1}</xmin>\n\t\t\t<ymin>{y1 + 1}</ymin>\n"
            f"\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n"
            "\t\t</bndbox>\n"
            "\t</object>\n"
        )
    return (
        "<annotation>\n"
        "\t<folder>VOC</folder>\n"
        f"\t<filename>{file_name}</filename>\n"
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
        f"\t<segmented>{int(bool(scene.instances))}</segmented>\n"
        + "".join(objects)
        + "</annotation>\n"
    )
