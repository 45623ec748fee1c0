"""The bench worker: each spec measured in a process of its own, failures answered, not fatal."""

import os
import sys

import pytest

from mobilevision.bench import run, worker
from mobilevision.errors import MobileVisionError

pytestmark = pytest.mark.skipif(not worker.forks(), reason="the worker forks a child per spec on Linux only")


def test_each_spec_is_measured_in_a_child_of_its_own(monkeypatch):
    monkeypatch.setattr(worker, "measure", lambda spec: {"pid": os.getpid(), "parent": os.getppid(), **spec})
    first, second = worker._in_child({"n": 1}), worker._in_child({"n": 2})
    assert (first["n"], second["n"]) == (1, 2)
    assert first["parent"] == second["parent"] == os.getpid()
    assert len({first["pid"], second["pid"], os.getpid()}) == 3


def test_a_failing_measurement_answers_its_error(monkeypatch):
    def fails(spec):
        raise ValueError("while timing\nmodel.onnx: ONNX file not found")

    monkeypatch.setattr(worker, "measure", fails)
    assert worker._in_child({}) == {"error": "model.onnx: ONNX file not found"}


def test_a_child_that_dies_is_answered_too(monkeypatch):
    monkeypatch.setattr(worker, "measure", lambda spec: os._exit(3))
    assert "ended without a result" in worker._in_child({})["error"]


def test_an_interrupted_child_still_ends_in_the_worker_code(monkeypatch):
    """Even a KeyboardInterrupt does not take the forked child back into the caller's code (here
    pytest's, which would exit 2): it leaves through os._exit(0) with no answer written."""
    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(worker, "measure", interrupted)
    assert worker._in_child({}) == {"error": "the measuring process ended without a result (wait status 0)"}


def test_the_worker_outlives_a_failed_spec_and_names_it(tmp_path):
    spec = {"source": "ours", "task": "classify", "runtime": "ort_fp32", "imgsz": 32,
            "checkpoint": str(tmp_path / "missing.pt"), "onnx": str(tmp_path / "missing.onnx"), "threads": 1,
            "warmup": 1, "iters": 1, "batch": 1, "batch_iters": 1, "seed": 0}
    for _ in range(2):  # the same worker answers again after a failure
        with pytest.raises(MobileVisionError, match="missing.*ort_fp32 failed: .*missing.onnx"):
            run._measure(spec)
    assert run._forking_worker().poll() is None
    assert run._forking_worker().args == [sys.executable, "-m", "mobilevision.bench.worker"]


def test_a_child_works_in_the_callers_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(worker, "measure", lambda spec: {"cwd": os.getcwd()})
    assert worker._in_child({"cwd": str(tmp_path)}) == {"cwd": str(tmp_path)}


def test_a_changed_environment_gets_a_new_worker(monkeypatch):
    first = run._forking_worker()
    assert run._forking_worker() is first
    monkeypatch.setenv("MOBILEVISION_TEST_VARIABLE", "1")  # its libraries read the environment as they load
    second = run._forking_worker()
    assert second is not first and second.poll() is None
    assert first.poll() is not None  # the first one ended when its stdin closed
