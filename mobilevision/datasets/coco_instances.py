"""Opening a COCO instances JSON: every entry checked before pycocotools indexes the file.

pycocotools trusts the file, so a malformed entry surfaces later as a KeyError, an IndexError or
an error from its C code, in the middle of an epoch or of `data check`: an annotation without
"bbox", a bbox of 3 values or with a string in it, a polygon of fewer than 3 points, an RLE of
another size than its image. Each annotation is checked once here; a malformed one is dropped
from every view (detection, segmentation, joint, so that their targets agree) and reported: each
on its own line in `data check`, in one summarising warning in training, whose other samples
train. An image entry without `file_name`, or with a size that is not a number, is a one-line
error instead: nothing in the file could be placed on that image.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

from mobilevision.datasets.problems import ProblemLog
from mobilevision.errors import MobileVisionError

NUMBER = (int, float)  # what JSON numbers decode to (bool, also an int, is no coordinate)
ID = (int, str)  # what an id may be: pycocotools keys dicts by them


def load_coco(annotation_file: str | Path, *, log: ProblemLog | None = None):
    """The instances JSON at `annotation_file` as a pycocotools COCO, malformed annotations left out.

    log: where the dropped annotations are reported, each a problem and all in one warning (None:
    a caller that reads only the categories). Raises MobileVisionError for a file that is missing, not JSON, not shaped like
    COCO, or with an image entry that cannot be placed.
    """
    from pycocotools.coco import COCO

    data = _read_json(annotation_file)
    images = _image_entries(data, annotation_file)
    category_ids = {category["id"] for category in data["categories"]}
    kept, reasons = [], []
    for position, annotation in enumerate(data["annotations"]):
        reason = annotation_problem(annotation, position=position, images=images, category_ids=category_ids)
        if reason is None:
            kept.append(annotation)
        else:
            reasons.append(f"{reason}; annotation dropped")
    if log is not None:
        log.report_many(annotation_file, reasons, what="malformed annotation(s) dropped")
    coco = COCO()
    coco.dataset = {**data, "annotations": kept}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def _read_json(annotation_file: str | Path) -> dict:
    try:
        data = json.loads(Path(annotation_file).read_text())
    except FileNotFoundError as error:
        raise MobileVisionError(f"{annotation_file}: COCO annotation file not found; check the dataset root") from error
    except OSError as error:
        raise MobileVisionError(f"{annotation_file}: cannot read it ({error.strerror or error})") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MobileVisionError(f"{annotation_file}: not a COCO instances JSON ({error}); "
                                "it needs 'images', 'annotations' and 'categories'") from error
    # An image-info file (COCO's test-dev) has no annotations, and may have no categories.
    data = {"annotations": [], "categories": [], **data} if isinstance(data, dict) else data
    if not isinstance(data, dict) or not all(isinstance(data.get(key), list)
                                             for key in ("images", "annotations", "categories")):
        raise MobileVisionError(f"{annotation_file}: not a COCO instances JSON; it needs 'images', "
                                "'annotations' and 'categories', each a list")
    for category in data["categories"]:
        if not isinstance(category, dict) or not isinstance(category.get("id"), ID) or "name" not in category:
            raise MobileVisionError(f"{annotation_file}: category entry {_short(category)} needs an 'id' and a 'name'")
    return data


def _image_entries(data: dict, annotation_file: str | Path) -> dict:
    """image id -> its entry, each checked: an id, a file_name, and a height and width that are
    whole positive numbers when given (without them detection checks its boxes against the decoded
    image, and segmentation, which draws polygons at that size, refuses the file)."""
    images = {}
    for position, image in enumerate(data["images"]):
        if not isinstance(image, dict) or not isinstance(image.get("id"), ID):
            raise MobileVisionError(f"{annotation_file}: image entry {position} ({_short(image)}) has no 'id'; "
                                    "give every image an id, a file_name, a height and a width")
        if not isinstance(image.get("file_name"), str) or not image["file_name"]:
            raise MobileVisionError(f"{annotation_file}: image {image['id']} has no file_name; add the image's "
                                    "file name (relative to the images folder) to its entry")
        for side in ("height", "width"):
            value = image.get(side)
            if value and (type(value) not in NUMBER or not value > 0 or not float(value).is_integer()):
                raise MobileVisionError(f"{annotation_file}: image {image['id']} ({image['file_name']}) has "
                                        f"{side} {value!r}; write its size in pixels as whole numbers")
        images[image["id"]] = image
    return images


def annotation_problem(annotation, *, position: int, images: dict, category_ids: set) -> str | None:
    """What is wrong with one entry of 'annotations' and how to fix it, or None when it is sound.

    position: its index in the list (the name of an entry without an id); images: id -> entry;
    category_ids: the ids in 'categories'.
    """
    if not isinstance(annotation, dict):
        return f"annotation {position} is {_short(annotation)}, not an object; delete it"
    image_id = annotation.get("image_id")
    image = images.get(image_id) if isinstance(image_id, ID) else None
    if image is None:
        problem = f"refers to image {_short(image_id)}, which is not in 'images'; fix its image_id or add the image"
    elif not isinstance(annotation.get("id"), ID):
        problem = "has no id; give it a number no other annotation has"
    elif not isinstance(annotation.get("category_id"), ID) or annotation["category_id"] not in category_ids:
        problem = f"has unknown category id {_short(annotation.get('category_id'))}; use one of the ids in 'categories'"
    else:
        problem = _bbox_problem(annotation.get("bbox"))
        if problem is None and annotation.get("segmentation"):
            size = (int(image["height"]), int(image["width"])) if image.get("height") and image.get("width") else None
            problem = _segmentation_problem(annotation["segmentation"], size=size)
        if problem is None:
            return None
    # Named only now: a name per sound annotation would cost more than checking it.
    name = f"annotation {annotation['id']}" if isinstance(annotation.get("id"), ID) else f"annotation {position}"
    where = f"image {image_id}, {image['file_name']}" if image is not None else "no image"
    return f"{name} ({where}) {problem}"


def _bbox_problem(bbox) -> str | None:
    fix = "write it as [x, y, width, height] in pixels"
    if bbox is None:
        return "has no bbox; add one, [x, y, width, height] in pixels"
    if not isinstance(bbox, list):
        return f"has bbox {_short(bbox)}, not a list; {fix}"
    if len(bbox) != 4:
        return f"has bbox {_short(bbox)}: {len(bbox)} values, not 4; {fix}"
    wrong = next((value for value in bbox if type(value) not in NUMBER), None)
    if wrong is not None:
        return f"has bbox {_short(bbox)}: {_short(wrong)} is not a number; {fix}"
    return None


def _segmentation_problem(segmentation, *, size: tuple[int, int] | None) -> str | None:
    """Polygons [[x1, y1, x2, y2, ...], ...] or an RLE {"size": [h, w], "counts"}; `size` (h, w):
    the image's, when its entry gives it."""
    if isinstance(segmentation, dict):
        return _rle_problem(segmentation, size=size)
    if not isinstance(segmentation, list):
        return f"has segmentation {_short(segmentation)}, neither polygons nor an RLE; write [[x1, y1, x2, y2, ...]]"
    for polygon in segmentation:
        if not isinstance(polygon, list):
            return (f"has segmentation {_short(segmentation)}, not a list of polygons; "
                    "write each polygon as its own list: [[x1, y1, x2, y2, ...]]")
        try:  # one sum in C instead of a type check per number: COCO's train split holds tens of millions
            finite = math.isfinite(sum(polygon))
        except TypeError:
            wrong = next(value for value in polygon if type(value) not in NUMBER)
            return f"has polygon {_short(polygon)}: {_short(wrong)} is not a number; write x, y pixel coordinates"
        # Fewer than 3 points bound no area (pycocotools rejects up to 2 and reads 4 numbers as a box).
        if len(polygon) < 6 or len(polygon) % 2:
            return (f"has polygon {_short(polygon)}: {len(polygon)} numbers, not x, y pairs of at least 3 points; "
                    "fix or delete the polygon")
        if not finite:
            return f"has polygon {_short(polygon)} with a non-finite coordinate; fix or delete the polygon"
    return None


