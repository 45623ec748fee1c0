"""Each measurement in a fresh process: `python -m mobilevision.bench.worker` reads one JSON spec a
line on stdin and answers each with one JSON line on stdout, the results or {"error": message}.

A fresh process per measurement because runtimes disturb each other inside one: ONNX Runtime runs
at half speed right after torch's OpenMP threads ran (they keep spinning), and allocator caches of
one runtime inflate the next one's memory. A new interpreter spends about 4 s importing torch,
torchvision and ONNX Runtime, as long as a measurement itself; so on Linux the worker imports them
once and forks a child per spec. The child starts as fresh as a new process: the worker never runs
an op, so there are no runtime threads, sessions or caches to inherit. Elsewhere (fork is unsafe
with macOS's system libraries, absent on Windows) the worker measures one spec and exits.

Spec keys: cwd (the directory relative paths start from), source ("ours" | "torchvision"), task,
runtime, imgsz, threads, warmup, iters, batch, batch_iters, seed; for ours checkpoint (and onnx for
ort_*), optional data and data_images, and for eager runtimes an optional memory_budget (bytes:
memory-efficient mode, analysis/memory_budget.py); for torchvision name (and onnx for ort_fp32),
optional state_dict (the file of its weights; default random).
Result keys: median_ms, p90_ms (batch 1), images_per_s (batch `batch`), peak_rss_mib,
act_analytic_kib and act_measured_kib (activation memory at batch 1, runtimes.activation_memory),
memory_plan with a budget, and the task's main metric when data is given.
"""

from __future__ import annotations

import json
import os
import sys

# Every library a runtime may need, imported with this module: before the worker forks, and before
# measure's memory baseline, so that peak RSS counts the model, its session and its activations,
# not code.
import onnxruntime  # noqa: F401
import torch
import torchvision  # noqa: F401

from mobilevision.analysis.memory_budget import plan_memory_budget
from mobilevision.bench import runtimes
from mobilevision.bench.timing import PeakMemory, time_calls
from mobilevision.deploy import onnx_model  # noqa: F401
from mobilevision.deploy.runtime import load_runtime
from mobilevision.tasks import registry  # noqa: F401


def forks() -> bool:
    """Whether the worker forks a child per spec (and serves many), or measures one and exits."""
    return sys.platform == "linux"


def measure(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    memory = PeakMemory()
    memory.start()
    model = checkpoint = memory_plan = None
    if spec["source"] == "ours":
        model, checkpoint = load_runtime(runtime=spec["runtime"], checkpoint=spec["checkpoint"],
                                               onnx=spec.get("onnx"), threads=spec["threads"])
        if spec.get("memory_budget"):
            memory_plan = plan_memory_budget(model, imgsz=spec["imgsz"], budget_bytes=spec["memory_budget"],
                                             bytes_per_element=4, forward=model.raw_outputs).describe()
        fn = runtimes.ours_callable(model, task=spec["task"], runtime=spec["runtime"], imgsz=spec["imgsz"],
                                    preprocessing=checkpoint["preprocessing"])
    else:
        fn = runtimes.torchvision_callable(name=spec["name"], runtime=spec["runtime"], onnx=spec.get("onnx"),
                                           threads=spec["threads"], state_dict=spec.get("state_dict"))
    single = runtimes.make_inputs(task=spec["task"], imgsz=spec["imgsz"], batch=1, seed=spec["seed"])
    result = time_calls(fn, single, warmup=spec["warmup"], iters=spec["iters"])
    batched = runtimes.make_inputs(task=spec["task"], imgsz=spec["imgsz"], batch=spec["batch"], seed=spec["seed"])
    batch_ms = time_calls(fn, batched, warmup=1, iters=spec["batch_iters"])["median_ms"]
    result["images_per_s"] = spec["batch"] * 1000 / batch_ms
    result["peak_rss_mib"] = memory.peak_mib()
    # After the RSS peak is read: counting runs extra forwards that must not inflate it.
    result.update(runtimes.activation_memory(spec, model))
    if memory_plan:
        result["memory_plan"] = memory_plan
    if spec.get("data") and model is not None:
        from mobilevision.bench.accuracy import evaluate_runtime

        result.update(evaluate_runtime(model, task=spec["task"], data=spec["data"], imgsz=spec["imgsz"],
                                       checkpoint=checkpoint, images=spec.get("data_images")))
    return result


def serve() -> None:
    """Answer each spec line on stdin with a result line on stdout (see the module's docstring)."""
    if not forks():
        print(json.dumps(_answer(json.loads(sys.stdin.readline()))), flush=True)
        return
    for line in sys.stdin:
        print(json.dumps(_in_child(json.loads(line))), flush=True)


def _answer(spec: dict) -> dict:
    try:
        os.chdir(spec.get("cwd", "."))  # the caller's current directory, where relative paths start
        return measure(spec)
    except Exception as error:  # noqa: BLE001 - any failure is the answer, as one line
        lines = str(error).strip().splitlines()
        return {"error": lines[-1] if lines else type(error).__name__}


def _in_child(spec: dict) -> dict:
    """_answer(spec) computed in a forked child, whose output other than the answer goes to stderr."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:  # whatever happens, the child ends here and never returns to serve()'s loop
            os.close(read_end)
            os.dup2(2, 1)  # stdout carries the worker's answers only
            with os.fdopen(write_end, "w") as answer:
                answer.write(json.dumps(_answer(spec)))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    if not text:
        return {"error": f"the measuring process ended without a result (wait status {status})"}
    return json.loads(text)


if __name__ == "__main__":
    serve()
