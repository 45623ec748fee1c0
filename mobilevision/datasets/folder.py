"""Class-per-folder classification trees (ImageNet layout: <split>/<class>/<image>)."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from mobilevision.datasets.image_io import UnreadableImage, read_image
from mobilevision.datasets.problems import ProblemLog, ReportsProblems
from mobilevision.datasets.transforms import to_tensor
from mobilevision.errors import MobileVisionError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ImageFolder(ReportsProblems, Dataset):
    """Images in `root/<class>/`; labels index `class_names` (default: the sorted folder names).

    Sample: (image (3, H, W) float, label int), or None when the image cannot be read.
    With explicit `class_names`, folders not in the list are reported and left out.
    """

    count_unit = "images"  # what `data check` counts per class

    def classes_of(self, target: int) -> list[str]:
        return [self.class_names[target]]

    def __init__(self, *, root: str | Path, transform=None, class_names: list[str] | None = None) -> None:
        root = Path(root)
        if not root.is_dir():
            raise MobileVisionError(f"{root}: image folder not found; expected <root>/<split>/<class>/<image>")
        self.transform = transform or to_tensor
        self.log = ProblemLog()
        folders = sorted(path.name for path in root.iterdir() if path.is_dir())
        self.class_names = list(class_names) if class_names is not None else folders
        for folder in folders:
            if folder not in self.class_names:
                self.log.report(root / folder, f"folder {folder!r} is not one of the class names; left out")
        self.samples: list[tuple[Path, int]] = []
        for label, name in enumerate(self.class_names):
            directory = root / name
            if directory.is_dir():
                self.samples.extend((path, label) for path in sorted(directory.iterdir())
                                    if path.suffix.lower() in IMAGE_SUFFIXES)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        file, label = self.samples[index]
        try:
            # A label has no frame, so the photo is read upright, as viewers and `predict` show it.
            image = read_image(file, orientation="exif", strict=True)
        except UnreadableImage as error:
            self.log.skip(file, str(error))
            return None
        return self.transform(image=image)["image"], label
