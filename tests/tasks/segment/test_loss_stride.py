"""loss_stride: DeepLab's training loss and raw outputs on a coarser grid, predictions still at the input size
(and at a non-square frame's own size and place)."""

import numpy as np
import pytest
import torch

from mobilevision.heads.resize import resize_bilinear
from mobilevision.heads.segmentation_loss import sample_labels, segmentation_cross_entropy
from mobilevision.tasks.multitask.model import build_multitask
from mobilevision.tasks.segment.model import build_deeplabv3
from mobilevision.tasks.segment.predictor import frame_class_map


def test_sample_labels_takes_the_labels_under_corner_aligned_points():
    targets = torch.arange(25).reshape(1, 5, 5)
    # Corners aligned: 3 points over 5 pixels sit on pixels 0, 2 and 4.
    assert sample_labels(targets, (3, 3)).tolist() == [[[0, 2, 4], [10, 12, 14], [20, 22, 24]]]
    # The logits resize_bilinear makes at those points are the input's own values there.
    values = targets.float().unsqueeze(1)
    assert torch.equal(resize_bilinear(values, (3, 3)).squeeze(1), sample_labels(targets, (3, 3)).float())


def test_training_loss_on_the_coarse_grid_and_predictions_at_full_size():
    torch.manual_seed(0)
    model = build_deeplabv3(width=0.35, num_classes=3, output_stride=32, deeplab={"aux": True, "loss_stride": 4})
    images, targets = torch.randn(2, 3, 65, 65), torch.randint(0, 3, (2, 65, 65))
    targets[0] = 255  # an all-ignore image adds nothing
    model.train()
    features = model.backbone(images)
    logits = model.head_outputs(features, image_size=(65, 65))
    assert logits.shape == (2, 3, 17, 17)  # (65 - 1) // 4 + 1
    losses = model.losses(logits, targets, features=features, image_size=(65, 65))
    expected = segmentation_cross_entropy(logits, targets[:, ::4, ::4])  # 17 corner-aligned points of 65: every 4th
    torch.testing.assert_close(losses["segmentation"], expected)
    assert set(losses) == {"segmentation", "aux"} and all(torch.isfinite(value) for value in losses.values())
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        raw = model.raw_outputs(images)
        assert raw.shape == (2, 3, 17, 17)  # exported on the loss's grid too: the resize is postprocess's
        assert torch.equal(model(images), resize_bilinear(raw, (65, 65)).argmax(dim=1))


def test_the_multitask_segmentation_head_takes_it_over():
    model = build_multitask(width=0.35, tasks="segment", num_classes=3, deeplab={"loss_stride": 8}).train()
    images = torch.randn(2, 3, 64, 64)  # batch 2: image pooling's BatchNorm needs two values in training
    _, raw = model._head_outputs(images)
    assert raw["segment"].shape == (2, 3, 8, 8)  # (64 - 1) // 8 + 1


@pytest.mark.parametrize("at_input", [False, True])
def test_a_non_square_frame_keeps_its_place_on_the_coarse_grid(at_input):
    """A 480 x 640 frame fills the top 192 of 256 input rows. Input logits: class 1 from input row 96
    (frame row 240) down, class 2 in the padding. From the stride-4 grid the map must still turn at
    frame row 240 and hold no padding class (cutting the grid at 192/256 of its rows had stretched
    the padding's cells into the frame). The same for the demo's map at the input's size."""
    rows = torch.arange(256)[:, None].expand(256, 256)
    labels = torch.where(rows >= 192, 2, (rows >= 96).long())
    logits = 10.0 * torch.nn.functional.one_hot(labels, 3).permute(2, 0, 1)[None].float()
    coarse = logits[:, :, ::4, ::4][:, :, :64, :64]  # the stride-4 grid's points
    for grid in (logits, coarse):
        frame = frame_class_map(grid, input_size=(256, 256), content=(192, 256), size=(480, 640), at_input=at_input)
        assert frame.shape == (480, 640) and set(np.unique(frame)) == {0, 1}
        turn = int(np.argmax(frame[:, 320] == 1))
        assert abs(turn - 240) <= 6, turn  # within one 4 px cell at the frame's 2.5x scale
