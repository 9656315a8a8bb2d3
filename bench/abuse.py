"""What one visitor can cost the server: the worst cases of issue 11, replayed against the app.

Each case runs against a fresh server process, so that its memory figures start from the same place:

1. gradients   the Gradients page's analysis at the sliders' maxima (CNN, depth 50, widest, batch norm, residual)
2. experiment  "Run the experiment" at the page's maximum (5 seeds × every training-set size)
3. elastic     a shared link with 32 elastic steps (alpha 200, sigma 20), then the draws slider moved to 64
4. upload      an 88 KB, 40-megapixel, 16-bit PNG uploaded on the Explore page
5. runs        the Runs and Train pages with 5,000 stored runs: first load, then server CPU per second while open
6. shears      a shared link with two affine steps shearing 45° in x and y (a flat map), then 64 draws
7. posterize   a shared link with 32 posterize steps (bits 1 to 8), then 64 draws
8. equalize    a shared link with 16 equalize steps, then 64 draws
9. fifo        ``python -m augviz train`` on an image folder holding a named pipe named like a picture
10. dangling   the same with a link to a missing picture
11. start-twice      a double click on "Start run" (the second click 250 ms after the first, while the page's
                     script run for the first is going; two clicks a few ms apart Streamlit merges itself)
12. experiment-twice the same on "Run the experiment"
13. watchers   30 viewers of a training run's panel at once (a writer appends 50 steps a second, as a default run
               does): 30 sessions of the real server, each a websocket client that asks for the panel's fragment
               rerun every time the server's ``auto_rerun`` interval says, as a browser does (without drawing); the
               first connects alone, the other 29 once its page is drawn
14. stored     10,000 stored runs: the first load of the Runs, Train, Gradients and Explore pages (a fresh server
               each, the Explore page loaded once before in another session, so that imports are not counted,
               after one Train page view has calibrated the machine's speed, kept in the run home as on any
               server that has estimated once)

Cases 3 to 8 and 11 to 14 run a real ``streamlit run app.py`` driven by Chromium (Playwright), or for case 13
by 30 websocket clients; cases 9 and 10 a real CLI run, whose process is then the server. Cases 1 and 2 set
widget values that a browser can only reach by many clicks, each a request of its own, so they run the page in
Streamlit's AppTest inside a fresh Python process, which is then the server. For each case the table gives the
request's wall time, the server's CPU time for it, and the server's peak memory (RSS) growth over its state just
before; case 2
also counts the worker processes alive 10 s after the click, whose memory its peak includes, and case 5 gives the
CPU per second that the open pages keep costing; cases 11 and 12 count the runs and experiments the two clicks
queued (goal: one), case 13 gives the server's CPU seconds per second for the 30 viewers together in its CPU
column, the fragment reruns asked for and answered a second, the CPU of one rerun, and what a viewer costs when
every rerun asked for is answered (goal: 0.02 s a second), and its growth split into the first viewer's (the
server's first Train page: imports and caches, paid once) and what each further viewer adds (goal: a few MB).
Goal: no request
over 5 s of server CPU or 500 MB of growth, and no number of clicks that takes the server past 2 GB.

Usage: python -m bench.abuse [--cases gradients,elastic,...] [--limit 120] [--json FILE]
A case still busy after ``--limit`` seconds is cut and shown as such. Timings depend on the machine's load; CPU
time and memory much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).parents[1]
GOAL_CPU_S, GOAL_GROWTH_MB, GOAL_TOTAL_MB = 5.0, 500.0, 2048.0
TICK = 1 / os.sysconf("SC_CLK_TCK")
MEMORY_CUT_MB = 4096  # a case whose server passes this is cut: the machine is shared, and the goal is 2 GB


@dataclass
class Row:
    case: str
    wall_s: float
    cpu_s: float
    growth_mb: float
    peak_mb: float
    cut: bool = False
    extra: dict[str, float | str] = field(default_factory=dict)


# ---- measuring a process from outside ----------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB; 0 for one that has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (workers a server launched, detached sessions included)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class Watch:
    """Samples a process's RSS every 50 ms from a thread: the peak between ``start`` and ``stop``."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._on = pid, 0.0, False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watch:
        self.base_rss, self.base_cpu, self.t0 = rss_mb(self.pid), cpu_s(self.pid), time.perf_counter()
        self.peak, self._on = self.base_rss, True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while self._on:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._on = False
        if self._thread:
            self._thread.join()
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_s(self.pid) - self.base_cpu

    def row(self, case: str, cut: bool = False, **extra: float | str) -> Row:
        return Row(case, self.wall, self.cpu, self.peak - self.base_rss, self.peak, cut, dict(extra))

    def so_far(self, case: str, **extra: float | str) -> Row:
        """The figures up to now, for a case cut before it ended."""
        return Row(case, time.perf_counter() - self.t0, cpu_s(self.pid) - self.base_cpu, self.peak - self.base_rss,
                   self.peak, True, dict(extra))


