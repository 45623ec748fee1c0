"""The throwaway venv with tensorflow-cpu that the TF benchmarks run their TensorFlow half in
(never .venv: CI and users never need TensorFlow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def tensorflow_python(venv: Path) -> Path:
    """The Python of `venv`, created and given tensorflow-cpu from the package index if needed."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True, check=False).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "tensorflow-cpu"], check=True)
    return python
