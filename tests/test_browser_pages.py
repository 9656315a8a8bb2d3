"""Every page in a real browser: it renders without an exception (screenshots kept in artifacts/); a shared link
reproduces its state; Runs compares two runs; a server killed mid-run comes back with
the run marked interrupted and its metrics kept."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from augviz import Pipeline, Step, share, worker
from augviz.store import Store, pid_alive
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, streamlit_server

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

PAGES = {"explore": "Explore augmentations", "train": "Train", "runs": "Runs",
         "gradients": "Vanishing and exploding gradients"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A data folder with two finished runs, made by the command line."""
    home = tmp_path_factory.mktemp("home")
    for seed in (0, 1):
        config = home / "run.json"
        config.write_text(json.dumps({"train_size": 250, "epochs": 1, "seed": seed, "name": f"run seed {seed}"}))
        subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)], check=True,
                       capture_output=True, timeout=120, env={**os.environ, "AUGVIZ_HOME": str(home)})
    return home


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser):
    return browser.new_page(viewport={"width": 1400, "height": 1000})


def test_every_page_renders_without_an_exception(home, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server({"AUGVIZ_HOME": str(home)}) as url:
        page = new_page(browser)
        for path, title in PAGES.items():
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            page.wait_for_timeout(2500)
            assert page.get_by_test_id("stException").count() == 0, path
            page.screenshot(path=ARTIFACTS / f"page-{path}.png", full_page=True)
        page.close()


def test_a_shared_link_shows_the_same_state(home, browser):
    pipe = Pipeline((Step("perspective", {"distortion": (0.2, 0.5)}), Step("invert", {}, 0.5)), seed=77)
    query = "&".join(f"{k}={v}" for k, v in share.encode(share.SharedState(pipe, "scene")).items())
    with streamlit_server({"AUGVIZ_HOME": str(home)}) as url:
        srcs = []
        for _ in range(2):  # two visitors of the same link
            page = new_page(browser)
            page.goto(f"{url}/?{query}")
            page.locator("[data-testid='stImage'] img").nth(16).wait_for(timeout=60_000)
            sidebar = page.get_by_test_id("stSidebar")
            assert sidebar.get_by_text("1. Perspective").is_visible()
            assert sidebar.get_by_text("2. Invert").is_visible()
            original = Image.open(io.BytesIO(page.locator("[data-testid='stImage'] img").first.screenshot()))
            sky = np.asarray(original.convert("RGB"))[5:15, 5:-5].reshape(-1, 3).mean(0)
            assert sky[2] > sky[0] + 60  # the landscape's blue sky, not the test card
            tile = page.locator("[data-testid='stImage'] img").nth(3)
            srcs.append(tile.screenshot())
            page.close()
    assert srcs[0] == srcs[1]  # the same pixels for both


def test_runs_compares_two_runs(home, browser):
    with streamlit_server({"AUGVIZ_HOME": str(home)}) as url:
        page = new_page(browser)
        page.goto(f"{url}/runs")
        page.get_by_text("run seed 1").first.wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)
        traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                               ".filter(t => t.x.length && t.x[0] !== null).length")
        assert traces == 4  # train and validation accuracy for each of the two runs (less the legend's keys)
        page.screenshot(path=ARTIFACTS / "runs-compare.png", full_page=True)
        page.close()


def test_a_server_killed_mid_run_comes_back_with_the_run_interrupted(tmp_path, browser):
    env = {"AUGVIZ_HOME": str(tmp_path), "AUGVIZ_MAX_RUNS": "1"}
    store = Store(tmp_path / "runs.sqlite")
    proc, url = start_server(env)
    try:
        page = new_page(browser)
        page.goto(f"{url}/train")
        page.get_by_role("button", name="Start run").click()
        deadline = time.monotonic() + 90
        while not store.runs() or store.step_count(store.runs()[0].id) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        page.close()
        os.kill(proc.pid, signal.SIGKILL)  # the server dies at once, without cleaning up
        proc.wait()
        (run,) = store.runs()
        # The worker is its own process: the run survives the server. Then the machine takes it down too, the
        # launcher (which would record the worker's death as a failure) first.
        steps_then = store.step_count(run.id)
        time.sleep(2)
        assert pid_alive(run.pid) and store.step_count(run.id) > steps_then
        launcher = worker.launcher_pid(store)
        os.kill(run.pid, signal.SIGSTOP)  # it cannot notice its launcher's death (and replace it) before it dies
        os.kill(launcher, signal.SIGKILL)
        os.kill(run.pid, signal.SIGKILL)
        while pid_alive(run.pid):
            time.sleep(0.1)
        kept = store.step_count(run.id)
    finally:
        stop_server(proc)
    proc, url = start_server(env)
    try:
        page = new_page(browser)
        page.goto(f"{url}/train")
        cause = f"the worker process (pid {run.pid}) and its launcher (pid {launcher}) were killed or crashed"
        page.get_by_text(f"interrupted: {cause}").wait_for(timeout=60_000)
        page.screenshot(path=ARTIFACTS / "train-interrupted.png", full_page=True)
        page.close()
    finally:
        stop_server(proc)
    run = store.get(run.id)
    assert run.status == "interrupted" and store.step_count(run.id) == kept > 5


CUT_OFF = """() => {
  const cut = [];
  for (const b of document.querySelectorAll('button')) {
    if (b.offsetParent && b.scrollWidth > b.clientWidth + 1) cut.push('button: ' + b.innerText);
  }
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const frame = plot.querySelector('svg.main-svg').getBoundingClientRect();
    const title = plot.querySelector('.gtitle');
    const box = title && title.getBoundingClientRect();
    if (box && (box.left < frame.left - 1 || box.right > frame.right + 1)) cut.push('title: ' + title.textContent);
  }
  return cut;
}"""
TABLE_SCROLLS = "() => [...document.querySelectorAll('.dvn-scroller')].some(s => s.scrollWidth > s.clientWidth + 1)"


def test_the_runs_table_fits_1366_px(home, browser):
    with streamlit_server({"AUGVIZ_HOME": str(home)}) as url:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url}/runs")
        page.get_by_test_id("stDataFrame").wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        assert not page.evaluate(TABLE_SCROLLS)
        page.screenshot(path=ARTIFACTS / "runs-1366.png")
        page.close()


def test_nothing_is_cut_off_at_800_px_on_train_and_runs(tmp_path, browser):
    lab = {"model": "deepnet", "net": {"depth": 6, "width": 16}, "details": True, "name": "a lab run"}
    for doc in ({"name": "a train run"}, lab):
        config = tmp_path / "run.json"
        config.write_text(json.dumps({"train_size": 250, "epochs": 2, **doc}))
        subprocess.run([sys.executable, "-m", "augviz", "train", "--config", str(config)], check=True,
                       capture_output=True, timeout=120, env={**os.environ, "AUGVIZ_HOME": str(tmp_path)})
    with streamlit_server({"AUGVIZ_HOME": str(tmp_path)}) as url:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        for path, charts in (("train?run=1", 3), ("runs?runs=1,2", 8)):
            page.goto(f"{url}/{path}")
            page.locator(".js-plotly-plot").nth(charts - 1).wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            assert page.evaluate(CUT_OFF) == [], path
            page.screenshot(path=ARTIFACTS / f"{path.split('?')[0]}-800.png", full_page=True)
        page.close()
