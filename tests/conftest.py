"""Shared test settings: one torch thread per xdist worker, so two workers share two cores."""

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_hub_downloads(monkeypatch, tmp_path):
    """No test downloads anything: the hub cache points at an empty folder and downloads fail."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def refuse(url, *args, **kwargs):
        import urllib.error

        raise urllib.error.URLError(f"tests never download ({url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
