"""`--amp auto` on a CPU (engine/amp.py): the capability check gates, a measurement decides, the
decision is cached; and bf16 autocast inference agrees with fp32 (it runs everywhere: where bf16 is
not native, PyTorch emulates it)."""

import pytest
import torch
from torch import nn

from mobilevision.engine import amp
from mobilevision.engine.amp import MARGIN, AmpTrial, amp_dtype, amp_key, step_timer
from mobilevision.tasks.registry import build_model

CPU = torch.device("cpu")


class FakeSteps:
    """seconds_per_step that returns fixed seconds per dtype, counting the calls."""

    def __init__(self, *, fp32: float, bf16: float) -> None:
        self.seconds, self.calls = {None: fp32, torch.bfloat16: bf16}, []

    def __call__(self, dtype):
        self.calls.append(dtype)
        return self.seconds[dtype]


def _trial(tmp_path, steps, *, cpu="Intel Xeon", imgsz=256):
    key = {**amp_key(model_name="multitask_mobilenet_v2", model_kwargs={"width": 0.5}, imgsz=imgsz, batch=32,
                     channels_last=True), "cpu": cpu}
    return AmpTrial(key=key, seconds_per_step=steps, cache=tmp_path / "amp_choice.json")


@pytest.fixture
def native(monkeypatch):
    monkeypatch.setattr(amp, "native_bf16", lambda: True)


@pytest.mark.parametrize(("fp32", "bf16", "expected"), [(0.50, 0.40, torch.bfloat16), (0.40, 0.47, None),
                                                          (0.50, 0.50 / (1 + MARGIN) + 0.001, None)])
def test_auto_takes_bf16_only_when_measured_faster(tmp_path, native, fp32, bf16, expected):
    """bf16 must beat fp32 by more than MARGIN; a near tie stays fp32."""
    steps, lines = FakeSteps(fp32=fp32, bf16=bf16), []
    assert amp_dtype("auto", CPU, trial=_trial(tmp_path, steps), log=lines.append) is expected
    assert sorted(map(str, steps.calls)) == ["None", "torch.bfloat16"]
    assert lines[-1].startswith(f"amp auto: {'bf16' if expected else 'fp32'} ")
    assert f"fp32 {fp32:.3f} s/step" in lines[-1] and f"bf16 {bf16:.3f} s/step" in lines[-1]
    assert "measured now; cached in " in lines[-1]


def test_the_decision_is_cached_and_redone_for_another_cpu(tmp_path, native):
    amp_dtype("auto", CPU, trial=_trial(tmp_path, FakeSteps(fp32=0.5, bf16=0.4)), log=lambda line: None)
    steps, lines = FakeSteps(fp32=0.1, bf16=0.9), []  # would now say fp32: the cache must not ask
    assert amp_dtype("auto", CPU, trial=_trial(tmp_path, steps), log=lines.append) is torch.bfloat16
    assert steps.calls == [] and "(cached in " in lines[-1]
    assert amp_dtype("auto", CPU, trial=_trial(tmp_path, steps, cpu="AMD EPYC"), log=lines.append) is None
    assert len(steps.calls) == 2
    assert amp_dtype("auto", CPU, trial=_trial(tmp_path, steps, imgsz=320), log=lines.append) is None
    assert len(steps.calls) == 4


def test_emulated_bf16_is_fp32_without_timing(tmp_path, monkeypatch):
    monkeypatch.setattr(amp, "native_bf16", lambda: False)
    steps, lines = FakeSteps(fp32=0.5, bf16=0.1), []
    assert amp_dtype("auto", CPU, trial=_trial(tmp_path, steps), log=lines.append) is None
    assert steps.calls == [] and "no native bf16" in lines[-1]


def test_explicit_choices_are_not_measured(tmp_path, native):
    steps = FakeSteps(fp32=0.5, bf16=0.1)
    assert amp_dtype("off", CPU, trial=_trial(tmp_path, steps)) is None
    assert amp_dtype("bf16", CPU, trial=_trial(tmp_path, steps)) is torch.bfloat16
    assert steps.calls == []


def test_step_timer_trains_a_copy_and_leaves_the_model_alone():
    """The real timer: forward and backward in each precision, on a copy (BatchNorm statistics and
    gradients of the model to be trained untouched)."""
    model = build_model("mobilenet_v2", width=0.35, num_classes=4).train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    batches = []

    def sample():
        batches.append(1)
        return torch.randn(2, 3, 32, 32), torch.tensor([0, 3])

    seconds_per_step = step_timer(model, sample=sample, device=CPU, memory_format=torch.channels_last)
    assert seconds_per_step(None) > 0 and seconds_per_step(torch.bfloat16) > 0
    assert batches == [1]  # one batch, taken on first use
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())


def test_bf16_inference_matches_fp32():
    """A classifier's logits under bf16 autocast against fp32: relative L2 error under 8%, softmax
    probabilities within 0.1, top-1 the same on at least 85% of images and on every image whose fp32
    top two are further apart than twice the largest error. bf16 keeps 8 mantissa bits (0.4% per
    rounding), which 50-odd layers compound to a few percent (3-5.5% over three seeds here).
    Random weights, but BatchNorm statistics measured on the batch, so that the activations have the
    scale of a trained network's (freshly initialised running statistics leave the logits ~1e-9)."""
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", width=0.5, num_classes=10)
    images = torch.randn(32, 3, 96, 96)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # running statistics = this batch's
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.1)
    with torch.no_grad():
        model.train()(images, torch.zeros(32, dtype=torch.long))
        fp32 = model.eval()(images)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            bf16 = model(images).float()
    assert (bf16 - fp32).norm() / fp32.norm() < 0.08
    assert (bf16.softmax(1) - fp32.softmax(1)).abs().max() < 0.1
    assert (bf16.argmax(1) == fp32.argmax(1)).float().mean() >= 0.85
    top2 = fp32.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * (bf16 - fp32).abs().max()
    assert torch.equal(bf16.argmax(1)[clear], fp32.argmax(1)[clear])
