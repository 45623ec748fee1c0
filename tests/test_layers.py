"""The layers of DESIGN.md, enforced: `lint-imports` (import-linter, contracts in pyproject.toml)
passes on the package, and fails once a lower layer imports a higher one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    # From `folder`, whose copy of the package is the one found first (import-linter puts the working
    # directory on sys.path), and without a cache, so an edited copy is read afresh.
    return subprocess.run([LINT_IMPORTS, "--config", "pyproject.toml", "--no-cache"], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "5 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mobilevision", tmp_path / "mobilevision", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n{line}  # a deliberate upward import\n")


def test_an_upward_import_fails_the_build(tmp_path):
    copy = _copy(tmp_path)
    _add_import(copy / "mobilevision" / "tasks" / "detect" / "model.py", "from mobilevision.demos import render")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "mobilevision.tasks is not allowed to import mobilevision.demos" in result.stdout


def test_a_task_importing_another_fails_the_build(tmp_path):
    copy = _copy(tmp_path)
    _add_import(copy / "mobilevision" / "tasks" / "segment" / "model.py", "from mobilevision.tasks.detect import loss")
    result = lint_imports(copy)
    assert result.returncode != 0 and "segment imports no other task BROKEN" in result.stdout


def test_no_dict_outside_tasks_is_keyed_by_task_name():
    """Anything that looks a task up goes through the registry (tasks/registry.py), never a dict of
    its own: no `"detect": ...` key in the code outside tasks/ (comparisons such as the data layer's
    `task == "detect"`, which picks a dataset view, are not keys)."""
    key = re.compile(r"""["'](classify|detect|segment|multitask)["']\s*:""")
    found = []
    for path in (ROOT / "mobilevision").rglob("*.py"):
        if "tasks" in path.relative_to(ROOT / "mobilevision").parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in key.finditer(line):
                if not line[:match.start()].rstrip().endswith("=="):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
