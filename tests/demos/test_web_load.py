"""The web demo under load from careless and hostile clients: 8 clients x 20 requests, each client
alternating /predict uploads and the frames of its open webcam session on /stream, and mixing
valid images, a decompression bomb, a text file named .jpg, grayscale and RGBA images. Every bad
request is answered with a message, every good one with a result, the server prints no traceback
and is up at the end."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

import cv2
import httpx
import pytest

from tests.demos.conftest import scene
from tests.demos.web_clients import WebcamStream, ask, big_png, client, write_image

CLIENTS, REQUESTS = 8, 20
GOOD = ("photo.jpg", "gray.png", "rgba.png")
# What the status line of each bad file says (a /stream frame is named "the frame", an upload by its file name).
BAD = {"bomb.png": "is too large", "notes.jpg": "is not an image"}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """{file name: path} of the good and the bad images."""
    folder = tmp_path_factory.mktemp("load")
    image = scene(3)
    (folder / "notes.jpg").write_text("meeting notes, not a photo\n")
    return {"photo.jpg": write_image(folder / "photo.jpg", image),
            "gray.png": write_image(folder / "gray.png", cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)),
            "rgba.png": write_image(folder / "rgba.png", cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)),
            "bomb.png": big_png(folder / "bomb.png", width=20_000, height=20_000, gray=True),
            "notes.jpg": folder / "notes.jpg"}


@pytest.mark.slow  # about 30 s on 2 busy cores
def test_8_clients_x_20_mixed_requests_are_all_answered(web_demo, files, capfd):
    url, predictors = web_demo
    assert files["bomb.png"].stat().st_size < 100_000  # 400 megapixels on disk in a few kB
    detector = next(p for p in predictors if p.tasks == ("detect",))
    names = list(files)
    answers: list[tuple[str, str, str]] = []  # (endpoint, file name, what was wrong) of each request
    latencies: list[float] = []

    def one_client(index: int) -> None:
        session = client(url)
        with contextlib.closing(WebcamStream(url, models=[detector.name], tasks=["detect"], conf=0.3)) as webcam:
            for request in range(REQUESTS):
                name, endpoint = names[(index + request) % len(names)], ("/predict", "/stream")[request % 2]
                started = time.perf_counter()
                try:
                    if endpoint == "/predict":
                        overlay, results, _, status = ask(session, files[name], models=[detector.name],
                                                          tasks=["detect"], conf=0.3)
                    else:
                        overlay, results, _, status = webcam.send(files[name])
                    answers.append((endpoint, name, wrong_answer(name, overlay=overlay, results=results,
                                                                 status=status)))
                except Exception as error:  # noqa: BLE001 (collected: a thread's exception would be lost)
                    answers.append((endpoint, name, f"{type(error).__name__}: {error}"))
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one_client, args=(index,)) for index in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    with capfd.disabled():  # shown with -s; the server's own output stays captured, to be checked
        print(f"\n{CLIENTS} clients x {REQUESTS} requests in {elapsed:.1f} s: median "
              f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
              f"{statistics.quantiles(latencies, n=20)[-1] * 1000:.0f} ms per request")
    assert len(answers) == CLIENTS * REQUESTS
    assert [answer for answer in answers if answer[2]] == []
    # Both endpoints saw every kind of file.
    assert {(endpoint, name) for endpoint, name, _ in answers} == {(e, n) for e in ("/predict", "/stream") for n in names}
    # Up at the end: the page, and a result for a photo.
    assert httpx.get(url, timeout=30).status_code == 200
    overlay, _, _, status = ask(client(url), files["photo.jpg"], models=[detector.name], tasks=["detect"])
    assert overlay and "ms on" in status
    assert "Traceback" not in capfd.readouterr().err  # the server printed none either


def wrong_answer(name: str, *, overlay, results, status: str) -> str:
    """What is wrong with the answer to the file `name` ("" when it is right): a result for a good
    file, no result and the reason for a bad one."""
    if name in GOOD:
        ok = bool(overlay) and "detect" in (results or {}) and "ms on" in status
    else:
        ok = overlay is None and results is None and status.startswith("**Cannot use this") and BAD[name] in status
    return "" if ok else f"overlay={overlay!r:.60} results={results!r:.60} status={status!r:.200}"
