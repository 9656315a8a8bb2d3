"""Responsiveness in a real browser (Debian's Chromium driven by Playwright) against a real server.

1. Explore: time from releasing a slider to the new preview being drawn, p50 and p90 over 30 moves.
   Target: p50 at most 250 ms.
2. Train: how often the live charts redraw while a run goes. Target: at least once a second.
3. Server memory (RSS of the Streamlit process) after 1 and after 10 minutes of live charts.
   Target: within 10 % of each other.
4. Page switch: from a click on a page's name in the sidebar to that page settled (its title drawn and the app
   idle), over every page in turn.
5. Link open: from opening a copied Explore link in a new browser context to its 16 draws drawn.

Usage: python -m bench.ui [--minutes 10] [--moves 30] [--no-live] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

from augviz import serialize, share, worker
from augviz.pipeline import Step
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store
from bench.common import machine, write_json
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

TILES = "[data-testid='stImage'] img"
# The latest step drawn in the first chart (series are thinned to a bounded length, so count steps, not points).
POINTS = ("() => { const p = document.querySelector('.js-plotly-plot');"
          " return p && p.data && p.data[0].x.length ? p.data[0].x[p.data[0].x.length - 1] : 0 }")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slider_latency(page, url: str, moves: int) -> list[float]:
    """Press an arrow key on the rotation slider, then wait for the first tile's image to change.

    Every press widens the range to a value not seen before, so no tile can come from the browser's cache."""
    page.goto(url)
    page.locator(TILES).nth(16).wait_for(timeout=60_000)
    page.get_by_test_id("stSidebar").get_by_text("1. Rotation").click()
    thumb = page.get_by_test_id("stSidebar").get_by_role("slider").nth(2)  # the range's high end
    thumb.focus()
    times = []
    for _ in range(moves):
        src = page.locator(TILES).nth(1).get_attribute("src")
        start = time.perf_counter()
        thumb.press("ArrowRight")  # a key press is a release: the value is sent
        page.wait_for_function("([sel, s]) => { const i = document.querySelectorAll(sel)[1];"
                               " return i && i.src !== s && i.complete }", arg=[TILES, src], timeout=30_000)
        times.append(time.perf_counter() - start)
        page.wait_for_timeout(150)
    return times


SETTLED = "() => !document.querySelector('[data-testid=stStatusWidget]')"
PAGES = {"Train": "Train", "Runs": "Runs", "Gradients": "Vanishing and exploding gradients",
         "Explore": "Explore augmentations"}


def page_switches(page, url: str, rounds: int) -> list[float]:
    """Click each page's name in the sidebar, time until its title is drawn and the app is idle."""
    page.goto(url)
    page.locator(TILES).nth(16).wait_for(timeout=60_000)
    times = []
    for _ in range(rounds):
        for name, title in PAGES.items():
            page.wait_for_function(SETTLED, timeout=60_000)
            start = time.perf_counter()
            page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            page.wait_for_function(SETTLED, timeout=60_000)
            times.append(time.perf_counter() - start)
    return times


def link_opens(browser, url: str, rounds: int) -> list[float]:
    """Open an Explore link (the rotation widened, 16 draws) in a fresh browser context each time."""
    query = "n=16&img=scene&" + urlencode({"p": share.pack(serialize.to_dict(SEED_PIPELINE.with_steps(
        (Step("rotation", {"degrees": (-40.0, 40.0)}), *SEED_PIPELINE.steps[1:]))))})
    times = []
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        start = time.perf_counter()
        page.goto(f"{url}/?{query}")
        page.locator(TILES).nth(16).wait_for(timeout=60_000)
        page.wait_for_function(SETTLED, timeout=60_000)
        times.append(time.perf_counter() - start)
        context.close()
    return times