def _rle_problem(rle: dict, *, size: tuple[int, int] | None) -> str | None:
    fix = "encode the mask again at its image's size (pycocotools.mask.encode)"
    rle_size, counts = rle.get("size"), rle.get("counts")
    if not (isinstance(rle_size, list) and len(rle_size) == 2 and all(type(v) is int and v > 0 for v in rle_size)):
        return f"has an RLE of size {_short(rle_size)}, not [height, width]; {fix}"
    if size is not None and tuple(rle_size) != size:
        return f"has an RLE of size {rle_size} (height, width) but its image is {list(size)}; {fix}"
    if isinstance(counts, list):
        if not all(type(v) is int and v >= 0 for v in counts):
            return f"has an RLE whose counts {_short(counts)} are not all whole numbers >= 0; {fix}"
        total = sum(counts)
    elif isinstance(counts, str):
        total = _compressed_total(counts)
    else:
        return f"has an RLE whose counts are {_short(counts)}, neither a list nor a compressed string; {fix}"
    # pycocotools decodes counts that cover fewer pixels into uninitialised memory and refuses more.
    if total != rle_size[0] * rle_size[1]:
        return (f"has an RLE whose counts cover {total} pixels, not {rle_size[0]} x {rle_size[1]} = "
                f"{rle_size[0] * rle_size[1]}; {fix}")
    return None


def _compressed_total(counts: str) -> int:
    """The pixels a compressed RLE string covers: the sum of its run lengths, decoded as
    pycocotools' rleFrString does (6-bit groups from '0', each run after the second a difference
    from the run two before); -1 for a string that ends mid-number."""
    runs, number, shift = [], 0, 0
    for char in counts:
        group = ord(char) - 48
        number |= (group & 0x1F) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            number |= -1 << shift
        if len(runs) > 2:
            number += runs[-2]
        runs.append(number)
        number, shift = 0, 0
    return sum(runs) if shift == 0 else -1


def _short(value, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters (a polygon can hold thousands of numbers)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