def settle(pid: int, limit: float, quiet_cpu: float = 0.1, window: float = 0.5) -> bool:
    """Wait until the server has used less than ``quiet_cpu`` s of CPU over ``window`` s (its request done);
    False when it is still busy after ``limit`` seconds."""
    start = time.monotonic()
    last = cpu_s(pid)
    while time.monotonic() - start < limit:
        time.sleep(window)
        now = cpu_s(pid)
        if now - last < quiet_cpu:
            return True
        last = now
    return False


# ---- the real server and the browser -----------------------------------------------------------------------


@contextmanager
def server(home: Path) -> Iterator[tuple[int, str]]:
    from tests.browser import start_server, stop_server

    proc, url = start_server({"AUGVIZ_HOME": str(home), "AUGVIZ_MAX_RUNS": "1"})
    try:
        yield proc.pid, url
    finally:
        stop_workers(proc.pid, home)
        stop_server(proc)


@contextmanager
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            b.close()


def stop_workers(pid: int, home: Path) -> None:
    """Stop the runs a case queued, and end the worker processes the server (``pid``) started."""
    from augviz.store import Store

    db = home / "runs.sqlite"
    if db.exists():
        store = Store(db)
        for run in store.runs():
            if not run.is_over:
                store.request_stop(run.id)
    for child in descendants(pid):
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)


RUNNING = "[data-testid='stStatusWidget']"  # Streamlit's "Running…" indicator, shown while a script runs


