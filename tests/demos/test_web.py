"""`mobilevision demo web` driven by gradio_client: the outputs for an image, bad uploads, and
8 concurrent clients x 20 requests."""

from __future__ import annotations

import statistics
import threading
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from mobilevision.cli import build_parser, main
from mobilevision.demos.uploads import MAX_PIXELS
from tests.demos.conftest import scene

TASKS = ["classify", "detect", "segment"]


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def ask(session, path: Path, *, models: list[str], tasks: list[str] = TASKS, conf: float = 0.05):
    from gradio_client import handle_file

    return session.predict(handle_file(str(path)), models, tasks, conf, api_name="/predict")


def write_image(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


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


def big_png(path: Path, *, width: int, height: int) -> Path:
    """A valid PNG of width x height black pixels written row by row, so the test never holds it decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    compressor, row = zlib.compressobj(), b"\x00" + bytes(3 * width)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


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


@pytest.mark.slow  # about 20 s on 2 busy cores
def test_8_clients_x_20_requests_are_all_answered(web_demo, tmp_path):
    url, predictors = web_demo
    detector = next(p for p in predictors if p.tasks == ("detect",))
    image = write_image(tmp_path / "scene.jpg", scene(3))
    latencies: list[float] = []
    failures: list[BaseException] = []

    def one_client() -> None:
        session = client(url)
        for _ in range(20):
            started = time.perf_counter()
            try:
                overlay, results, _, _ = ask(session, image, models=[detector.name], tasks=["detect"])
                assert overlay is not None and "detect" in results
            except BaseException as error:  # collected: a thread's exception would be lost
                failures.append(error)
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one_client) for _ in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"\n8 clients x 20 requests in {elapsed:.1f} s: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms per request")
    assert not failures, failures[:3]
    assert len(latencies) == 160


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
