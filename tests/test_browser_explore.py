"""Real browser sessions on the Explore page: a slider moves and the preview's pixels change; uploads and a JSON
import go through the real file inputs."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

TILES = "[data-testid='stImage'] img"


@pytest.fixture(scope="module")
def page():
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as url, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.url_root = url
            yield pg
        finally:
            browser.close()


def open_explore(page) -> None:
    page.goto(page.url_root)
    page.get_by_text("Explore augmentations").wait_for(timeout=60_000)
    page.locator(TILES).nth(16).wait_for(timeout=30_000)


def tile_pixels(page, index: int = 1) -> np.ndarray:
    tile = page.locator(TILES).nth(index)  # 0 is the original
    return np.asarray(Image.open(io.BytesIO(tile.screenshot())).convert("RGB"), dtype=np.int16)


def wait_for_new_tile(page, old_src: str) -> None:
    page.wait_for_function("([sel, src]) => document.querySelectorAll(sel)[1]?.src !== src",
                           arg=[TILES, old_src], timeout=60_000)
    page.wait_for_timeout(500)


def test_moving_a_slider_changes_the_preview(page):
    open_explore(page)
    page.screenshot(path=ARTIFACTS / "explore.png")
    before_src = page.locator(TILES).nth(1).get_attribute("src")
    before = tile_pixels(page)
    page.get_by_test_id("stSidebar").get_by_text("1. Rotation").click()
    thumb = page.get_by_test_id("stSidebar").get_by_role("slider").nth(1)  # rotation: low end (0 is p)
    thumb.focus()
    thumb.press("Home")  # the low end to −180°: one change, one rerun
    wait_for_new_tile(page, before_src)
    after = tile_pixels(page)
    page.screenshot(path=ARTIFACTS / "explore-after-slider.png")
    assert before.shape == after.shape
    assert np.abs(before - after).mean() > 5  # the drawn image really changed, pixel by pixel


def test_a_broken_upload_is_refused_and_a_good_one_is_shown(page):
    open_explore(page)
    upload = page.get_by_test_id("stSidebar").locator("input[type='file']")
    upload.set_input_files(files=[{"name": "broken.png", "mimeType": "image/png",
                                   "buffer": b"\x89PNG\r\n\x1a\n" + b"junk" * 10}])
    page.get_by_text("broken.png is damaged or truncated").wait_for(timeout=30_000)
    assert page.locator(TILES).count() > 16  # the preview is still there

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(buf, "PNG")
    old_src = page.locator(TILES).nth(1).get_attribute("src")
    upload.set_input_files(files=[{"name": "green.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    wait_for_new_tile(page, old_src)
    page.screenshot(path=ARTIFACTS / "explore-upload.png")
    centre = tile_pixels(page)[10:-10, 10:-10].reshape(-1, 3).mean(0)
    assert centre[1] > 150 and centre[0] < 80  # the draws are of the green upload


def test_importing_a_json_file_replaces_the_pipeline(page):
    open_explore(page)
    doc = {"version": 1, "steps": [{"transform": "invert", "p": 1.0}]}
    page.get_by_text("Export and import").click()  # a lazy panel: its widgets arrive with the next run
    page.get_by_text("Import a pipeline (JSON file)").scroll_into_view_if_needed()
    page.get_by_test_id("stMain").locator("input[type='file']").set_input_files(
        files=[{"name": "p.json", "mimeType": "application/json", "buffer": json.dumps(doc).encode()}])
    page.get_by_test_id("stSidebar").get_by_text("1. Invert").wait_for(timeout=30_000)
    page.get_by_test_id("stMain").locator("input[type='file']").set_input_files(
        files=[{"name": "bad.json", "mimeType": "application/json", "buffer": b'{"version": 1, "steps": 3}'}])
    page.get_by_text("bad.json was not imported at steps").wait_for(timeout=30_000)
    assert page.get_by_test_id("stSidebar").get_by_text("1. Invert").is_visible()
