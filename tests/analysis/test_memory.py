"""Activation memory: the analytic count reproduces the MobileNetV2 paper's Table 3 maxima, the
measured peak falls as blocks split finer, and a byte budget picks the fewest groups that fit."""

import pytest
import torch
from torch import nn

from mobilevision.analysis.memory import (
    analytic_activation_memory,
    format_bytes,
    measured_activation_peak,
    parse_bytes,
    trace_activation_memory,
)
from mobilevision.analysis.memory_budget import plan_memory_budget
from mobilevision.backbones.memory_efficient import enable_memory_efficient, memory_efficient, split_units
from mobilevision.deploy.fold import optimize_for_inference
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.model import build_classifier
from mobilevision.tasks.registry import build_model

FP16 = 2  # the paper counts 16-bit activations


def _paper_kilobytes(count: int) -> int:
    """Table 3's unit: thousands of bytes, to two significant digits (1,605,632 -> 1600)."""
    return int(float(f"{count / 1000:.2g}"))


def test_table3_maxima_for_mobilenet_v1_and_v2_at_224():
    # Shapes only, on the meta device: no arithmetic at 224 px.
    v1 = analytic_activation_memory(build_classifier(backbone="mobilenet_v1").to("meta"), imgsz=224,
                                    bytes_per_element=FP16)
    assert v1.largest_tensor_bytes == 112 * 112 * 64 * 2 == 1_605_632
    assert _paper_kilobytes(v1.largest_tensor_bytes) == 1600
    # Table 3's MobileNetV1 column: the most channels at each resolution.
    assert v1.channels_by_size == {(224, 224): 3, (112, 112): 64, (56, 56): 128, (28, 28): 256, (14, 14): 512,
                                   (7, 7): 1024, (1, 1): 1024}

    v2 = build_classifier(backbone="mobilenet_v2").to("meta")
    whole = analytic_activation_memory(v2, imgsz=224, bytes_per_element=FP16)
    assert whole.largest_tensor_bytes == 112 * 112 * 96 * 2  # block 1's expansion, materialised whole
    # Split as the paper does (the inner tensor in t = 6 groups; the stem with block 0 too),
    # only the bottleneck tensors are ever whole: 16 channels at 112x112.
    with memory_efficient(v2, groups=6):
        split = analytic_activation_memory(v2, imgsz=224, bytes_per_element=FP16)
    assert split.largest_tensor_bytes == 112 * 112 * 16 * 2 == 401_408
    assert _paper_kilobytes(split.largest_tensor_bytes) == 400
    assert split.channels_by_size[(112, 112)] == 16 and split.channels_by_size[(56, 56)] == 24


def test_analytic_peak_is_inputs_outputs_and_held_tensors_at_one_op():
    conv = nn.Conv2d(4, 8, kernel_size=1, bias=False)
    # x (4 ch) -> a (8 ch) -> relu in place -> a + x[:, :1] (8 ch): at the add, x, a and the sum exist.
    memory = trace_activation_memory(lambda x: torch.relu_(conv(x)) + x[:, :1], torch.zeros(1, 4, 5, 5),
                                     weights=conv, bytes_per_element=2)
    assert memory.peak_bytes == (4 + 8 + 8) * 25 * 2
    assert memory.largest_tensor_bytes == 8 * 25 * 2
    assert memory.peak_at == "(model) (aten.add)"


def test_held_module_inputs_count_as_eager_pytorch_holds_them():
    # y = first(x) is the second module's input: dead after its first conv in the ideal schedule,
    # held until that module returns in eager PyTorch (its caller's frame keeps it).
    model = nn.Sequential(nn.Conv2d(4, 8, 1), nn.Sequential(nn.Conv2d(8, 2, 1), nn.Conv2d(2, 16, 1)))
    x = torch.zeros(1, 4, 5, 5)
    ideal = trace_activation_memory(model, x, weights=model, bytes_per_element=4)
    held = trace_activation_memory(model, x, weights=model, bytes_per_element=4, hold_module_inputs=True)
    assert ideal.peak_bytes == (4 + 2 + 16) * 25 * 4  # x, the middle map and the output
    assert held.peak_bytes == (4 + 8 + 2 + 16) * 25 * 4 == measured_activation_peak(model, x)


def test_measured_peak_counts_activations_not_weights():
    layer = nn.Linear(1000, 1000)  # 4 MB of weights
    peak = measured_activation_peak(layer, torch.zeros(1, 1000))
    assert peak == 2 * 1000 * 4  # the input and the output, fp32


