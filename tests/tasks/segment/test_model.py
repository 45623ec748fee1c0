"""The DeepLabV3 task model: the training / eval contract, output strides, options, learning."""

import math

import pytest
import torch

from mobilevision.errors import MobileVisionError
from mobilevision.heads.segmentation_loss import class_balance_weights, segmentation_cross_entropy
from mobilevision.tasks.segment.evaluator import SegmentationEvaluator
from mobilevision.tasks.registry import get_task
from mobilevision.tasks.segment.model import build_deeplabv3


def _grads_finite(model: torch.nn.Module) -> bool:
    return all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize(
    "options", [{}, {"aux": True}, {"decoder": True, "aux": True}], ids=["plain", "aux", "decoder+aux"]
)
def test_all_ignore_crop_trains_without_nan(options):
    model = build_deeplabv3(width=0.35, num_classes=5, deeplab=options).train()
    losses = model(torch.randn(2, 3, 64, 64), torch.full((2, 64, 64), 255))
    assert set(losses) == {"segmentation", "aux"} if options.get("aux") else {"segmentation"}
    total = sum(losses.values())
    total.backward()
    assert total.item() == 0.0
    assert _grads_finite(model)


def test_loss_is_the_mean_over_labelled_pixels():
    """Ignored pixels change neither the sum nor the count: the loss equals cross-entropy on the rest."""
    model = build_deeplabv3(width=0.35, num_classes=5).eval()  # eval: dropout off, BN fixed
    images, targets = torch.randn(2, 3, 64, 64), torch.randint(0, 5, (2, 64, 64))
    targets[:, :20] = 255
    logits = model.raw_outputs(images)
    expected = torch.nn.functional.cross_entropy(logits, targets, ignore_index=255)
    model.train()
    model.apply(lambda m: m.eval() if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout)) else None)
    assert model(images, targets)["segmentation"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_hard_pixel_mining_averages_the_hardest_labelled_pixels():
    """Worked by hand: two classes, logits (0, 0) give every pixel loss ln 2 and logits (0, 4)
    give ln(1 + e^4) for class 0 and ln(1 + e^-4) for class 1. Of 8 labelled pixels (2 ignored),
    the top 25% are the 2 pixels of class 0 under (0, 4)."""
    logits = torch.zeros(1, 2, 2, 5)
    logits[0, 1, 0, :3] = 4.0  # pixels (0, 0..2) lean to class 1
    targets = torch.tensor([[[0, 0, 1, 255, 255], [1, 1, 0, 0, 1]]])
    hard = math.log(1 + math.exp(4))
    assert segmentation_cross_entropy(logits, targets, top_k_pixels=0.25).item() == pytest.approx(hard)
    everything = (2 * hard + math.log(1 + math.exp(-4)) + 5 * math.log(2)) / 8
    assert segmentation_cross_entropy(logits, targets).item() == pytest.approx(everything)
    all_ignore = segmentation_cross_entropy(logits.requires_grad_(), torch.full_like(targets, 255), top_k_pixels=0.25)
    all_ignore.backward()
    assert all_ignore.item() == 0.0 and torch.count_nonzero(logits.grad) == 0


def test_class_weights_weigh_each_pixel_by_its_class():
    """The hand-worked pixels above with class 1 weighing 3: the plain mean is the weighted sum over
    the summed weights (F.cross_entropy's weighted mean), the mined mean the largest weighted losses."""
    logits = torch.zeros(1, 2, 2, 5)
    logits[0, 1, 0, :3] = 4.0
    targets = torch.tensor([[[0, 0, 1, 255, 255], [1, 1, 0, 0, 1]]])
    weights = torch.tensor([1.0, 3.0])
    hard, easy, even = math.log(1 + math.exp(4)), math.log(1 + math.exp(-4)), math.log(2)
    weighted = (2 * hard + 3 * easy + 2 * even + 3 * 3 * even) / (4 * 1 + 4 * 3)
    assert segmentation_cross_entropy(logits, targets, class_weights=weights).item() == pytest.approx(weighted)
    assert segmentation_cross_entropy(logits, targets, class_weights=weights).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, targets, weight=weights, ignore_index=255).item())
    # The top 2 of 8: class 0 under (0, 4), ln(1 + e^4) ~ 4.02 each; the next 2: class 1 at 3 ln 2 ~ 2.08.
    assert segmentation_cross_entropy(logits, targets, top_k_pixels=0.25, class_weights=weights).item() == (
        pytest.approx(hard))
    assert segmentation_cross_entropy(logits, targets, top_k_pixels=0.5, class_weights=weights).item() == (
        pytest.approx((2 * hard + 2 * 3 * even) / 4))


