"""Images that decode but lie (issue 35, item 7): a JPEG with random bytes mid-scan but its end
marker intact (libjpeg only warns on stderr), a JPEG with EXIF orientation 6 (OpenCV turns it,
its boxes stay), a text file named .jpg. Each is one line in `data check` (file, value, fix; exit
code 1, as for every problem it finds); a reader drops the corrupt ones and reads the turned one
in its boxes' frame.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import detection_collate
from mobilevision.datasets.image_io import UnreadableImage, read_image

from .coco_tree import BOX, HEIGHT, IMAGES, WIDTH, corrupt_mid_scan, data_check, write_coco

TEXT = b"name,label\ncat,1\ndog,2\n"


def _turned_jpeg(path: Path) -> None:
    """The image stored with a white left strip (columns 0..23, under its box) and EXIF orientation
    6: viewers, and OpenCV by default, show it turned, the strip on top."""
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pixels[:, :24] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif, quality=95)
    path.write_bytes(buffer.getvalue())


BAD_IMAGES = {  # damage to image 2 -> its line in `data check` after the file's name, as a pattern
    # How many bytes libjpeg finds extraneous depends on the encoder's output.
    "corrupt mid-scan": (corrupt_mid_scan, re.escape("corrupt JPEG data (libjpeg: 'Corrupt JPEG data: ")
                         + r"\d+ extraneous bytes before marker 0xd9"
                         + re.escape("'); replace the file with an intact copy; sample skipped")),
    "text named .jpg": (lambda path: path.write_bytes(TEXT),
                        re.escape("not an image (starts with b'name,label\\ncat,1'); replace it with the image "
                                  "file; sample skipped")),
    "EXIF orientation 6": (_turned_jpeg, re.escape(
        "EXIF orientation 6 (viewers turn it 90 degrees clockwise) ignored: the image is read as stored, the frame "
        "COCO and VOC annotations are drawn in; if its annotations were drawn on the turned view, save the pixels "
        "turned and without the tag (PIL's ImageOps.exif_transpose)")),
}


@pytest.mark.parametrize("case", BAD_IMAGES)
def test_data_check_lists_each_corrupt_or_turned_image_in_one_line(tmp_path, capsys, case):
    damage, message = BAD_IMAGES[case]
    root = write_coco(tmp_path / "coco", [])
    damage(root / "train" / "2.jpg")
    code, problems = data_check(capsys, root)
    assert len(problems) == 2  # detect/train, segment/train
    assert all(re.fullmatch(re.escape(f"problem: {root / 'train' / '2.jpg'}: ") + message, line) for line in problems)
    assert code == 2


def test_a_reader_drops_corrupt_images_and_reads_a_turned_one_as_its_boxes_are(tmp_path):
    """Through a DataLoader worker (a forked process, with its own capture of libjpeg's warnings)."""
    root = write_coco(tmp_path / "coco", [])
    corrupt_mid_scan(root / "train" / "2.jpg")
    (root / "train" / "3.jpg").write_bytes(TEXT)
    _turned_jpeg(root / "train" / "4.jpg")
    dataset = build_dataset(root, task="detect", split="train")
    batches = list(DataLoader(dataset, batch_size=IMAGES, collate_fn=detection_collate, num_workers=1))
    assert [batch.dropped for batch in batches] == [2]
    images, targets = batches[0]
    assert [target["image_id"] for target in targets] == [1, 4]
    turned = images[1]
    assert turned.shape == (3, HEIGHT, WIDTH)  # as stored, not turned to 64 high
    x, y, w, h = BOX
    assert turned[:, y:y + h, x:x + w].min() > 0.9  # the box covers the white strip it was drawn on
    assert targets[1]["boxes"].tolist() == [[x, y, x + w, y + h]]


def test_only_the_readers_refuse_a_corrupt_jpeg(tmp_path):
    """read_image's default is for predicting on a user's photo, damaged or not; the readers are strict."""
    corrupt = write_coco(tmp_path / "coco", []) / "train" / "2.jpg"
    corrupt_mid_scan(corrupt)
    assert read_image(corrupt).shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(UnreadableImage, match="corrupt JPEG data"):
        read_image(corrupt, orientation="stored", strict=True)
