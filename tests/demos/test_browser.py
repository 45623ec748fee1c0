"""The web demo in a real browser: Playwright drives Debian's Chromium (never a browser Playwright
downloads) to upload an image, wait for the overlay and save a screenshot, and to stream
Chromium's stand-in camera through the models.

.ci/run installs Chromium where it is missing, so in CI (CI=true) this test runs or fails; a
developer machine without Chromium skips it and says how to get it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import cv2
import pytest

from tests.demos.conftest import scene

CHROMIUM = Path("/usr/bin/chromium")
# As root in a container: no sandbox (it needs user namespaces), no GPU, and nothing that reaches
# out to the network on its own.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run should have installed it (apt-get install -y chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}; `apt-get install -y chromium` to run the browser test")
    return CHROMIUM


@contextlib.contextmanager
def browser_page(chromium: Path, profile: Path, *, flags: tuple[str, ...] = ()):
    """A page of a fresh headless Chromium profile (Playwright's sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(chromium), headless=True, args=[*CHROMIUM_FLAGS, *flags],
            viewport={"width": 1280, "height": 900})
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_upload_in_the_browser_shows_the_overlay(web_demo, chromium, tmp_path):
    from playwright.sync_api import expect

    url, _ = web_demo
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), cv2.cvtColor(scene(1, size=(240, 320)), cv2.COLOR_RGB2BGR))
    screenshot = tmp_path / "web_demo.png"
    with browser_page(chromium, tmp_path / "profile") as page:
        page.goto(url)
        page.locator("#upload input[type=file]").set_input_files(str(image))
        # The upload event runs the models; the overlay is an <img> once the result is back.
        expect(page.locator("#overlay img")).to_be_visible(timeout=60_000)
        expect(page.locator("#status")).to_contain_text("ms on", timeout=60_000)
        expect(page.locator("#legend")).to_contain_text("box", timeout=10_000)
        page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000


def test_webcam_frames_stream_through_the_models(web_demo, chromium, tmp_path):
    from playwright.sync_api import expect

    url, _ = web_demo
    # Chromium's stand-in camera (a test pattern) and no permission prompt.
    fake_camera = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    with browser_page(chromium, tmp_path / "profile", flags=fake_camera) as page:
        page.goto(url)
        page.get_by_role("tab", name="Webcam").click()
        page.get_by_text("Click to Access Webcam").click()
        page.get_by_label("capture photo").click()  # Gradio's "Record": starts streaming frames
        expect(page.locator("#overlay img")).to_be_visible(timeout=60_000)
        expect(page.locator("#status")).to_contain_text("ms on", timeout=60_000)
        page.screenshot(path=str(tmp_path / "webcam.png"), full_page=True)
