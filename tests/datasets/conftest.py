"""A tiny built-in dataset generated once per test session, and a throwaway copy for tests that break it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mobilevision.datasets.synth.generate import generate_dataset

SEED = 7
IMAGES = 24
SIZE = 128


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """Read-only: tests must not modify it (its JPEG views are hard links to each other)."""
    return generate_dataset(tmp_path_factory.mktemp("synth") / "data", images=IMAGES, seed=SEED, size=SIZE, workers=1)


@pytest.fixture
def synth_copy(synth_root, tmp_path) -> Path:
    """A private copy (plain files, no hard links) a test may corrupt."""
    return Path(shutil.copytree(synth_root, tmp_path / "data"))
