"""A real browser on the Train page: start a run, watch the live chart grow, stop the run; a new run is shown at
once and a failed run says why."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from augviz.runconfig import RunConfig
from augviz.store import Store, pid_alive
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

# Points on the first chart's first curve (legend keys are traces too, with x = [null]).
POINTS = ("() => { const p = document.querySelector('.js-plotly-plot');"
          " const t = p && p.data ? p.data.find(t => t.x.length && t.x[0] !== null) : null;"
          " return t ? t.x.length : 0 }")


@contextmanager
def train_page(home: Path, max_runs: int, query: str = "", viewport: tuple[int, int] = (1400, 1200)) -> Iterator:
    """The Train page in a real browser, served from ``home``; afterwards no run's worker is left alive."""
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with streamlit_server({"AUGVIZ_HOME": str(home), "AUGVIZ_MAX_RUNS": str(max_runs)}) as url, \
                playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
                page.goto(f"{url}/train{query}")
                yield page
            finally:
                browser.close()
    finally:
        for run in Store(home / "runs.sqlite").runs():
            if run.pid and pid_alive(run.pid):
                os.kill(run.pid, signal.SIGKILL)


def test_a_run_started_in_the_browser_draws_live_and_stops(tmp_path):
    with train_page(tmp_path, max_runs=1) as page:
        page.get_by_role("button", name="Start run").click()
        page.wait_for_function(f"({POINTS})() > 3", timeout=90_000)
        first = page.evaluate(POINTS)
        page.wait_for_function(f"({POINTS})() > {first}", timeout=30_000)  # it grows without a click
        page.screenshot(path=ARTIFACTS / "train-live.png")
        # The page's own Stop: while a script run is going, Streamlit's toolbar has a "Stop" button too.
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
        page.get_by_text("stopped").first.wait_for(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "train-stopped.png")
    (run,) = Store(tmp_path / "runs.sqlite").runs()
    assert run.status == "stopped"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where a cuda run fails")
def test_a_started_run_is_shown_at_once_and_its_failure_is_on_screen(tmp_path):
    """With a run already listed, Start shows the new run; the new run fails (no CUDA here) and says why."""
    store = Store(tmp_path / "runs.sqlite")
    store.finish(store.create(RunConfig(train_size=250, name="an earlier run")), "stopped")
    with train_page(tmp_path, max_runs=1, query="?device=cuda", viewport=(1366, 768)) as page:  # the form in the link
        page.get_by_text("Run #1").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Start run").wait_for(timeout=60_000)  # a busy machine draws slowly
        page.get_by_role("button", name="Start run").click()
        page.get_by_text("Run #2").first.wait_for(timeout=30_000)
        error = page.get_by_test_id("stAlertContentError").filter(has_text="Run #2 failed")
        error.wait_for(timeout=60_000)
        assert "no CUDA device is available" in error.inner_text()
        assert re.search(r"[?&]run=2(&|$)", page.url)  # a reload or a link shows it again
        page.screenshot(path=ARTIFACTS / "train-failed.png")
    assert store.get(2).status == "failed"


def test_a_short_experiment_in_the_browser_ends_with_its_sentence(tmp_path):
    # 250 images, 10 steps, 2 seeds: four runs that learn next to nothing, so the page must say it is too early
    # (or that one pair of seeds is not enough), never that augmentation hurt.
    with train_page(tmp_path, max_runs=2) as page:
        for label in ("training images", "training steps"):  # both to their smallest value
            slider = page.get_by_test_id("stSidebar").locator(".stSlider").filter(has_text=label)
            slider.get_by_role("slider").first.press("Home")
            page.wait_for_timeout(1500)
        seeds = page.locator(".stSlider").filter(has_text="seeds (pairs of runs)").get_by_role("slider")
        seeds.press("Home")
        seeds.press("ArrowRight")
        page.get_by_role("button", name="Run the experiment (4 runs to train)").click()
        page.get_by_text("4 finished", exact=True).first.wait_for(timeout=300_000)  # every run of the experiment
        page.wait_for_timeout(1500)  # the poll after the last run redraws the sentence over both seeds
        text = page.get_by_text("250 training images:").first.inner_text()
        page.screenshot(path=ARTIFACTS / "train-experiment.png")
    assert "too early to tell: both arms are near chance (10%)" in text or "no clear difference" in text, text
    assert "hurt" not in text and "helped" not in text
    runs = Store(tmp_path / "runs.sqlite").runs()
    assert len(runs) == 4 and all(r.config.steps == 10 and r.config.train_size == 250 for r in runs)


def test_a_double_click_on_start_run_queues_one_run(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    with train_page(tmp_path, max_runs=1, query="?size=250&steps=10") as page:  # a short run, from the link
        start = page.get_by_role("button", name="Start run")
        start.wait_for(timeout=60_000)
        # A double click as a person makes one: the second click a moment after the first, while the page's
        # script run for the first is going (two clicks within a few ms Streamlit merges into one run itself).
        start.click()
        page.wait_for_timeout(250)
        start.click()
        page.get_by_text("Run #1").first.wait_for(timeout=60_000)
        deadline = time.monotonic() + 180
        while not (store.runs() and all(r.is_over for r in store.runs())):  # what the clicks queued, run
            assert time.monotonic() < deadline, "the run did not end"
            time.sleep(1)
        page.screenshot(path=ARTIFACTS / "train-double-click.png")
    assert [r.id for r in store.runs()] == [1]