def test_class_balance_weights_follow_enet():
    """1 / ln(1.02 + p), scaled so that the mean pixel weighs 1: worked for shares 0.9 and 0.1."""
    raw = [1 / math.log(1.02 + 0.9), 1 / math.log(1.02 + 0.1)]
    mean = 0.9 * raw[0] + 0.1 * raw[1]
    assert class_balance_weights([0.9, 0.1]) == pytest.approx([raw[0] / mean, raw[1] / mean], rel=1e-3)
    speck = class_balance_weights([0.999, 0.001, 0.0])
    assert speck[2] / speck[0] == pytest.approx(math.log(2.019) / math.log(1.02), rel=1e-3)  # absent: ~35x, bounded
    rooted = class_balance_weights([0.9, 0.1], power=0.5)
    root_mean = 0.9 * raw[0] ** 0.5 + 0.1 * raw[1] ** 0.5
    assert rooted == pytest.approx([raw[0] ** 0.5 / root_mean, raw[1] ** 0.5 / root_mean], rel=1e-3)


def test_class_weights_must_match_the_classes():
    with pytest.raises(MobileVisionError, match="gives 2 weights for 5 classes"):
        build_deeplabv3(width=0.35, num_classes=5, deeplab={"class_weights": "1,2"})
    with pytest.raises(MobileVisionError, match="give one number per class"):
        build_deeplabv3(width=0.35, num_classes=2, deeplab={"class_weights": "1,x"})
    model = build_deeplabv3(width=0.35, num_classes=2, deeplab={"class_weights": "1,4", "aux": True}).train()
    losses = model(torch.randn(2, 3, 64, 64), torch.randint(0, 2, (2, 64, 64)))
    assert all(torch.isfinite(loss) for loss in losses.values())
    assert "class_weights" not in " ".join(model.state_dict())


def test_class_weights_stay_with_the_data_not_with_the_weights():
    """Training from a checkpoint takes its head's options but not its class weights, which another
    dataset's classes would not match."""
    for task in ("segment", "multitask"):
        options = get_task(task).weights_options({"deeplab": {"class_weights": "1,4", "top_k_pixels": 0.5}})
        assert options["top_k_pixels"] == 0.5 and "class_weights" not in options


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("decoder", [False, True], ids=["v3", "v3plus"])
def test_eval_returns_a_class_map_of_the_input_size(output_stride, decoder):
    model = build_deeplabv3(width=0.35, num_classes=4, output_stride=output_stride, deeplab={"decoder": decoder}).eval()
    images = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        class_map, logits = model(images), model.raw_outputs(images)
    assert class_map.shape == (2, 97, 131) and class_map.dtype == torch.int64
    assert logits.shape == (2, 4, 97, 131)
    assert torch.equal(class_map, logits.argmax(dim=1))


