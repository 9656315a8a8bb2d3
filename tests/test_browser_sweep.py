"""A real browser starts a small sweep on the Train page and reads its one-sentence answer."""

from __future__ import annotations

import os

import pytest

from augviz.store import Store
from tests.browser import ARTIFACTS, CHROMIUM
from tests.test_browser_train import train_page

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
