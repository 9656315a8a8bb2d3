"""What a lecture's screens show, measured in Chromium at 800 and 1366 px: chart legends clear of the chart's
titles and inside the chart, the Runs table's time column wide enough for its longest time, presentation-mode
tiles never smaller than the normal grid's, and captions that wrap between words, never inside one."""

from __future__ import annotations

import os
import re

import pytest

from augviz import Pipeline, Step, serialize, share
from augviz.report import duration
from augviz.ui import explore as explore_ui
from augviz.ui import runs as runs_ui
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.test_browser_gradients import settled
from tests.test_ui_runs import AUGMENTED, BASELINE, run_with_data, store_of

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

BOXES = """() => [...document.querySelectorAll(".js-plotly-plot")].map(p => {
  const box = sel => { const e = p.querySelector(sel); if (!e) return null; const b = e.getBoundingClientRect();
                       return {left: b.left, top: b.top, right: b.right, bottom: b.bottom}; };
  return {name: (p.querySelector(".gtitle") || {}).textContent, title: box(".gtitle"), legend: box(".legend"),
          xtitle: box(".xtitle"), chart: box(".main-svg")};
})"""
# The width of a text in the page's own font, as the browser lays it out.
TEXT_PX = """([text, font]) => { const c = document.createElement("canvas").getContext("2d");
  c.font = font || `14px ${getComputedStyle(document.body).fontFamily}`; return c.measureText(text).width; }"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A server over a home with two runs that have metrics, one of them 20 min 21 s long; and Chromium."""
    home = tmp_path_factory.mktemp("home")
    run_with_data(home, BASELINE)
    long = run_with_data(home, AUGMENTED, status="running")
    store_of(home).finish(long, "finished", test_acc=0.5, wall_s=1221.0)
    with playwright.sync_playwright() as p, streamlit_server({"AUGVIZ_HOME": str(home)}) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser, url
        finally:
            browser.close()


def opened(app, path: str, width: int, wait_for: str):
    browser, url = app
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(f"{url}/{path}")
    page.wait_for_selector(wait_for, timeout=90_000)
    settled(page)
    page.wait_for_timeout(1000)
    return page


def apart(a: dict, b: dict) -> bool:
    return a["bottom"] <= b["top"] or b["bottom"] <= a["top"] or a["right"] <= b["left"] or b["right"] <= a["left"]


@pytest.mark.parametrize("width", [800, 1366])
def test_chart_legends_stay_clear_of_the_titles_and_inside_the_chart(app, width):
    page = opened(app, "runs?runs=1,2", width, ".js-plotly-plot .legend")
    charts = [c for c in page.evaluate(BOXES) if c["name"] in ("Loss", "Accuracy")]
    assert len(charts) == 2
    for c in charts:
        assert apart(c["legend"], c["title"]) and apart(c["legend"], c["xtitle"]), c
        assert c["chart"]["left"] - 1 <= c["legend"]["left"] and c["legend"]["right"] <= c["chart"]["right"] + 1, c
    page.close()


def test_the_runs_tables_time_column_holds_its_longest_time(app):
    page = opened(app, "runs?runs=1,2", 1366, "[data-testid=stDataFrame]")
    # The grid draws its cells on a canvas: the longest times are measured in the page's font instead.
    widest = max(page.evaluate(TEXT_PX, [text, None]) for text in (duration(1221), duration(3599), duration(86399)))
    padding = 2 * 8  # the grid's cell padding, each side
    assert widest + padding <= runs_ui.METRIC_PX["time"], widest
    page.close()


def test_presentation_tiles_are_never_smaller_than_the_normal_grids_at_800_px(app):
    tiles = []
    for show in ("true", "false"):
        page = opened(app, f"?show={show}", 800, "[data-testid=stImage] img")
        tiles.append(page.evaluate("""() => [...document.querySelectorAll("[data-testid=stImage] img")]
            .map(i => i.getBoundingClientRect().width)"""))
        page.close()
    present, normal = tiles
    grid = normal[:17]  # the original and 16 draws; the step-by-step strip follows
    assert len(present) >= 17 and min(present[:17]) >= max(grid) - 1, (present, grid)


def test_captions_wrap_between_words_never_inside_one_nor_inside_a_value(app):
    pipe = Pipeline((*explore_ui.SEED_PIPELINE.steps, Step("mixup", {"alpha": 0.2}, 1.0)), seed=4)
    link = share.pack(serialize.to_dict(pipe))
    page = opened(app, f"?n=64&img=test_card&p={link}", 1366, "[data-testid=stImage] img")
    captions = page.evaluate("""() => [...document.querySelectorAll("[data-testid=stImageCaption]")]
        .map(c => [c.textContent, c.getBoundingClientRect().width, getComputedStyle(c).font])""")
    assert len(captions) > 60
    for text, room, font in captions:  # the grid's, and the step-by-step strip's
        assert not re.search(r"[↺↻] \d|\d %|\d ×|× \d", text), f"a value can break: {text!r}"
        for word in text.split(" "):  # a non-breaking space keeps a value whole: "30 %" is one word here
            assert page.evaluate(TEXT_PX, [word, font]) <= room + 0.5, (word, text, room)
    page.close()