def chart_updates(page, url: str, seconds: float, server_pid: int, minutes: float, home: str) -> dict:
    """Start a long run (20,000 images, 50 epochs: it outlasts the soak), open the Train page on it, count the
    seconds in which the chart gains points, and sample the server's memory at 1 minute and at the end."""
    store = Store(Path(home) / "runs.sqlite")
    run_id = worker.launch(store, RunConfig(train_size=20_000, epochs=50))
    page.goto(f"{url}/train")
    page.wait_for_function(f"({POINTS})() > 2", timeout=120_000)
    start = time.perf_counter()
    counts, last = [], page.evaluate(POINTS)
    while time.perf_counter() - start < seconds:
        page.wait_for_timeout(1000)
        now = page.evaluate(POINTS)
        counts.append(now != last)
        last = now
    updated_share = sum(counts) / len(counts)
    mem_1min = rss_mb(server_pid) if minutes >= 1 else None
    deadline = start + minutes * 60
    while time.perf_counter() < deadline:
        page.wait_for_timeout(5000)
    result = {"seconds_watched": seconds, "share_of_seconds_with_new_steps": updated_share,
              "rss_mb_after_1_min": mem_1min, "rss_mb_at_end": rss_mb(server_pid), "minutes": minutes}
    store.request_stop(run_id)
    return result


def server_pid(url: str) -> int:
    """The pid of the Streamlit process listening on ``url``'s port (from /proc, no extra dependency)."""
    port = int(url.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if fd.readlink().name.startswith("socket:[") and fd.readlink().name[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the live charts run")
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="page-switch rounds and link opens")
    parser.add_argument("--no-live", action="store_true", help="skip the live-chart soak (figures 2 and 3)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
    with tempfile.TemporaryDirectory() as home:
        env = {"AUGVIZ_HOME": home, "AUGVIZ_MAX_RUNS": "1"}
        with streamlit_server(env) as url, sync_playwright() as p:
            pid = server_pid(url)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            times = slider_latency(page, url, args.moves)
            switches = page_switches(page, url, args.rounds)
            opens = link_opens(browser, url, args.rounds)
            live = None
            if not args.no_live:
                os.environ.update(env)  # the run is launched here, into the server's store
                live = chart_updates(page, url, 60, pid, args.minutes, home)
            browser.close()
    p50, p90 = statistics.median(times) * 1000, statistics.quantiles(times, n=10)[8] * 1000
    print(f"\nslider release → new preview drawn, {len(times)} moves: p50 {p50:.0f} ms, p90 {p90:.0f} ms")
    print(f"page switch, click → settled, {len(switches)} switches: "
          f"median {statistics.median(switches) * 1000:.0f} ms, "
          f"max {max(switches) * 1000:.0f} ms")
    print(f"link open in a new browser → 16 draws drawn, {len(opens)} opens: median "
          f"{statistics.median(opens) * 1000:.0f} ms, max {max(opens) * 1000:.0f} ms")
    targets = {"slider p50 ≤ 250 ms": p50 <= 250}
    if live is not None:
        growth = (live["rss_mb_at_end"] / live["rss_mb_after_1_min"] - 1) if live["rss_mb_after_1_min"] else None
        print(f"live charts: new steps drawn in {100 * live['share_of_seconds_with_new_steps']:.0f} % of "
              f"{live['seconds_watched']:.0f} one-second windows")
        if growth is not None:
            print(f"server memory: {live['rss_mb_after_1_min']:.0f} MB after 1 min, {live['rss_mb_at_end']:.0f} MB "
                  f"after {live['minutes']:g} min ({100 * growth:+.1f} %)")
        targets["charts update at least once a second"] = live["share_of_seconds_with_new_steps"] >= 0.95
        targets["memory within 10 %"] = growth is not None and abs(growth) <= 0.10
    print("\ntargets:")
    for label, ok in targets.items():
        print(f"  {'met ' if ok else 'MISS'}  {label}")
    write_json(args.json, {"slider_ms": [t * 1000 for t in times], "p50_ms": p50, "p90_ms": p90,
                           "page_switch_ms": [t * 1000 for t in switches], "link_open_ms": [t * 1000 for t in opens],
                           "live": live, "targets": targets})


if __name__ == "__main__":
    main()