def wait_rendered(page: object, pid: int, limit: float, ready: str | None = None) -> bool:
    """The script run that an action started has ended (its indicator came and went, and ``ready`` is on the
    page when given) and the server is quiet again; False when that took more than ``limit`` seconds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    start = time.monotonic()
    with suppress(PlaywrightTimeout):  # a quick run can end before the indicator shows
        page.wait_for_selector(RUNNING, state="attached", timeout=1_500)  # type: ignore[attr-defined]
    try:
        page.wait_for_selector(RUNNING, state="detached", timeout=limit * 1000)  # type: ignore[attr-defined]
        if ready:
            page.wait_for_selector(ready, state="attached",  # type: ignore[attr-defined]
                                   timeout=max(1.0, limit - (time.monotonic() - start)) * 1000)
    except PlaywrightTimeout:
        return False
    return settle(pid, max(1.0, limit - (time.monotonic() - start)))


# ---- the cases ---------------------------------------------------------------------------------------------


TILE = "[data-testid='stImage'] img"
ALERT = "[data-testid='stAlert']"


def alert(page: object) -> str:
    """The first message on the page (a refusal, say), shortened; empty when there is none."""
    found = page.locator(ALERT)  # type: ignore[attr-defined]
    return found.first.inner_text()[:80].replace("\n", " ") if found.count() else ""


def link_to(steps: tuple) -> dict[str, str]:
    from augviz import Pipeline, share

    return share.encode(share.SharedState(Pipeline(steps, seed=0), "scene"))


def elastic_steps() -> tuple:
    from augviz import Step

    return (Step("elastic", {"alpha": (200.0, 200.0), "sigma": (20.0, 20.0)}, 1.0),) * 32


def shear_steps() -> tuple:
    from augviz import Step

    return (Step("affine", {"shear_x": (45.0, 45.0), "shear_y": (45.0, 45.0)}, 1.0),) * 2


def posterize_steps() -> tuple:
    from augviz import Step

    return (Step("posterize", {"bits": (1, 8)}, 1.0),) * 32


def equalize_steps() -> tuple:
    from augviz import Step

    return (Step("equalize", {}, 1.0),) * 16


def case_link(what: str, steps: Callable[[], tuple]) -> Callable[[Path, float], list[Row]]:
    """A shared link to ``steps`` opened on the Explore page (16 draws), then the draws slider moved to 64."""

    def case(home: Path, limit: float) -> list[Row]:
        query = "&".join(f"{k}={v}" for k, v in link_to(steps()).items())
        rows = []
        with server(home) as (pid, url), browser() as page:
            page.goto(url)
            wait_rendered(page, pid, limit, f":nth-match({TILE}, 17)")
            with Watch(pid) as w:
                page.goto(f"{url}/?{query}")
                cut = not wait_rendered(page, pid, limit, f":nth-match({TILE}, 17), {ALERT}")
            rows.append(w.row(f"{what} link, 16 draws", cut, link_chars=len(query), message=alert(page)))
            slider = page.locator("[data-testid='stSlider']", has_text="number of draws").get_by_role("slider")
            with Watch(pid) as w:
                slider.focus()
                slider.press("End")
                cut = not wait_rendered(page, pid, limit)
            rows.append(w.row(f"{what} link, 64 draws", cut, message=alert(page)))
        return rows

    return case


def case_folder(what: str, odd: Callable[[Path], None]) -> Callable[[Path, float], list[Row]]:
    """A short ``python -m augviz train`` on an image folder holding ``odd`` beside 2 × 6 pictures; the process
    training it is the server here (the CLI trains in its own process): its CPU and peak take in the start of
    Python and torch and 4 training steps, a whole run, not one request."""

    def case(home: Path, limit: float) -> list[Row]:
        folder = home / "data" / "pics"
        for cls, colour in (("a", (200, 30, 30)), ("b", (30, 30, 200))):
            (folder / cls).mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (32, 32), colour).save(folder / cls / f"{i}.png")
        odd(folder / "a")
        config = home / "run.json"
        config.write_text(json.dumps({"dataset": "folder", "folder": "pics", "steps": 4, "batch_size": 8}))
        env = {**os.environ, "AUGVIZ_HOME": str(home), "AUGVIZ_MAX_RUNS": "1", "PYTHONPATH": str(ROOT)}
        log = home / "out.txt"
        start = time.perf_counter()
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "augviz", "train", "--config", str(config)], cwd=ROOT,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        # wait4 gives the ended process's own CPU time and peak memory, exactly, without sampling.
        done, status, usage = os.wait4(proc.pid, os.WNOHANG)
        while not done and time.perf_counter() - start < limit:
            time.sleep(0.1)
            done, status, usage = os.wait4(proc.pid, os.WNOHANG)
        cut = not done
        if cut:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        said = log.read_text().strip().splitlines()
        ended = "hung" if cut else f"exit {proc.returncode}"
        return [Row(f"train from a folder with {what}", time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
                    usage.ru_maxrss / 1024, usage.ru_maxrss / 1024, cut,
                    {"ended": ended, "said": said[-1][-70:] if said else ""})]

    return case


def big_png() -> bytes:
    arr = np.zeros((5000, 8000), np.uint16)
    arr[::7] = 40000
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def case_upload(home: Path, limit: float) -> list[Row]:
    blob = big_png()
    with server(home) as (pid, url), browser() as page:
        page.goto(url)
        wait_rendered(page, pid, limit, f":nth-match({TILE}, 17)")
        with Watch(pid) as w:
            page.locator("[data-testid='stSidebar'] input[type='file']").first.set_input_files(
                {"name": "deep.png", "mimeType": "image/png", "buffer": blob})
            cut = not wait_rendered(page, pid, limit)
        return [w.row("upload 40 MP 16-bit PNG", cut, file_kb=round(len(blob) / 1024))]


def fill_store(home: Path, count: int) -> None:
    from augviz.runconfig import RunConfig
    from augviz.store import Store

    store = Store(home / "runs.sqlite")
    for i in range(count):
        run_id = store.create(RunConfig(name=f"stored run {i}", seed=i % 1000), status="running", pid=None)
        store.finish(run_id, "finished", test_acc=0.5, test_loss=1.0, images_per_s=100.0, wall_s=10.0)


def case_runs(home: Path, limit: float, count: int = 5000) -> list[Row]:
    fill_store(home, count)
    rows = []
    with server(home) as (pid, url), browser() as page:
        for name in ("runs", "train"):
            with Watch(pid) as w:
                page.goto(f"{url}/{name}")
                cut = not wait_rendered(page, pid, limit)
            before, t0 = cpu_s(pid), time.monotonic()
            time.sleep(10)
            per_s = (cpu_s(pid) - before) / (time.monotonic() - t0)
            rows.append(w.row(f"{name} page, {count} runs", cut, open_cpu_per_s=round(per_s, 3)))
    return rows


def case_twice(button: str, what: str) -> Callable[[Path, float], list[Row]]:
    """Two clicks on ``button`` of the Train page (a short run set by the link), the second 250 ms after the
    first: a person's double click, whose second click arrives while the first click's script run is going."""

    def case(home: Path, limit: float) -> list[Row]:
        from augviz.store import Store

        with server(home) as (pid, url), browser() as page:
            page.goto(f"{url}/train?size=250&steps=10")
            wait_rendered(page, pid, limit, "[data-testid='stSidebar'] button")
            target = page.get_by_role("button", name=re.compile(f"^{re.escape(button)}")).first
            target.wait_for(timeout=limit * 1000)
            with Watch(pid) as w:
                target.click()
                page.wait_for_timeout(250)
                target.click(force=True, timeout=5_000)  # force: the first click's page may have disabled it
                cut = not wait_rendered(page, pid, limit)
            runs = Store(home / "runs.sqlite").runs()
            said = page.locator("[data-testid='stSidebar'] [data-testid='stAlert']")
            return [w.row(f"double click: {what}", cut, runs_queued=len(runs),
                          experiments=len({r.group for r in runs if r.group}),
                          message=said.first.inner_text()[:60].replace("\n", " ") if said.count() else "")]

    return case


VIEWERS = 30
GOAL_VIEWER_CPU_PER_S, GOAL_FIRST_LOAD_CPU_S = 0.02, 1.0  # a watching viewer's CPU a second; a page's first load


async def _viewer(ws_url: str, query: str, seconds: float, counts: dict[str, int], ready: asyncio.Event) -> None:
    """One browser's worth of polling without a browser: open a session on the Train page (``query``), then ask
    for each ``auto_rerun`` fragment's rerun at its interval, as Streamlit's frontend does, for ``seconds``
    after ``ready`` is set. ``counts``: "drawn", the sessions whose first script run ended; "asked" and
    "answered", the fragment reruns asked for and the script runs the server finished after ``ready`` (a server
    short of CPU answers fewer: Streamlit merges a session's rerun requests that wait)."""
    import aiohttp
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    def rerun(page_hash: str = "", fragment: str = "") -> bytes:
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = "train"
        msg.rerun_script.page_script_hash = page_hash
        if fragment:
            msg.rerun_script.fragment_id = fragment
            msg.rerun_script.is_auto_rerun = True
        return msg.SerializeToString()

    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, protocols=("streamlit",),
                                                                 max_msg_size=0) as ws:
        await ws.send_bytes(rerun())
        timers: dict[str, asyncio.Task] = {}
        page_hash = ""

        async def poll(fragment: str, interval: float) -> None:
            while True:
                await asyncio.sleep(interval)
                await ws.send_bytes(rerun(page_hash, fragment))
                counts["asked"] += ready.is_set()

        async def listen() -> None:
            nonlocal page_hash
            drawn = False
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.BINARY:
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(frame.data)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    page_hash = msg.new_session.page_script_hash
                elif kind == "auto_rerun" and msg.auto_rerun.fragment_id not in timers:
                    timers[msg.auto_rerun.fragment_id] = asyncio.create_task(
                        poll(msg.auto_rerun.fragment_id, msg.auto_rerun.interval))
                elif kind == "stop_auto_rerun":
                    for task in timers.values():
                        task.cancel()
                    timers.clear()
                elif kind == "script_finished":
                    counts["answered"] += ready.is_set()
                    counts["drawn"] += not drawn
                    drawn = True

        listener = asyncio.create_task(listen())
        await ready.wait()
        await asyncio.sleep(seconds)
        listener.cancel()
        for task in timers.values():
            task.cancel()


