"""`mobilevision demo web` driven by gradio_client: the outputs for an image, the controls, bad
uploads, and where it binds (test_web_load.py puts it under load)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mobilevision.cli import build_parser, main
from mobilevision.demos.frames import MAX_PIXELS
from tests.demos.conftest import scene
from tests.demos.web_clients import ask, big_png, client, write_image


def test_an_image_gets_its_overlay_results_and_legend(web_demo, tmp_path):
    url, predictors = web_demo
    image = scene(2, size=(240, 320))
    overlay, results, legend, status = ask(client(url), write_image(tmp_path / "scene.png", image),
                                           models=[p.name for p in predictors])

    shown = cv2.cvtColor(cv2.imread(overlay), cv2.COLOR_BGR2RGB)
    assert shown.shape == image.shape
    assert np.abs(shown.astype(np.int16) - image).mean() > 5  # masks, boxes and text drawn on it
    # The same numbers as the predictors give in this process, for each task.
    expected = {task: p(image, conf=0.05)[task] for p in predictors for task in p.tasks}
    assert np.asarray([d["box"] for d in results["detect"]]) == pytest.approx(expected["detect"]["boxes"], abs=0.01)
    assert [d["name"] for d in results["detect"]] == [predictors[0].class_names["detect"][label - 1]
                                                      for label in expected["detect"]["labels"]]
    assert results["classify"][0]["class"] == int(np.argmax(expected["classify"]))
    assert sum(entry["fraction"] for entry in results["segment"]) == pytest.approx(
        float((expected["segment"] > 0).mean()), abs=1e-3)
    for entry in results["detect"]:
        assert entry["name"] in legend
    assert "3 model(s)" in status and "torch" in status


def test_models_and_tasks_controls_choose_what_runs(web_demo, tmp_path):
    url, predictors = web_demo
    detector = next(p for p in predictors if p.tasks == ("detect",))
    _, results, _, _ = ask(client(url), write_image(tmp_path / "scene.png", scene(0, size=(120, 160))),
                           models=[detector.name], tasks=["detect", "segment"])
    assert set(results) == {"detect"}
    _, results, _, status = ask(client(url), tmp_path / "scene.png", models=[detector.name], tasks=["segment"])
    assert results == {} and "Select a model and a task" in status


def test_bad_uploads_get_a_readable_message_and_the_server_goes_on(web_demo, tmp_path):
    url, predictors = web_demo
    names = [p.name for p in predictors]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    huge = big_png(tmp_path / "huge.png", width=7100, height=7100)  # 50.4 megapixels
    assert 7100 * 7100 > 2 * MAX_PIXELS
    session = client(url)
    for path, reason in ((empty, "empty.jpg is empty (0 bytes)"), (text, "notes.png is not an image"),
                         (huge, "huge.png is too large (7100 x 7100 pixels)")):
        overlay, results, _, status = ask(session, path, models=names)
        assert overlay is None and results is None
        assert status.startswith("**Cannot use this upload:**") and reason in status, status
    overlay, _, _, status = ask(session, write_image(tmp_path / "fine.png", scene(1, size=(120, 160))), models=names)
    assert overlay is not None and "ms on" in status


def test_the_command_binds_127_0_0_1_by_default_and_a_busy_port_is_a_one_line_error(checkpoints, capsys):
    import socket

    args = build_parser().parse_args(["demo", "web", "--weights", "best.pt"])
    assert args.host == "127.0.0.1"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["demo", "web", "--weights", str(checkpoints["detect"]), "--runtime", "torch", "--port", str(port)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"mobilevision: error: --port {port}: cannot serve"), lines
