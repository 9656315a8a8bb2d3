"""One real browser session on the Explore page: it opens, a slider moves, the preview's pixels change."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def first_draw_pixels(page) -> np.ndarray:
    tile = page.locator("[data-testid='stImage'] img").nth(1)  # 0 is the original
    return np.asarray(Image.open(io.BytesIO(tile.screenshot())).convert("RGB"), dtype=np.int16)


def test_moving_a_slider_changes_the_preview():
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as url, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("Explore augmentations").wait_for(timeout=60_000)
            page.locator("[data-testid='stImage'] img").nth(16).wait_for(timeout=30_000)
            page.screenshot(path=ARTIFACTS / "explore.png")
            before_src = page.locator("[data-testid='stImage'] img").nth(1).get_attribute("src")
            before = first_draw_pixels(page)

            page.get_by_test_id("stSidebar").get_by_text("1. Rotation").click()
            thumb = page.get_by_test_id("stSidebar").get_by_role("slider").nth(1)  # rotation: low end (0 is p)
            thumb.focus()
            for _ in range(40):
                thumb.press("ArrowLeft")
            page.wait_for_function(
                "src => document.querySelectorAll(\"[data-testid='stImage'] img\")[1]?.src !== src",
                arg=before_src, timeout=30_000)
            page.wait_for_timeout(500)
            after = first_draw_pixels(page)
            page.screenshot(path=ARTIFACTS / "explore-after-slider.png")
        finally:
            browser.close()
    assert before.shape == after.shape
    assert np.abs(before - after).mean() > 5  # the drawn image really changed, pixel by pixel