def case_watchers(home: Path, limit: float, seconds: float = 20.0) -> list[Row]:
    """``VIEWERS`` sessions polling one training run's panel: the server's CPU per second for all of them."""
    import sqlite3

    from augviz.runconfig import RunConfig
    from bench.watch import Writer, _schema

    _schema(ROOT, home)
    cfg = RunConfig()
    with sqlite3.connect(home / "runs.sqlite", isolation_level=None) as db:
        run_id = db.execute("INSERT INTO runs (config, label, grp, status, created, started, pid, layers, "
                            "total_steps, classes) VALUES (?, ?, '', 'running', ?, ?, ?, ?, ?, ?)",
                            (cfg.to_json(), cfg.label(), time.time(), time.time(), os.getpid(),
                             '["conv1", "conv2", "conv3", "dense", "out"]', 100_000,
                             '["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]')).lastrowid
    writer = Writer(home / "runs.sqlite", run_id)
    try:
        with server(home) as (pid, url):
            ws_url = url.replace("http://", "ws://") + "/_stcore/stream"

            async def all_of_them() -> tuple[float, float, float, int, float]:
                ready, counts = asyncio.Event(), {"drawn": 0, "asked": 0, "answered": 0}
                base_rss = rss_mb(pid)
                deadline = time.monotonic() + limit

                async def drawn(n: int) -> None:
                    while counts["drawn"] < n and time.monotonic() < deadline:
                        await asyncio.sleep(0.5)
                    await asyncio.sleep(3)  # past the first redraws

                # The first viewer alone: the server's first Train page (imports, caches) is paid once, whoever
                # comes first, and is told apart from what each further viewer adds.
                tasks = [asyncio.create_task(_viewer(ws_url, f"run={run_id}", seconds, counts, ready))]
                await drawn(1)
                first_rss = rss_mb(pid)
                tasks += [asyncio.create_task(_viewer(ws_url, f"run={run_id}", seconds, counts, ready))
                          for _ in range(VIEWERS - 1)]
                await drawn(VIEWERS)
                before, t0 = cpu_s(pid), time.monotonic()
                ready.set()
                peak = 0.0
                while time.monotonic() - t0 < seconds:
                    peak = max(peak, rss_mb(pid))
                    await asyncio.sleep(0.25)
                spent, took = cpu_s(pid) - before, time.monotonic() - t0
                await asyncio.gather(*tasks)
                return spent / took, peak - base_rss, peak, counts, first_rss - base_rss

            per_s, growth, peak, counts, first = asyncio.run(all_of_them())
    finally:
        writer.stop()
    # CPU a viewer costs when every rerun asked for is answered (a server short of CPU answers fewer).
    per_rerun = per_s * seconds / max(1, counts["answered"])
    per_viewer = per_rerun * counts["asked"] / seconds / VIEWERS
    return [Row(f"{VIEWERS} viewers, CPU s a second", seconds, per_s, growth, peak, counts["drawn"] < VIEWERS,
                {"asked_per_s": round(counts["asked"] / seconds, 1),
                 "answered_per_s": round(counts["answered"] / seconds, 1), "cpu_s_per_rerun": round(per_rerun, 3),
                 "per_viewer_all_answered": round(per_viewer, 3), "watch_goal": "met" if per_viewer <=
                 GOAL_VIEWER_CPU_PER_S else f"NOT met (≤ {GOAL_VIEWER_CPU_PER_S:g} a viewer)",
                 "first_view_mb": round(first), "mb_per_further_viewer": round((growth - first) / (VIEWERS - 1), 1)})]


