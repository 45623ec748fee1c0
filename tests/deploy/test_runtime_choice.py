"""`--runtime auto` by measurement (deploy/runtime_choice.py): the fastest of the timed runtimes wins,
folded PyTorch unless another beats it by more than the margin; the choice is cached beside the
checkpoint, reused while the checkpoint, CPU, size and threads are the same, timed again when one
changes, and still made when the cache cannot be written. Timings are injected: nothing here
depends on the machine's speed."""

import os

import pytest
import torch

from mobilevision.bench.cases import fresh_case
from mobilevision.deploy import runtime_choice
from mobilevision.deploy.runtime import FOLDED, ONNXRUNTIME, load_trained
from mobilevision.deploy.runtime_choice import MARGIN, choice_cache, choice_key, choose_runtime


class FakeTimer:
    """A runtime that always measures `ms`, counting how often it was timed."""

    def __init__(self, ms: float) -> None:
        self.ms, self.calls = ms, 0

    def __call__(self) -> float:
        self.calls += 1
        return self.ms


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"weights v1")
    return path


def _choose(checkpoint, timers, *, cpu="AMD EPYC", imgsz=256, cache=None):
    key = choice_key(checkpoint, imgsz=imgsz, threads=2, cpu=cpu, runtimes=list(timers))
    return choose_runtime(cache=cache or choice_cache(checkpoint), key=key, timers=timers, reference=FOLDED,
                          imgsz=imgsz, cpu=cpu)


@pytest.mark.parametrize(("folded_ms", "onnx_ms", "expected"), [(10.0, 18.2, FOLDED), (9.9, 5.2, ONNXRUNTIME)])
def test_auto_picks_the_faster_runtime(checkpoint, folded_ms, onnx_ms, expected):
    choice = _choose(checkpoint, {FOLDED: FakeTimer(folded_ms), ONNXRUNTIME: FakeTimer(onnx_ms)})
    assert choice.runtime == expected
    assert choice.milliseconds == {FOLDED: folded_ms, ONNXRUNTIME: onnx_ms}
    assert choice.measured_now and choice.not_cached is None
    assert choice.summary().startswith(f"runtime auto: {expected} ")
    assert f"at 256 px on AMD EPYC (measured now; cached in {choice_cache(checkpoint)})" in choice.summary()


def test_a_near_tie_keeps_folded_pytorch(checkpoint):
    """Within the margin another runtime's lead is noise: never risk a runtime slower than folded PyTorch."""
    choice = _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(10.0 / (1 + MARGIN) + 0.01)})
    assert choice.runtime == FOLDED


def test_the_cached_choice_is_reused_without_timing(checkpoint):
    _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(18.2)})
    # The timers now say the opposite: a cached choice must not look at them.
    timers = {FOLDED: FakeTimer(30.0), ONNXRUNTIME: FakeTimer(5.0)}
    choice = _choose(checkpoint, timers)
    assert choice.runtime == FOLDED and not choice.measured_now
    assert choice.milliseconds == {FOLDED: 10.0, ONNXRUNTIME: 18.2}
    assert timers[FOLDED].calls == timers[ONNXRUNTIME].calls == 0
    assert "(cached in " in choice.summary()


def test_another_cpu_or_size_is_timed_again(checkpoint):
    _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(18.2)})
    on_xeon = _choose(checkpoint, {FOLDED: FakeTimer(16.1), ONNXRUNTIME: FakeTimer(5.0)}, cpu="Intel Xeon")
    assert on_xeon.measured_now and on_xeon.runtime == ONNXRUNTIME
    at_512 = _choose(checkpoint, {FOLDED: FakeTimer(58.2), ONNXRUNTIME: FakeTimer(61.7)}, imgsz=512)
    assert at_512.measured_now and at_512.runtime == FOLDED
    # Every machine's and size's choice is kept: back on the EPYC at 256 nothing is timed.
    timers = {FOLDED: FakeTimer(1.0), ONNXRUNTIME: FakeTimer(1.0)}
    assert not _choose(checkpoint, timers).measured_now and timers[FOLDED].calls == 0


