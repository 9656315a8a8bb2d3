"""A real Streamlit server and Debian's Chromium driven by Playwright, for the browser tests.

Parallel-safe (pytest -n): each server asks the system for a free port (``--server.port 0``) and reports the one
it got, so two test processes never race for a port; its data folder is the caller's ``AUGVIZ_HOME``, which the
test session sets per process (tests/conftest.py)."""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
LISTENING = re.compile(r"URL: (http://127\.0\.0\.1:\d+)")


def start_server(env: dict[str, str] | None = None, root: Path = ROOT,
                 drop: Iterable[str] = ()) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` of the checkout ``root`` (this one by default) on a loopback port the system
    picks, with ``env`` over this process's environment less the variables in ``drop``, and wait until it
    answers; returns (process, URL)."""
    dropped = set(drop)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "streamlit", "run", str(root / "app.py"), "--server.port", "0",
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=root, env={**{k: v for k, v in os.environ.items() if k not in dropped}, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: collections.deque[str] = collections.deque(maxlen=200)
    found: list[str] = []
    bound = threading.Event()

    def drain() -> None:  # read every line, so that a chatty server never blocks on a full pipe
        with proc.stdout:
            for line in proc.stdout:
                tail.append(line)
                if not found and (m := LISTENING.search(line)):
                    found.append(m.group(1))
                    bound.set()
        bound.set()  # the output ended: the server exited

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + 120  # a loaded 2-core machine can take a minute to import Streamlit and torch
    bound.wait(timeout=deadline - time.monotonic())
    while found:
        try:
            with urllib.request.urlopen(f"{found[0]}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, found[0]
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("streamlit did not start:\n" + "".join(tail))


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def streamlit_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """A server for the duration of a ``with`` block; stopped, always."""
    proc, url = start_server(env)
    try:
        yield url
    finally:
        stop_server(proc)
