"""Memory-efficient mode: split inverted residuals give the normal outputs for every task, on
built and BN-folded models, and the switch is exact about what it splits."""

import pytest
import torch
from torch import nn

from mobilevision.backbones.memory_efficient import (
    disable_memory_efficient,
    enable_memory_efficient,
    memory_efficient,
    split_units,
)
from mobilevision.backbones.split import channel_groups
from mobilevision.deploy.fold import optimize_for_inference
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import build_model

SIZE = 64
TASK_MODELS = {"classify": ("mobilenet_v2", {}), "detect": ("ssdlite_mobilenet_v2", {"imgsz": SIZE}),
               "segment": ("deeplabv3_mobilenet_v2", {})}


def _trained_looking(name: str, **kwargs) -> nn.Module:
    """A model whose BatchNorms are not the identity (nor zero-gamma), so a wrong slice shows."""
    torch.manual_seed(0)
    model = build_model(name, width=0.5, num_classes=5, **kwargs).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.2)
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model


def _outputs(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        out = model.raw_outputs(images)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("task", sorted(TASK_MODELS))
@pytest.mark.parametrize("folded", [False, True], ids=["built", "folded"])
def test_split_outputs_equal_normal_outputs(task, folded):
    name, kwargs = TASK_MODELS[task]
    model = _trained_looking(name, **kwargs)
    images = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    if folded:  # the fast inference path: BatchNorm folded, channels_last
        model, images = optimize_for_inference(model), images.contiguous(memory_format=torch.channels_last)
    expected = _outputs(model, images)
    assert expected[0].abs().max() > 0.1
    for k in (1, 2, 4, 8):
        with memory_efficient(model, groups=k) as plan:
            assert set(plan.groups.values()) == {k}
            got = _outputs(model, images)
        for want, have in zip(expected, got):
            torch.testing.assert_close(have, want, rtol=0, atol=1e-4)


def test_groups_per_block_and_folding_keeps_the_mode():
    model = _trained_looking("mobilenet_v2")
    images = torch.randn(1, 3, SIZE, SIZE)
    expected = _outputs(model, images)
    plan = enable_memory_efficient(model, groups={"backbone.blocks.0": 3, "backbone.blocks.1": 9})
    assert plan.groups == {"backbone.blocks.0": 3, "backbone.blocks.1": 9}
    assert [m.split_groups for m in model.backbone.blocks][:3] == [3, 9, 1]
    folded = optimize_for_inference(model)
    assert folded.backbone.blocks[1].split_groups == 9
    torch.testing.assert_close(_outputs(folded, images)[0], expected[0], rtol=0, atol=1e-4)
    disable_memory_efficient(model)
    assert all(m.split_groups == 1 for m in model.backbone.blocks)


def test_state_dict_is_untouched_and_the_context_restores_the_normal_mode():
    model = build_model("mobilenet_v2", width=0.35, num_classes=3).eval()
    keys = list(model.state_dict())
    with memory_efficient(model, groups=4):
        assert list(model.state_dict()) == keys
        assert all(m.split_groups == min(4, m.hidden_channels) for m in model.backbone.blocks)
    assert all(m.split_groups == 1 for m in model.backbone.blocks)


def test_the_detector_tap_block_stays_whole_and_keeps_its_expansion():
    model = _trained_looking("ssdlite_mobilenet_v2", imgsz=SIZE)
    images = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = model.backbone(images)["c4_expand"]
        with memory_efficient(model, groups=8) as plan:
            got = model.backbone(images)["c4_expand"]
    assert plan.unsplit == {"backbone.blocks.13": "its whole expansion is the c4_expand feature"}
    assert "backbone.blocks.13" not in plan.groups and len(plan.groups) == 16
    assert got.shape[1] == 576 // 2
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    # A classifier does not read the tap, so there the block splits like any other.
    assert "backbone.blocks.13" in {unit.name for unit in split_units(build_model("mobilenet_v2"))[0]}


def test_invalid_groups_and_models_are_one_line_errors():
    model = build_model("mobilenet_v2", width=0.35, num_classes=3).eval()
    with pytest.raises(MobileVisionError, match=r"backbone.blocks.0: 17 groups; use 1 to 16"):
        enable_memory_efficient(model, groups={"backbone.blocks.0": 17})
    with pytest.raises(MobileVisionError, match="no split unit"):
        enable_memory_efficient(model, groups={"blocks.99": 2})
    with pytest.raises(MobileVisionError, match="MobileNetV1 does not have"):
        enable_memory_efficient(build_model("mobilenet_v1", width=0.25, num_classes=3), groups=2)
    enable_memory_efficient(model, groups=2)
    with pytest.raises(MobileVisionError, match="for inference"):
        model.train()(torch.randn(2, 3, SIZE, SIZE), torch.tensor([0, 1]))


def test_channel_groups_cover_every_channel_once():
    assert channel_groups(96, 5) == [(0, 19), (19, 38), (38, 57), (57, 76), (76, 96)]
    assert channel_groups(3, 3) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(MobileVisionError, match="1 to 3 groups"):
        channel_groups(3, 4)
