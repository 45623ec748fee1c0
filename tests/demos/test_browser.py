"""The web demo in a real browser: Playwright drives Debian's Chromium (never a browser Playwright
downloads) to upload an image, waits for the overlay, and saves a screenshot.

.ci/run installs Chromium where it is missing, so in CI (CI=true) this test runs or fails; a
developer machine without Chromium skips it and says how to get it.
"""

from __future__ import annotations

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


def test_upload_in_the_browser_shows_the_overlay(web_demo, chromium, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, _ = web_demo
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), cv2.cvtColor(scene(1, size=(240, 320)), cv2.COLOR_RGB2BGR))
    screenshot = tmp_path / "web_demo.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.goto(url)
            page.locator("#upload input[type=file]").set_input_files(str(image))
            # The upload event runs the models; the overlay is an <img> once the result is back.
            expect(page.locator("#overlay img")).to_be_visible(timeout=60_000)
            expect(page.locator("#status")).to_contain_text("ms on", timeout=60_000)
            expect(page.locator("#legend")).to_contain_text("box", timeout=10_000)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