@pytest.mark.parametrize(("decoder_stride", "feature"), [(4, "c2"), (8, "c3")])
def test_decoder_stride_picks_the_fused_features_and_the_logit_grid(decoder_stride, feature):
    """The decoder fuses the backbone's stride-4 (c2) or stride-8 (c3) features, so the head's
    logits come on that grid: 97 x 131 -> ceil(97 / s) x ceil(131 / s)."""
    model = build_deeplabv3(width=0.35, num_classes=4, deeplab={"decoder": True, "decoder_stride": decoder_stride}).eval()
    assert model.low_level_name == feature
    features = model.backbone(torch.randn(1, 3, 97, 131))
    logits = model.head(features[model.feature_name], features[model.low_level_name])
    assert logits.shape == (1, 4, -(-97 // decoder_stride), -(-131 // decoder_stride))
    with pytest.raises(ValueError, match="decoder_stride must be one of"):
        build_deeplabv3(width=0.35, deeplab={"decoder": True, "decoder_stride": 16})


@pytest.mark.parametrize("output_stride", [8, 16])
def test_output_stride_sets_the_head_resolution(output_stride):
    model = build_deeplabv3(width=0.35, num_classes=4, output_stride=output_stride).eval()
    features = model.backbone(torch.randn(1, 3, 97, 131))
    expected = (-(-97 // output_stride), -(-131 // output_stride))  # ceil division, as the backbone rounds
    assert features[model.feature_name].shape[2:] == expected
    assert model.head(features[model.feature_name]).shape == (1, 4, *expected)


def test_os8_doubles_the_atrous_rates():
    os16 = build_deeplabv3(width=0.35, deeplab={"head": "aspp"}, output_stride=16)
    os8 = build_deeplabv3(width=0.35, deeplab={"head": "aspp"}, output_stride=8)
    rates = [[b[0].dilation[0] for b in m.head.aspp.branches[1:-1]] for m in (os16, os8)]
    assert rates == [[6, 12, 18], [12, 24, 36]]


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "mobilenet_v1"])
def test_every_option_runs_forward_and_backward(backbone):
    model = build_deeplabv3(backbone=backbone, width=0.25 if backbone == "mobilenet_v1" else 0.35,
                            num_classes=3, deeplab={"head": "aspp", "decoder": True, "aux": True}).train()
    losses = model(torch.randn(2, 3, 65, 65), torch.randint(0, 3, (2, 65, 65)))
    sum(losses.values()).backward()
    assert all(torch.isfinite(loss) for loss in losses.values())
    assert _grads_finite(model)  # the aux head and the decoder are trained too


def test_mobilenet_v2_head_reads_the_320_channel_bottleneck():
    model = build_deeplabv3(num_classes=21)
    assert model.backbone.last is None
    assert model.head.aspp.branches[0][0].in_channels == 320


def test_freeze_bn_keeps_backbone_statistics():
    model = build_deeplabv3(width=0.35, num_classes=3, freeze_bn=True).train()
    before = model.backbone.stem[1].running_mean.clone()
    model(torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64)))
    assert torch.equal(model.backbone.stem[1].running_mean, before)


def test_training_needs_targets_of_the_image_size():
    model = build_deeplabv3(width=0.35, num_classes=3).train()
    with pytest.raises(ValueError, match="needs targets"):
        model(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r"targets must be \(N, H, W\)"):
        model(torch.randn(2, 3, 64, 64), torch.zeros(2, 32, 32, dtype=torch.int64))


def _painted_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Four 64 px images of coloured rectangles (3 classes, an ignored band, noise): two scenes
    and their mirrors. Four, not two: with two images BatchNorm's running variance of the
    image-pooling branch (two values per channel, unbiased) is twice the batch's, and eval
    mode scores far below training mode."""
    targets = torch.zeros(2, 64, 64, dtype=torch.int64)
    targets[0, 8:40, 10:50], targets[0, 44:60, 4:30] = 1, 2
    targets[1, 20:56, 30:60], targets[1, 4:24, 4:24] = 2, 1
    colours = torch.tensor([[0.2, 0.3, 0.8], [0.9, 0.1, 0.1], [0.1, 0.8, 0.2]])
    noise = 0.1 * torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    images = colours[targets].permute(0, 3, 1, 2) + noise
    targets[1, :4] = 255
    return torch.cat([images, images.flip(3)]), torch.cat([targets, targets.flip(2)])


def test_a_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    images, targets = _painted_batch()
    model = build_deeplabv3(width=0.35, num_classes=3, deeplab={"decoder": True})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(100):
        loss = sum(model(images, targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    metrics = SegmentationEvaluator(["background", "red", "green"])
    with torch.no_grad():
        metrics.update(model.eval()(images), targets)
    assert loss.item() < 0.1
    assert metrics.compute()["miou"] > 0.85