STORED = 10_000


def case_stored(home: Path, limit: float) -> list[Row]:
    """Each page's first load in a new session with ``STORED`` runs in the store (a fresh server each)."""
    from bench.watch import fill

    fill(ROOT, home, STORED)
    # This machine's speed calibration, which the Train page's estimate measures at its first need and keeps in
    # the run home (speed.json), is done once here, as on any server that has estimated once: what is measured
    # below is what the stored runs cost a first load.
    with server(home) as (pid, url), browser() as page:
        page.goto(f"{url}/train")
        wait_rendered(page, pid, limit)
    rows = []
    for name in ("runs", "train", "gradients", "explore"):
        with server(home) as (pid, url), browser() as page:
            page.goto(url)
            wait_rendered(page, pid, limit, f":nth-match({TILE}, 17)")
            with Watch(pid) as w:
                page.goto(f"{url}/{'' if name == 'explore' else name}")
                cut = not wait_rendered(page, pid, limit)
            rows.append(w.row(f"{name} page, {STORED:,} runs", cut, first_load_goal="met" if w.cpu <=
                              GOAL_FIRST_LOAD_CPU_S else f"NOT met (≤ {GOAL_FIRST_LOAD_CPU_S:g} s)"))
    return rows


# Cases 1 and 2 run in a child process (this file with --apptest CASE), which prints its Row as JSON.

