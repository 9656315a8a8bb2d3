"""A real browser starts a small sweep on the Train page and reads its one-sentence answer."""

from __future__ import annotations

import os

import pytest

from augviz.store import Store
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.test_browser_train import train_page
from tests.test_ui_sweep import finished_sweep

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def test_a_small_sweep_started_in_the_browser_ends_with_its_sentence(tmp_path):
    # 250 images, 10 steps, strengths 0 and 1, one seed: two runs that learn next to nothing, so the answer must
    # say it is too early to tell rather than name a winner.
    with train_page(tmp_path, max_runs=2, query="?size=250&steps=10&batch=16") as page:
        page.get_by_text("How strong should the augmentation be?").first.click()
        values = page.get_by_label("values", exact=True).and_(page.get_by_test_id("stTextInputField"))
        values.wait_for(timeout=120_000)  # a busy machine draws slowly; the estimate measures its speed first
        values.fill("0, 1")
        values.press("Enter")
        seeds = page.locator(".stSlider").filter(has_text="seeds").filter(
            has_not_text="pairs of runs").get_by_role("slider")
        seeds.press("Home")
        start = page.get_by_role("button", name="Run the sweep (2 runs to train)")
        start.wait_for(timeout=120_000)
        start.click()
        page.get_by_text("2 of 2 runs over").first.wait_for(timeout=300_000)
        text = page.get_by_text("250 images:").first.inner_text()
        page.screenshot(path=ARTIFACTS / "train-sweep.png", full_page=True)
    assert "too early to tell" in text or "is best on validation" in text, text
    runs = Store(tmp_path / "runs.sqlite").runs()
    assert len(runs) == 2 and all(r.config.steps == 10 and r.config.train_size == 250 for r in runs)


def test_use_strength_redraws_the_experiment_panel_with_that_strengths_verdict(home):
    # The sweep's runs are stored and finished: 0.5 is best (74 % on test); at strength 1 the experiment's
    # augmented runs reach 59 %. The Use button sits in the sweep's fragment, and a click there reruns only it.
    at = finished_sweep(home, {v: [acc + 0.01 * seed for seed in range(3)]
                               for v, acc in {0.0: .5, 0.5: .75, 1.0: .6, 1.5: .55, 2.0: .5}.items()})
    packed = at.query_params["sweep"]
    packed = packed[0] if isinstance(packed, list) else packed
    # Its runs name this test's process as theirs (no worker trains them), so not train_page: it kills their pids.
    with streamlit_server({"AUGVIZ_HOME": str(home), "AUGVIZ_MAX_RUNS": "1"}) as url, \
            playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{url}/train?size=250&batch=16&steps=10&sweep={packed}")
            page.get_by_text("59.0% with augmentation").first.wait_for(timeout=120_000)
            page.get_by_role("button", name="Use strength 0.5").click()
            page.get_by_text("strength is now 0.5").first.wait_for(timeout=60_000)
            page.get_by_text("74.0% with augmentation").first.wait_for(timeout=60_000)
            assert not page.get_by_text("59.0% with augmentation").count()
        finally:
            browser.close()