def test_a_changed_checkpoint_is_timed_again(checkpoint):
    _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(18.2)})
    checkpoint.write_bytes(b"weights v2, retrained")
    stat = checkpoint.stat()
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    timers = {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(5.0)}
    choice = _choose(checkpoint, timers)
    assert choice.measured_now and choice.runtime == ONNXRUNTIME
    assert timers[FOLDED].calls == timers[ONNXRUNTIME].calls == runtime_choice.ROUNDS
    # The old checkpoint's choice can never match again: it is dropped from the file.
    assert len(runtime_choice.read_choices(choice_cache(checkpoint))) == 1


def test_a_choice_measured_on_a_busy_machine_says_so(checkpoint, monkeypatch):
    monkeypatch.setattr(runtime_choice.os, "getloadavg", lambda: (64.0, 1.0, 1.0))
    choice = _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(18.2)})
    assert "; the machine was busy (load 64.0 on " in choice.summary()
    monkeypatch.setattr(runtime_choice.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    cached = _choose(checkpoint, {FOLDED: FakeTimer(1.0), ONNXRUNTIME: FakeTimer(1.0)})
    assert not cached.measured_now and "the machine was busy (load 64.0 " in cached.summary()  # kept with the choice


def test_an_unwritable_cache_still_chooses_and_says_so(checkpoint, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the cache's folder should be: the write fails, even as root
    cache = blocker / "best.pt.runtime.json"
    choice = _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(18.2)}, cache=cache)
    assert choice.runtime == FOLDED and choice.not_cached
    assert "measured now; not cached: " in choice.summary()
    assert _choose(checkpoint, {FOLDED: FakeTimer(10.0), ONNXRUNTIME: FakeTimer(18.2)}, cache=cache).measured_now


def test_load_trained_auto_runs_the_chosen_runtime_and_caches_it(tmp_path, monkeypatch):
    """The real path: a tiny checkpoint exported, both runtimes built and 'timed' (folded PyTorch
    injected as the faster), the choice logged and cached; loading again times nothing."""
    case = fresh_case("mobilenet_v2", width=0.35, imgsz=64, folder=tmp_path, class_names=["a", "b"])
    built = []

    def fake_timer(build, *, memory_format, **_):
        def timer():
            built.append(build())  # the runtime's network really is built
            return 5.0 if memory_format == torch.channels_last else 7.0  # folded PyTorch runs channels_last
        return timer

    monkeypatch.setattr(runtime_choice, "network_timer", fake_timer)
    lines, threads = [], torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # as an earlier model of the same demo on ONNX Runtime leaves it
        trained = load_trained(str(case.checkpoint), runtime="auto", device="cpu", log=lines.append)
        assert trained.runtime == FOLDED
        assert lines[-1].startswith(f"runtime auto: {FOLDED} 5.0 ms vs {ONNXRUNTIME} 7.0 ms at 64 px on ")
        assert len(built) == 2 * runtime_choice.ROUNDS
        assert torch.get_num_threads() == (os.cpu_count() or 1)  # folded PyTorch gets every core

        built.clear()
        again = load_trained(str(case.checkpoint), runtime="auto", device="cpu", log=lines.append)
        assert again.runtime == FOLDED and built == []
        assert "(cached in " in lines[-1]
    finally:
        torch.set_num_threads(threads)


def test_bench_says_what_auto_takes_by_its_own_timings():
    from mobilevision.bench.run import _auto_lines

    rows = [{"label": "multitask", "imgsz": 256, "runtime": runtime, "median_ms": ms}
            for runtime, ms in (("eager", 48.3), ("optimized", 16.1), ("ort_fp32", 28.8), ("ort_int8", 20.5))]
    expected = (f"runtime auto on multitask at 256 px: {FOLDED} (optimized 16.1 ms vs ort_fp32 28.8 ms; ONNX "
                "Runtime is taken only if 5% faster)")
    assert _auto_lines(rows) == [expected]
