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
PAGE_TITLES = ("Explore", "Train", "Runs", "Gradients")


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


def grid_tiles(page, count: int) -> list[np.ndarray]:
    """The first ``count`` draws' pixels as the browser shows them."""
    return [tile_pixels(page, i) for i in range(1, count + 1)]


def settle(page, wait_ms: int = 1500) -> None:
    """Wait until the app has finished its run (no spinner, no stale elements), then a little longer."""
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    page.wait_for_timeout(wait_ms)


def nav(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    settle(page)


# The draws grid (the first image list) from a finished run with n draws: Streamlit keeps the last run's grid on
# screen while the next run computes, and between a key press and the server starting that run nothing, not even
# the status widget, says a new grid is coming. So wait for the grid itself, not for quiet or for a while.
GRID_SHOWS = """n => {
  const grid = [...document.querySelectorAll("[data-testid=stElementContainer]")]
    .find(c => c.querySelector("[data-testid=stImage]"));
  return !!grid && grid.dataset.stale !== "true" && grid.querySelectorAll("img").length === n + 1
    && new URL(location).searchParams.get("n") === String(n)
    && !document.querySelector("[data-testid=stStatusWidget]");
}"""


def draws_slider(page):
    """The number-of-draws slider, found by its label (the strength slider sits below it)."""
    return page.get_by_test_id("stSidebar").locator("[data-testid='stSlider']", has_text="number of draws") \
        .get_by_role("slider")


def wait_for_grid(page, n: int) -> None:
    """Wait until the grid shows the original and ``n`` draws, drawn by a run that has finished."""
    page.wait_for_function(GRID_SHOWS, arg=n, timeout=60_000)


def test_settings_survive_a_round_trip_through_every_page(page):
    open_explore(page)
    sidebar = page.get_by_test_id("stSidebar")
    seed = sidebar.get_by_label("seed", exact=True)
    seed.fill("7")
    seed.press("Enter")
    page.wait_for_function("() => location.search.includes('seed=7')", timeout=60_000)
    wait_for_grid(page, 16)
    n_draws = draws_slider(page)
    for n in range(15, 7, -1):  # 16 → 8 draws, one press at a time, each shown before the next
        n_draws.focus()
        n_draws.press("ArrowLeft")
        wait_for_grid(page, n)
    before = grid_tiles(page, 8)
    for title in ("Train", "Runs", "Gradients", "Explore"):
        nav(page, title)
        assert page.get_by_test_id("stException").count() == 0, title
    wait_for_grid(page, 8)
    assert sidebar.get_by_label("seed", exact=True).input_value() == "7"
    after = grid_tiles(page, 8)
    assert all(a.shape == b.shape and np.abs(a - b).mean() < 1 for a, b in zip(before, after, strict=True))


def copied_link(page) -> str:
    page.get_by_role("button", name="Copy link").click()
    code = page.get_by_test_id("stPopoverBody").locator("code")
    code.wait_for(timeout=30_000)
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_a_copied_link_opened_in_a_new_browser_shows_the_same_pixels(page):
    open_explore(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("1. Rotation").click()
    thumb = sidebar.get_by_role("slider").nth(2)  # the rotation range's high end
    thumb.focus()
    thumb.press("End")
    settle(page)
    link = copied_link(page)
    assert link.startswith(page.url_root) and "p=" in link and "n=16" in link
    sender = grid_tiles(page, 16)
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        receiver = other.new_page()
        receiver.goto(link)
        receiver.locator(TILES).nth(16).wait_for(timeout=60_000)
        settle(receiver)
        received = grid_tiles(receiver, 16)
    finally:
        other.close()
    assert all(a.shape == b.shape and np.abs(a - b).mean() < 1 for a, b in zip(sender, received, strict=True))


def test_an_upload_is_said_not_to_travel_in_the_link(page):
    open_explore(page)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    old_src = page.locator(TILES).nth(1).get_attribute("src")
    page.get_by_test_id("stSidebar").locator("input[type='file']").set_input_files(
        files=[{"name": "red.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    wait_for_new_tile(page, old_src)
    page.get_by_role("button", name="Copy link").click()
    page.get_by_text("Your uploaded picture cannot travel in a link").wait_for(timeout=30_000)
    page.keyboard.press("Escape")


def test_draw_one_is_the_same_at_1_8_and_64_draws(page):
    firsts = []
    for n in (1, 8, 64):
        page.goto(f"{page.url_root}/?n={n}&exact=true")
        page.locator(TILES).nth(n).wait_for(timeout=60_000)
        settle(page)
        caption = page.get_by_test_id("stImageCaption").nth(1).inner_text()  # 0 is the original's
        pixels = Image.fromarray(tile_pixels(page, 1).astype(np.uint8)).resize((64, 64))
        firsts.append((caption, np.asarray(pixels, dtype=np.int16)))
    assert firsts[0][0] == firsts[1][0] == firsts[2][0] and "rotation angle=" in firsts[0][0]
    assert all(np.abs(firsts[0][1] - f[1]).mean() < 6 for f in firsts[1:])  # the same picture at other sizes


def test_no_request_leaves_the_machine_and_user_text_is_never_a_link(page):
    own = page.url_root
    outside, failed = [], []
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        visitor = context.new_page()
        visitor.route("**/*", lambda route: route.continue_() if route.request.url.startswith((own, "data:"))
                      else (outside.append(route.request.url), route.abort()))
        pending = set()  # requests neither finished nor failed yet
        visitor.on("request", lambda r: pending.add(r))
        visitor.on("requestfinished", lambda r: pending.discard(r))
        visitor.on("requestfailed", lambda r: (pending.discard(r), failed.append(r.url)))
        for path in ("", "/train", "/runs", "/gradients"):
            visitor.goto(own + path)
            visitor.get_by_role("heading").first.wait_for(timeout=60_000)
            settle(visitor, 2500)
            # Every request answered before the next page: leaving earlier cancels them (a slow machine's
            # images still loading), which would read as failures of the app.
            for _ in range(600):
                if not pending:
                    break
                visitor.wait_for_timeout(100)
            assert not pending, [r.url for r in pending]
        visitor.goto(own)
        visitor.locator(TILES).nth(16).wait_for(timeout=60_000)
        visitor.get_by_text("Export and import").click()
        doc = {"version": 1, "steps": [{"transform": "http://2130706433:8612/reset"}]}
        visitor.get_by_label("…or paste one").fill(json.dumps(doc))
        visitor.get_by_role("button", name="Load pasted JSON").click()
        alert = visitor.get_by_test_id("stAlert").filter(has_text="was not imported")
        alert.wait_for(timeout=30_000)
        assert "2130706433" in alert.inner_text() and alert.locator("a").count() == 0
    finally:
        context.close()
    assert outside == [] and failed == []


def test_a_first_deep_link_after_the_server_starts_gets_the_apps_pages_and_settings(page):
    with streamlit_server() as url:  # a new server: nobody has opened its app yet
        context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            first = context.new_page()
            first.goto(f"{url}/train?steps=250")
            first.get_by_role("heading", name="Train").first.wait_for(timeout=60_000)
            settle(first)
            links = first.get_by_test_id("stSidebarNav").locator("a").all_inner_texts()
            assert [t.strip() for t in links] == list(PAGE_TITLES)
            assert first.title() == "augviz"  # app.py's page settings, not the file name
            steps = first.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text="training steps")
            assert steps.get_by_test_id("stSliderThumbValue").inner_text() == "250"  # the link reached the form
            assert "steps=250" in first.url and first.get_by_test_id("stException").count() == 0
        finally:
            context.close()


def rotation_in_url(page) -> tuple:
    from urllib.parse import parse_qs, urlparse

    from augviz import share
    return share.decode_pipeline(parse_qs(urlparse(page.url).query)["p"][0]).steps[0].params["degrees"]


def test_a_steps_exact_value_survives_a_visit_to_train(page):
    open_explore(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("1. Rotation").click()
    settle(page)
    sidebar.get_by_text("type exact numbers").click()
    settle(page)
    high = sidebar.get_by_label("to", exact=True).first
    high.fill("28")
    high.press("Enter")
    settle(page)
    seed = sidebar.get_by_label("seed", exact=True)
    seed.fill("7")
    seed.press("Enter")
    settle(page)
    assert rotation_in_url(page) == (-15.0, 28.0)
    nav(page, "Train")
    assert rotation_in_url(page) == (-15.0, 28.0)
    nav(page, "Explore")
    page.locator(TILES).nth(16).wait_for(timeout=30_000)
    settle(page)
    assert sidebar.get_by_label("seed", exact=True).input_value() == "7"
    assert rotation_in_url(page) == (-15.0, 28.0)


def test_fast_key_presses_on_the_draws_slider_all_land(page):
    """Presses 30 ms apart, faster than a rerun and its address-bar update: every one moves the slider."""
    open_explore(page)
    n_draws = draws_slider(page)
    n_draws.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(30)
    page.wait_for_function("() => location.search.includes('n=26')", timeout=60_000)
    settle(page)
    assert "n=26" in page.url  # 16 + 10
    page.get_by_text("4 steps on · 26 draws").wait_for(timeout=30_000)  # the grid under it shows them
