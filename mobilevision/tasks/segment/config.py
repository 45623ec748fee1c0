"""Segmentation training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.errors import MobileVisionError
from mobilevision.engine.config import Recipe, TrainConfig, option


@dataclass(frozen=True)
class SegmentTrainConfig(TrainConfig):
    # DeepLab's defaults: the Table 7 network, 513 px crops, poly schedule (TrainConfig's are classify's).
    model: str = option("deeplabv3_mobilenet_v2", "segmentation model name from `mobilevision info`")
    imgsz: int = option(513, "base size: training images' shorter side before scale jitter, and the validation input "
                        "size (longer side, padded)")
    crop: int | None = option(None, "training crop size in pixels (default: imgsz). Smaller than imgsz trains on "
                              "parts of images at full resolution for less compute per step")
    scale_min: float = option(0.5, "training scale jitter: smallest factor on the base size (DeepLab: 0.5)")
    scale_max: float = option(2.0, "training scale jitter: largest factor on the base size (DeepLab: 2.0)")
    lr: float = option(0.007, "peak learning rate (DeepLabv3: 0.007 at batch 16)")
    schedule: str = option("poly", "learning-rate schedule after warm-up, stepped every step (DeepLab: poly, "
                           "power 0.9)", ("cosine", "poly", "step"))
    batch: int = option(16, "images per step and per process (torchrun: each process takes this many)")
    output_stride: int = option(16, "backbone output stride (8 = two dilated stages, ~4x the head's cost; 32 = none, "
                                "as the multi-task model's backbone)", (8, 16, 32))
    head: str = option("mobile", "mobile: 1x1 + image pooling (the MobileNetV2 paper's head); aspp: full ASPP",
                       ("mobile", "aspp"))
    decoder: bool = option(False, "add the DeepLabv3+ decoder on the stride-4 features (sharper boundaries)")
    decoder_stride: int = option(4, "the decoder's output stride: the backbone features it fuses (TF DeepLab's "
                                 "decoder_output_stride; 8: deeper features, a 4x smaller grid, a cheaper step)", (4, 8))
    aux: bool = option(False, "add an auxiliary FCN loss on the stride-8 features (training only)")
    top_k_pixels: float = option(1.0, "average the loss over only this fraction of the batch's labelled pixels, "
                                 "the hardest (TF DeepLab's top_k_percent_pixels; 1 = all)")
    loss_stride: int = option(1, "compute the training loss on a grid this many times coarser than the input "
                              "(logits resized to it, labels sampled; TF DeepLab's upsample_logits=False): cheaper "
                              "steps on a CPU; 1 = full resolution, as torchvision and DeepLab")
    weights_backbone: str | None = option(None, "initial backbone weights of a classifier, e.g. "
                                          "torchvision:IMAGENET1K_V2 or a classify checkpoint")
    freeze_backbone: bool = option(False, "train the head only: the backbone's weights and BatchNorm statistics stay "
                                   "as loaded (heads on one backbone combine with `multitask assemble`)")

    def __post_init__(self) -> None:
        # Checked here, as one-line user errors, not by albumentations or the loss mid-run.
        if self.crop is not None and self.crop <= 0:
            raise MobileVisionError(f"--crop must be positive, got {self.crop}")
        if not 0 < self.scale_min <= self.scale_max:
            raise MobileVisionError(f"--scale-min {self.scale_min} / --scale-max {self.scale_max}: need "
                                    "0 < scale-min <= scale-max, e.g. 0.5 and 2.0 (1 and 1: no jitter)")
        if not 0 < self.top_k_pixels <= 1:
            raise MobileVisionError(f"--top-k-pixels must be in (0, 1], got {self.top_k_pixels}")
        check_loss_stride(self.loss_stride)


def check_loss_stride(loss_stride: int) -> None:
    """--loss-stride as a one-line user error (segment and multitask train), not the model's ValueError."""
    if loss_stride < 1:
        raise MobileVisionError(f"--loss-stride must be at least 1 (1: full resolution), got {loss_stride}")


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="voc",
            source="DeepLabv3 paper (Chen et al. 2017, section 4) as the MobileNetV2 paper (section 6.4) trains "
            "Mobile DeepLabv3: output stride 16, poly lr power 0.9 from 0.007, 513 px crops with 0.5-2x scale "
            "jitter and flips, batch 16, 30K iterations (~46 epochs of VOC train_aug's 10,582 images), BN trained; "
            "weight decay 4e-5 (TF DeepLab train.py default) from ImageNet weights. Paper: 75.32 mIoU on VOC val "
            "with COCO pre-training (reference/numbers.md)",
            config=SegmentTrainConfig(model="deeplabv3_mobilenet_v2", width=1.0, imgsz=513, epochs=46, batch=16,
                                      lr=0.007, optimizer="sgd", momentum=0.9, schedule="poly", weight_decay=4e-5,
                                      output_stride=16, head="mobile", weights_backbone="torchvision:IMAGENET1K_V2",
                                      workers=8),
        ),
        Recipe(
            name="quick",
            source="this project: the built-in dataset (`mobilevision data synth --images 2000`, 1600 train images "
            "of 320 px) on a 2-core CPU in about 15 minutes, from scratch (benchmarks/quick_recipe.py --task "
            "segment): width 0.5 at 256 px, output stride 16, the mobile head with the DeepLabv3+ decoder on the "
            "stride-8 features (--decoder-stride 8), the loss on a stride-4 grid (--loss-stride 4) averaged over "
            "the hardest half of its pixels (--top-k-pixels 0.5, TF DeepLab's top_k_percent_pixels), "
            "channels_last, whole images with flips and no scale jitter, AdamW 5e-3 + warm-up + cosine with "
            "gradient clipping, as the detect quick recipe. One run each with --time 15 (20 epochs are about 13 "
            "minutes there): mIoU 0.808 after 22 epochs (0.806 at epoch 17, 10.0 training minutes); with the "
            "loss over all pixels 0.788 after 22. Without the decoder 0.763 after 22 (the labels "
            "themselves, area-averaged to the stride-16 grid and resized back, score only 0.849; at stride 8, "
            "0.943); with it at stride 4 (a trial with its convs narrowed to 64 channels: steps cost 1.8x) 0.40 "
            "after 12, slower per epoch too; "
            "at 320 px without it 0.722 after 15; width 1.0 (5 epochs run) and scale jitter 0.75-1.25 (7) were "
            "behind at every epoch they ran, batch 8 from epoch 10 on (benchmarks/segment_grid_ceiling.py "
            "computes the grid scores)",
            config=SegmentTrainConfig(model="deeplabv3_mobilenet_v2", width=0.5, imgsz=256, scale_min=1.0,
                                      scale_max=1.0, epochs=20, batch=16, lr=0.005, optimizer="adamw",
                                      schedule="cosine", warmup_epochs=0.5, weight_decay=1e-4, clip_grad=10.0,
                                      output_stride=16, head="mobile", decoder=True, decoder_stride=8, loss_stride=4,
                                      top_k_pixels=0.5, workers=2),
        ),
    )
}
