"""A process that imports the training code once, then forks one child per command it is sent.

Each child is a whole `mobilevision` process of its own (killed by SIGKILL as any other) that starts
without the seconds of importing torch, torchvision, OpenCV and albumentations again, so that a
test can run twenty interrupted trainings on two cores in well under a minute.

Run as `python -m tests.engine.fork_server` from the repository root. Protocol, one JSON line each
way: the test sends {"argv": [...], "log": path, "record": folder or null}; the server answers
{"pid": n} once the child runs and {"status": exit code, or -signal} when it ends. With "record",
the child also writes the fingerprint of every weights/last.pt it saves to
`record/<global_step>-<epoch>-<position>.json`: the states an uninterrupted run passes through,
which interrupted runs are compared with (5 MB a checkpoint would make 300 MB of copies).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path

import torch

from mobilevision.cli.main import build_parser, main
from mobilevision.engine import loop

# What a checkpoint says of the run's state; elapsed_seconds, args (--resume) and versions differ.
STATE = ("state_dict", "ema_state_dict", "optimizer", "scaler", "scheduler", "rng", "sampler", "epoch",
         "global_step", "ema_updates", "metrics", "best_metric", "class_names")


def fingerprint(value):
    """`value` with every tensor replaced by its dtype, shape and the SHA-256 of its bytes, as JSON
    holds it: two fingerprints are equal when the values are bitwise equal."""
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().contiguous().reshape(-1)
        return [str(value.dtype), list(value.shape), hashlib.sha256(data.view(torch.uint8).numpy()).hexdigest()]
    if isinstance(value, dict):
        return {str(name): fingerprint(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [fingerprint(item) for item in value]
    return value


def state_of(checkpoint: dict) -> dict:
    """The fingerprint of a checkpoint's run state, as JSON reads it back."""
    return json.loads(json.dumps({name: fingerprint(checkpoint[name]) for name in STATE}))


def position(checkpoint: dict) -> str:
    """Where in the run a checkpoint was saved: global step, epoch and sample position."""
    sampler = checkpoint["sampler"]
    return f"{checkpoint['global_step']}-{sampler['epoch']}-{sampler['position']}"


def _record_last_checkpoints(folder: Path) -> None:
    """Make this process write the state of each last.pt it saves, named by where in the run it is."""
    save = loop.save_atomic

    def save_and_record(checkpoint: dict, path: Path, **kwargs) -> None:
        save(checkpoint, path, **kwargs)
        if path.name == "last.pt":
            (folder / f"{position(checkpoint)}.json").write_text(json.dumps(state_of(checkpoint)))

    loop.save_atomic = save_and_record


def _child(request: dict) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    code = 1
    try:
        if request["record"]:
            _record_last_checkpoints(Path(request["record"]))
        code = main(request["argv"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # skip the server's own exit handlers


def serve() -> None:
    # What `classify train` imports, imported once before the forks, so that children start warm.
    build_parser()
    for module in ("mobilevision.engine.trainer", "mobilevision.tasks.classify.task"):
        importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