def apptest_gradients(limit: float) -> Row:
    from streamlit.testing.v1 import AppTest

    from augviz.deepnet import KINDS
    from augviz.ui import gradients

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=limit + 600)  # the guard cuts first
    at.run()
    at.switch_page("pages/gradients.py").run()
    maxima = {"g_kind": KINDS[-1], "g_depth": 50, "g_width": gradients.WIDTHS[-1], "g_batchnorm": True,
              "g_residual": True}
    for key, value in maxima.items():
        at.session_state[key] = value
    with Watch(os.getpid()) as w:
        guard(w, "gradients at the maxima", limit)
        at.run()
    shown = [e.value for e in at.error] + [e.value for e in at.warning]
    return w.row("gradients at the maxima", False, message=(shown[0][:80] if shown else ""))


def apptest_experiment(limit: float) -> Row:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=limit + 600)  # the guard cuts first
    at.run()
    at.switch_page("pages/train.py").run()
    at.session_state["x_seeds"] = 5
    at.session_state["x_sizes"] = [250, 500, 1000, 2000, 5000, 10000, 20000]
    at.run()
    pid = os.getpid()
    workers: list[int] = []
    worker_mb, cut = 0.0, ""
    with Watch(pid) as w:
        at.button(key="x_go").click().run()
        until = time.monotonic() + 10  # queued workers start, or are refused
        while time.monotonic() < until and not cut:
            workers = [p for p in descendants(pid) if Path(f"/proc/{p}").exists()]
            worker_mb = max(worker_mb, sum(rss_mb(p) for p in workers if Path(f"/proc/{p}").exists()))
            cut = f"workers over {MEMORY_CUT_MB} MB" if worker_mb > MEMORY_CUT_MB else ""
            time.sleep(0.25)
    shown = [e.value for e in at.error] + [e.value for e in at.warning]
    row = w.row("experiment at the maximum", bool(cut), workers=len(workers), workers_mb=round(worker_mb),
                cause=cut, message=(shown[0][:80] if shown else ""))
    row.peak_mb += worker_mb  # what the server holds, with the processes it started
    return row


def in_child(case: str, home: Path, limit: float) -> list[Row]:
    env = {**os.environ, "AUGVIZ_HOME": str(home), "AUGVIZ_MAX_RUNS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bench.abuse", "--apptest", case, "--limit", str(limit)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=limit + 120)
    except subprocess.TimeoutExpired:
        stop_workers(proc.pid, home)
        proc.kill()
        out, err = proc.communicate()
    found = next((x for x in reversed(out.splitlines()) if x.startswith("{")), None)
    if found is None:
        raise RuntimeError(f"the {case} case failed:\n{err[-2000:]}")
    return [Row(**json.loads(found))]


