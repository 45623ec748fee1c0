"""The command line: `info` prints the model table, errors are one line with exit code 2."""

import json
import shutil
import subprocess
import sys

from mobilevision.cli import main
from mobilevision.tasks.registry import MODELS


def test_info_json_lists_every_model_with_counts(capsys):
    assert main(["info", "--json", "--imgsz", "160"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in rows} == set(MODELS)
    v2 = next(r for r in rows if r["name"] == "mobilenet_v2" and r["width"] == 1.0)
    assert v2["imgsz"] == 160 and v2["params"] == 3_504_872
    assert round(v2["madds"] / 1e6) == 154  # TF-slim table: 154M at 160 px
    assert all({"name", "width", "imgsz", "params", "madds"} <= set(row) for row in rows)


def test_unknown_model_is_one_line_and_exit_code_2(capsys):
    assert main(["info", "--model", "resnet50"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown model 'resnet50'" in err and "mobilenet_v2" in err


def test_console_script_prints_the_table():
    executable = shutil.which("mobilevision", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert executable, "the console script `mobilevision` is not installed in this environment"
    result = subprocess.run([executable, "info", "--model", "mobilenet_v1"], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "task", "width"]
    assert any(line.split()[:3] == ["mobilenet_v1", "classify", "1.00"] and "568.7M" in line for line in lines)


def test_quickstart_refuses_a_dataset_too_small_in_one_line(capsys):
    # The quickstart itself runs in tests/tasks/test_quickstart.py; this is its checks before any work.
    assert main(["quickstart", "--images", "5", "--no-serve"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--images 5" in error
