"""The demos take published models by name (torchvision's random-weight files placed in the hub
cache, tests/published_files.py): `demo live --weights torchvision:...`, and `demo web`, whose
model list offers the published models in the cache and loads one when it is selected."""

from __future__ import annotations

from functools import partial

import cv2
import numpy as np
import pytest
import torch

from mobilevision.cli import main
from mobilevision.demos.loading import ModelList, cached_published, load_predictor, load_predictors
from mobilevision.demos.web import OverlayFiles, analyse, build_app, serve
from mobilevision.errors import MobileVisionError
from tests.demos.conftest import free_port, scene
from tests.demos.test_live import read_video
from tests.demos.test_web import ask, client
from tests.published_files import LRASPP, SSDLITE, place

SSDLITE_IN_LIST = "detect: ssdlite320_mobilenet_v3_large (torchvision:ssdlite320_mobilenet_v3_large)"


@pytest.mark.slow  # 10-35 s on 2 cores, idle to busy: the first use converts the file and exports ONNX
def test_demo_live_runs_a_published_model_by_name(monkeypatch, video, tmp_path, capsys):
    from mobilevision.deploy import runtime_choice

    place(monkeypatch, SSDLITE)
    # ONNX Runtime measured faster (injected: --runtime auto's choice is not what this test is about).
    monkeypatch.setattr(runtime_choice, "network_timer",
                        lambda build, *, memory_format, **_: lambda: 10.0 if memory_format == torch.channels_last else 5.0)
    threads = torch.get_num_threads()
    try:
        code = main(["demo", "live", "--source", str(video), "--weights", SSDLITE, "--no-window",
                     "--project", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)  # ONNX Runtime's loader leaves torch one thread
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "8 frames" in printed and "on onnxruntime" in printed
    assert len(read_video(tmp_path / "demo" / "live" / "clip.mp4")) == 8


def test_demo_web_lists_the_published_models_in_the_cache_and_loads_one_when_selected(checkpoints, monkeypatch,
                                                                                      tmp_path):
    import gradio as gr

    place(monkeypatch, SSDLITE)  # and not LRASPP: a model that would need a download is not offered
    assert cached_published() == ["torchvision:ssdlite320_mobilenet_v3_large.COCO_V1"]
    loaded = load_predictors([str(checkpoints["classify"])], runtime="torch")
    app = build_app(loaded, conf=0.05, load=partial(load_predictor, runtime="torch", device="cpu", min_conf=0.05))
    (choice,) = [block for block in app.blocks.values() if isinstance(block, gr.CheckboxGroup)
                 and block.label == "Models"]
    assert [value for _, value in choice.choices] == [loaded[0].name, SSDLITE_IN_LIST]
    assert choice.value == [loaded[0].name]  # offered, not loaded until selected
    assert not any(LRASPP.split(":")[1] in value for _, value in choice.choices)

    url = serve(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        image = scene(2)
        path = tmp_path / "scene.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        _, results, _, status = ask(client(url), path, models=[SSDLITE_IN_LIST], tasks=["detect"])
    finally:
        app.close()
    assert "1 model(s)" in status and "torch" in status
    expected = load_predictor(SSDLITE, runtime="torch", device="cpu", min_conf=0.05)(image, conf=0.05)["detect"]
    assert len(results["detect"]) == len(expected["boxes"]) > 0
    assert np.asarray([found["box"] for found in results["detect"]]) == pytest.approx(expected["boxes"], abs=0.01)
    assert {found["model"] for found in results["detect"]} == {SSDLITE_IN_LIST}


def test_a_published_model_that_cannot_load_is_named_in_the_status(checkpoints, monkeypatch):
    place(monkeypatch, SSDLITE)

    def refuse(name: str):
        raise MobileVisionError(f"{name}: the file in the hub cache has another SHA-256")

    models = ModelList([], published_names=cached_published(), load=refuse)
    overlay, results, _, status = analyse(scene(0), models, chosen=[SSDLITE_IN_LIST], tasks=["detect"], conf=0.3,
                                          files=OverlayFiles())
    assert overlay is None and results is None
    assert status == ("**Cannot load this model:** torchvision:ssdlite320_mobilenet_v3_large.COCO_V1: the file in the "
                      "hub cache has another SHA-256")
