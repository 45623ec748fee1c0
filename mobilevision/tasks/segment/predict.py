"""`mobilevision segment predict SOURCE`: class maps of an image, every image of a folder, or
every frame of a video, at each image's own size, saved into runs/segment/predict*."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from mobilevision.datasets.image_io import encode_label_png
from mobilevision.datasets.transforms import IGNORE_INDEX, Pipeline, segmentation_transforms
from mobilevision.visualize.masks import draw_segmentation
from mobilevision.heads.resize import resize_bilinear
from mobilevision.engine.device import select_device
from mobilevision.engine.run_dir import new_run_dir
from mobilevision.engine.media import VideoOutput, frames, is_video
from mobilevision.tasks.segment.loading import load_segmenter


@torch.no_grad()
def segment_image(network: nn.Module, image: np.ndarray, *, transform: Pipeline, device: torch.device,
                  memory_format: torch.memory_format) -> np.ndarray:
    """RGB image (H, W, 3) uint8 -> class map (H, W) uint8 at the image's own size.

    The network sees the image scaled (longer side) to the input size and padded bottom/right,
    as in validation; the padding is cut off the logits, which are then resized to (H, W)
    before the argmax, so odd sizes (97 x 131) and large images get a map pixel for pixel.
    """
    height, width = image.shape[:2]
    # The transform's mask marks its own padding with IGNORE_INDEX: what is left is the image.
    out = transform(image=image, mask=np.zeros((height, width), dtype=np.uint8))
    content = np.asarray(out["mask"]) != IGNORE_INDEX
    rows, columns = int(content.any(axis=1).sum()), int(content.any(axis=0).sum())
    batch = out["image"][None].to(device, memory_format=memory_format)
    logits = network.raw_outputs(batch)[:, :, :rows, :columns].float()
    return class_map(logits, size=(height, width))


def class_map(logits: torch.Tensor, *, size: tuple[int, int]) -> np.ndarray:
    """Logits (1, K, h, w) -> class map (H, W) uint8 at `size`: resized bilinearly before the
    argmax, so the map is not blocky. On a CPU the argmax is numpy's: torch's over the channel axis
    of an NCHW tensor took 50 ms for 7 classes at 640 x 480 on one thread, numpy's 8."""
    resized = resize_bilinear(logits, size)[0]
    if resized.device.type == "cpu":
        return resized.numpy().argmax(axis=0).astype(np.uint8)
    return resized.argmax(dim=0).to(torch.uint8).cpu().numpy()


def predict_masks(source: str, *, weights: str, imgsz: int | None = None, device: str = "auto",
                  runtime: str = "torch", project: str = "runs", name: str | None = None) -> Iterator[dict]:
    """For each image or frame: {"source", "classes": {name: fraction of pixels}, "overlay", "mask"}.

    Images: <stem>.jpg (colour overlay with a legend of the classes present) and <stem>_mask.png
    (class indices, VOC palette) in the run folder. A video: <stem>_overlay.mp4 with every frame
    annotated ("overlay" of each frame names it; "mask" is None).
    """
    network, info = load_segmenter(weights, runtime=runtime)
    preprocessing, class_names = info["preprocessing"], list(info["class_names"])
    transform = segmentation_transforms(False, size=imgsz or preprocessing["input_size"],
                                        mean=preprocessing["mean"], std=preprocessing["std"])
    target = select_device(device if runtime == "torch" else "cpu")
    memory_format = torch.channels_last if runtime == "torch" else torch.contiguous_format
    network.to(device=target, memory_format=memory_format)
    run_dir = new_run_dir(project, "segment", name or "predict", exist_ok=False)
    video = is_video(source)
    with VideoOutput(run_dir / f"{Path(source).stem}_overlay.mp4", source=source) as video_output:
        for frame_name, image in frames(source):
            class_map = segment_image(network, image, transform=transform, device=target, memory_format=memory_format)
            shown = draw_segmentation(image, class_map, class_names=class_names)
            counts = np.bincount(class_map.ravel(), minlength=len(class_names)) / class_map.size
            result = {"source": frame_name, "size": [image.shape[1], image.shape[0]],
                      "classes": {class_names[i]: round(float(f), 4) for i, f in enumerate(counts) if f > 0}}
            if video:
                video_output.write(shown)
                result.update(overlay=str(video_output.path), mask=None)
            else:
                stem = Path(frame_name).stem
                cv2.imwrite(str(run_dir / f"{stem}.jpg"), cv2.cvtColor(shown, cv2.COLOR_RGB2BGR))
                (run_dir / f"{stem}_mask.png").write_bytes(encode_label_png(class_map))
                result.update(overlay=str(run_dir / f"{stem}.jpg"), mask=str(run_dir / f"{stem}_mask.png"))
            yield result