@pytest.mark.parametrize("folded", [False, True], ids=["built", "folded"])
def test_measured_peak_falls_as_k_rises(folded):
    model = build_classifier(backbone="mobilenet_v2", width=0.35, num_classes=10).eval()
    images = torch.randn(1, 3, 64, 64)
    if folded:
        model, images = optimize_for_inference(model), images.contiguous(memory_format=torch.channels_last)
    measured, analytic = [], []
    for k in (1, 2, 4, 8):
        enable_memory_efficient(model, groups=k)
        measured.append(measured_activation_peak(model, images, forward=model.raw_outputs))
        analytic.append(analytic_activation_memory(model, imgsz=64, bytes_per_element=4,
                                                   forward=model.raw_outputs).peak_bytes)
    assert all(a > b for a, b in zip(measured, measured[1:])), measured
    assert all(a > b for a, b in zip(analytic, analytic[1:])), analytic
    # Python may hold a tensor past its last use, never release one before it: measured >= analytic.
    assert all(m >= a for m, a in zip(measured, analytic))
    assert measured[-1] < measured[0] / 2


def test_a_budget_picks_the_fewest_groups_that_fit():
    model = optimize_for_inference(build_model("ssdlite_mobilenet_v2", width=0.5, num_classes=3, imgsz=96))
    budget = parse_bytes("256KiB")
    result = plan_memory_budget(model, imgsz=96, budget_bytes=budget, bytes_per_element=4, forward=model.raw_outputs)
    groups = result.plan.groups
    assert "backbone.blocks.13" not in groups  # the detector's tap
    assert max(groups.values()) > 1 and all(peak <= budget for peak in result.block_peak_bytes.values())
    # One group fewer would not fit the most-split block (counted as the planner does: the block
    # alone on its input, beside the image the caller holds).
    unit = next(unit for unit in split_units(model)[0] if unit.name == max(groups, key=groups.get))
    captured = []
    handle = unit.block.register_forward_pre_hook(lambda _module, args: captured.append(args[0]))
    with torch.no_grad():
        model.raw_outputs(torch.zeros(1, 3, 96, 96))
    handle.remove()
    unit.block.split_groups = groups[unit.name] - 1
    fewer = trace_activation_memory(unit.forward, captured[0], weights=model, bytes_per_element=4,
                                    hold_module_inputs=True)
    assert fewer.peak_bytes + 3 * 96 * 96 * 4 > budget
    unit.block.split_groups = groups[unit.name]
    # With the plan on, the real forward stays within the budget.
    images = torch.randn(1, 3, 96, 96).contiguous(memory_format=torch.channels_last)
    measured = measured_activation_peak(model, images, forward=model.raw_outputs)
    assert measured <= max(budget, result.network.peak_bytes)
    assert result.describe().startswith(f"budget 256.0 KiB: {sum(k > 1 for k in groups.values())} of 16 blocks split (")
    assert f"{unit.name} in {groups[unit.name]}" in result.describe()
    assert result.describe().count("; backbone.blocks.13 whole: its whole expansion is the c4_expand feature") == 1


def test_with_a_budget_the_real_forward_fits_it():
    model = optimize_for_inference(build_classifier(backbone="mobilenet_v2", width=0.35, num_classes=10))
    images = torch.randn(1, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    budget = parse_bytes("200KiB")
    assert measured_activation_peak(model, images, forward=model.raw_outputs) > budget
    result = plan_memory_budget(model, imgsz=64, budget_bytes=budget, bytes_per_element=4, forward=model.raw_outputs)
    # Counted with module inputs held, the plan holds for the real forward, not only the ideal schedule.
    assert result.network.peak_bytes <= budget
    assert measured_activation_peak(model, images, forward=model.raw_outputs) <= budget


def test_a_budget_too_small_names_the_block_and_the_fix():
    model = build_classifier(backbone="mobilenet_v2", width=0.35, num_classes=3).eval()
    with pytest.raises(MobileVisionError, match=r"too small for backbone.blocks.\d+ at 64 px: it needs .* KiB even in "
                                                r"\d+ groups .* raise the budget or lower the input size"):
        plan_memory_budget(model, imgsz=64, budget_bytes=10_000, bytes_per_element=4)
    assert all(block.split_groups == 1 for block in model.backbone.blocks)


@pytest.mark.parametrize(("text", "count"), [("262144", 262144), ("256KiB", 262144), ("1MiB", 2**20),
                                             ("1.5 MiB", 3 * 2**19), ("512kB", 512_000), ("2GB", 2 * 10**9)])
def test_parse_bytes(text, count):
    assert parse_bytes(text) == count


def test_parse_bytes_rejects_other_units_and_formats():
    with pytest.raises(MobileVisionError, match="'256 KB/s'.*256KiB"):
        parse_bytes("256 KB/s")
    assert format_bytes(401_408) == "392.0 KiB" and format_bytes(3 * 2**20) == "3.00 MiB"