def guard(w: Watch, case: str, limit: float) -> None:
    """Cut the case when it runs past ``limit`` seconds or its process past ``MEMORY_CUT_MB`` (on a shared
    machine): report what it cost so far and end the process."""

    def watch() -> None:
        while time.perf_counter() - w.t0 < limit and w.peak < MEMORY_CUT_MB:
            time.sleep(0.2)
        cause = f"over {limit:g} s" if w.peak < MEMORY_CUT_MB else f"over {MEMORY_CUT_MB} MB"
        emit(w.so_far(case, cause=cause))

    threading.Thread(target=watch, daemon=True).start()


def emit(row: Row) -> None:
    stop_workers(os.getpid(), Path(os.environ["AUGVIZ_HOME"]))  # the runs it queued, and their processes
    print(json.dumps(asdict(row)), flush=True)
    os._exit(0)  # without waiting for a script run still going


def child_main(case: str, limit: float) -> None:
    try:
        row = {"gradients": apptest_gradients, "experiment": apptest_experiment}[case](limit)
    finally:  # even when the case fails, no run or worker is left behind
        stop_workers(os.getpid(), Path(os.environ["AUGVIZ_HOME"]))
    emit(row)


CASES: dict[str, Callable[[Path, float], list[Row]]] = {
    "gradients": lambda home, limit: in_child("gradients", home, limit),
    "experiment": lambda home, limit: in_child("experiment", home, limit),
    "elastic": case_link("32 elastic", elastic_steps),
    "upload": case_upload,
    "runs": case_runs,
    "shears": case_link("two 45° shears", shear_steps),
    "posterize": case_link("32 posterize", posterize_steps),
    "equalize": case_link("16 equalize", equalize_steps),
    "fifo": case_folder("a named pipe", lambda d: os.mkfifo(d / "pipe.png")),
    "dangling": case_folder("a dangling link", lambda d: (d / "zz.png").symlink_to(d / "gone.png")),
    "start-twice": case_twice("Start run", '"Start run"'),
    "experiment-twice": case_twice("Run the experiment", '"Run the experiment"'),
    "watchers": case_watchers,
    "stored": case_stored,
}


def verdict(r: Row) -> str:
    """What of the goal a case misses, or that it is within it."""
    over = []
    if r.cpu_s > GOAL_CPU_S:
        over.append(f"CPU > {GOAL_CPU_S:g} s")
    if r.growth_mb > GOAL_GROWTH_MB:
        over.append(f"growth > {GOAL_GROWTH_MB:g} MB")
    if r.peak_mb > GOAL_TOTAL_MB:
        over.append(f"server > {GOAL_TOTAL_MB:g} MB")
    if r.cut:
        over.append("cut short")
    return "; ".join(over) or "within the goal"


HEADER = f"{'case':<30}{'wall s':>9}{'server CPU s':>14}{'growth MB':>11}{'peak MB':>9}  verdict (extra)"


def line(r: Row) -> str:
    extra = ", ".join(f"{k} {v}" for k, v in r.extra.items() if v != "")
    return (f"{r.case:<30}{r.wall_s:>9.1f}{r.cpu_s:>14.1f}{r.growth_mb:>11.0f}{r.peak_mb:>9.0f}  {verdict(r)}"
            + (f" ({extra})" if extra else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds before a busy case is cut")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--apptest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.apptest:
        child_main(args.apptest, args.limit)
        return
    from bench.common import write_json

    rows: list[Row] = []
    print(HEADER, flush=True)
    for case in args.cases.split(","):
        with tempfile.TemporaryDirectory(prefix=f"augviz-abuse-{case}-") as home:
            for row in CASES[case](Path(home), args.limit):
                rows.append(row)
                print(line(row), flush=True)
    write_json(args.json, {"rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
