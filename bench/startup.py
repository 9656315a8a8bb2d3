"""The one-machine user's start-up, this tree against an older one (by default the commit before the cluster work:
the parent of the commit that brought augviz/raylaunch.py), measured in turns so the machine's load falls on both.

- the app: ``streamlit run app.py --server.headless true`` on a free port, until its health endpoint answers, then
  until Debian's Chromium has loaded the main page and the app's script has finished its first run; the server's
  CPU seconds (its children's included), resident memory then, and peak resident memory;
- the command line: ``python -m augviz runs`` in a fresh interpreter, its CPU seconds and peak memory.

Neither has Ray configured (AUGVIZ_RAY_ADDRESS and AUGVIZ_DB removed); each starts in an empty AUGVIZ_HOME.

Usage: python -m bench.startup [--baseline REF] [--repeats N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import machine
from tests.browser import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
RUNS_CLI = ("import resource, sys\nfrom augviz.__main__ import main\nsys.argv[1:] = ['runs']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nu = resource.getrusage(resource.RUSAGE_SELF)\n"
            "assert 'ray' not in sys.modules\nprint('@', u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, file=sys.stderr)")


def before_the_cluster() -> str:
    """The commit before the cluster work: the parent of the first commit that touched augviz/raylaunch.py."""
    first = subprocess.run(["git", "log", "--format=%h", "--", "augviz/raylaunch.py"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()[-1]
    return subprocess.run(["git", "rev-parse", "--short", f"{first}^"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """The files of ``ref`` in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="augviz-base-"))
    try:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ONE_MACHINE_DROP = ("AUGVIZ_RAY_ADDRESS", "AUGVIZ_DB")  # neither side uses a cluster or PostgreSQL


def one_machine_env(home: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in ONE_MACHINE_DROP}, "AUGVIZ_HOME": home}


def stat(pid: int) -> tuple[float, float, float]:
    """(CPU seconds with waited-for children, resident MB, peak resident MB) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return (sum(int(x) for x in fields[11:15]) / TICK, int(status["VmRSS"].split()[0]) / 1024,
            int(status["VmHWM"].split()[0]) / 1024)


def app_startup(tree: Path, browser) -> dict[str, float]:
    """Start the app of ``tree``, load its main page in a fresh browser context: seconds to healthy and to the
    page's first run done, and the server's CPU seconds and memory then."""
    home = tempfile.mkdtemp(prefix="augviz-start-")
    start = time.perf_counter()
    proc, url = start_server({"AUGVIZ_HOME": home}, root=tree, drop=ONE_MACHINE_DROP)
    try:
        healthy = time.perf_counter() - start
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        page.locator("h1").first.wait_for(timeout=180_000)
        page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=180_000)
        loaded = time.perf_counter() - start
        cpu, rss, peak = stat(proc.pid)
        context.close()
        return {"healthy_s": healthy, "loaded_s": loaded, "cpu_s": cpu, "rss_mb": rss, "peak_mb": peak}
    finally:
        stop_server(proc)
        shutil.rmtree(home, ignore_errors=True)


def cli_startup(tree: Path) -> dict[str, float]:
    """CPU seconds and peak MB of ``python -m augviz runs`` in a fresh interpreter in ``tree``."""
    home = tempfile.mkdtemp(prefix="augviz-start-")
    try:
        out = subprocess.run([sys.executable, "-c", RUNS_CLI], cwd=tree, env=one_machine_env(home),
                             capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    cpu, mb = map(float, next(x for x in out.stderr.splitlines() if x.startswith("@ ")).split()[1:])
    return {"cpu_s": cpu, "peak_mb": mb}


def compare(baseline: str | None, repeats: int, row: Callable[[str, str, str], None]) -> dict:
    """Measure this tree and ``baseline`` (None: before_the_cluster()) in turns, ``repeats`` times each; print a
    row per figure through ``row`` (what, this tree, the baseline and the ratio) and return the medians."""
    from playwright.sync_api import sync_playwright

    ref = baseline or before_the_cluster()
    with checkout(ref) as old, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        trees = {"this tree": ROOT, ref: old}
        seen: dict[str, dict[str, list[dict[str, float]]]] = {t: {"app": [], "cli": []} for t in trees}
        try:
            for _ in range(repeats):
                for name, tree in trees.items():
                    seen[name]["app"].append(app_startup(tree, browser))
                    seen[name]["cli"].append(cli_startup(tree))
        finally:
            browser.close()
    medians = {t: {part: {k: statistics.median(m[k] for m in ms) for k in ms[0]} for part, ms in by.items()}
               for t, by in seen.items()}
    here, base = medians["this tree"], medians[ref]
    figures = [("app: start → health endpoint answers", "app", "healthy_s", "s"),
               ("app: start → main page loaded, script done", "app", "loaded_s", "s"),
               ("app: server's CPU seconds then", "app", "cpu_s", "s"),
               ("app: server's resident memory then", "app", "rss_mb", "MB"),
               ("app: server's peak resident memory", "app", "peak_mb", "MB"),
               ("`python -m augviz runs`: CPU seconds", "cli", "cpu_s", "s"),
               ("`python -m augviz runs`: peak memory", "cli", "peak_mb", "MB")]
    row(f"start-up without Ray (median of {repeats}, in turns)", "this tree", f"{ref} (before the cluster work)")
    for what, part, key, unit in figures:
        a, b = here[part][key], base[part][key]
        digits = 0 if unit == "MB" else 2
        row(what, f"{a:.{digits}f} {unit}", f"{b:.{digits}f} {unit}  (this tree ×{a / b:.3f})")
    return {"baseline": ref, "repeats": repeats, "medians": medians}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=None, help="a git ref (default: the commit before the cluster work)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {machine()}; load average at start {load[0]:.1f}")

    def row(what: str, here: str, other: str) -> None:
        print(f"{what:<50}  {here:<20}  {other}", flush=True)

    result = compare(args.baseline, args.repeats, row)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "load": load, **result}, indent=2))


if __name__ == "__main__":
    main()
