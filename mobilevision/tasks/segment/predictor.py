"""The segmenter on frames: a class map at each image's own size."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.datasets.transforms import segmentation_transforms
from mobilevision.heads.resize import resize_bilinear
from mobilevision.tasks.base import TrainedModel
from mobilevision.tasks.predictor import FramePredictor


class SegmentPredictor(FramePredictor):
    """__call__(image (H, W, 3) uint8 RGB, *, conf) -> {"segment": class map (H, W) uint8}.

    The network sees the image scaled (longer side) to the input size and padded bottom/right, as
    in validation; the padding is cut off the logits, which are then resized to (H, W) before the
    argmax, so odd sizes (97 x 131) and large images get a map pixel for pixel. With
    `maps_at_input` (FramePredictor) a frame larger than the input gets the map at the input's scale.
    """

    def __init__(self, trained: TrainedModel, *, imgsz: int, device: torch.device, name: str | None = None) -> None:
        super().__init__(trained, imgsz=imgsz, device=device, name=name)
        self.transform = segmentation_transforms(False, size=imgsz, mean=self.mean, std=self.std)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, *, conf: float = 0.0) -> dict:
        height, width = image.shape[:2]
        # The transform's mask marks its own padding with IGNORE_INDEX: what is left is the image.
        out = self.transform(image=image, mask=np.zeros((height, width), dtype=np.uint8))
        content = np.asarray(out["mask"]) != IGNORE_INDEX
        rows, columns = int(content.any(axis=1).sum()), int(content.any(axis=0).sum())
        batch = self.batch(out["image"])
        logits = self.network.raw_outputs(batch).float()
        return {"segment": frame_class_map(logits, input_size=tuple(batch.shape[-2:]), content=(rows, columns),
                                           size=(height, width), at_input=self.maps_at_input)}


def frame_class_map(logits: torch.Tensor, *, input_size: tuple[int, int], content: tuple[int, int],
                    size: tuple[int, int], at_input: bool = False) -> np.ndarray:
    """Logits (1, K, h, w) of an input of `input_size` whose top-left `content` (rows, columns) is
    the frame scaled, the rest padding -> class map (H, W) = `size`. Logits at the input size are
    cut to the content, then resized. Logits on a coarser grid (loss_stride > 1) end within a cell
    of the padding, so the whole grid is resized to the frame's size plus its padding's, and the
    padding cut off after: cutting the grid at the content's share would stretch the cells.
    at_input: a frame larger than its content is mapped at the input's size, cut to the content
    and scaled up by nearest neighbour (scale_up_map)."""
    if at_input and size[0] > content[0] and size[1] > content[1]:
        return scale_up_map(class_map(logits, size=input_size)[:content[0], :content[1]], size=size)
    if tuple(logits.shape[-2:]) == tuple(input_size):
        return class_map(logits[:, :, :content[0], :content[1]], size=size)
    padded = tuple(round(side * whole / part) for side, whole, part in zip(size, input_size, content))
    return np.ascontiguousarray(class_map(logits, size=padded)[:size[0], :size[1]])


def class_map(logits: torch.Tensor, *, size: tuple[int, int]) -> np.ndarray:
    """Logits (1, K, h, w) -> class map (H, W) uint8 at `size`: resized bilinearly before the
    argmax, so the map is not blocky."""
    # Planar (NCHW, as ONNX Runtime hands them back) and max(dim=0).indices, not argmax: torch's
    # argmax over the planes ran 64 ms for 7 x 640 x 640 logits where max took 2.7, and the planar
    # resize half the channels_last one's time. From 64 x 64 logits to 640 x 640, median 6.6 ms
    # against 12.0 for a channels_last resize and numpy's argmax (2 threads of an idle AMD EPYC;
    # 8.5 against 8.5 on one), the same classes.
    resized = resize_bilinear(logits.contiguous(), size)[0]
    return resized.max(dim=0).indices.to(torch.uint8).cpu().numpy()


def scale_up_map(class_map_: np.ndarray, *, size: tuple[int, int]) -> np.ndarray:
    """A class map (h, w) uint8 scaled to `size` (H, W) by nearest neighbour, as TF DeepLab's export
    scales its predictions to the image. For the live demo: on a 640 x 640 frame, the argmax at a
    256 px input and this took a quarter of the time of resizing the logits to the frame and the
    argmax there (docs/benchmarks.md); the classes differ only along boundaries."""
    return cv2.resize(class_map_, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
