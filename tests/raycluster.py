"""A real two-node Ray cluster on this machine for the tests: a head and a second node, one CPU each, each in its
own temporary folder (its own session, logs and sockets), small object stores, no dashboard. Stopped by killing
exactly its own processes (never ``ray stop``, which would stop every Ray on the machine)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}  # for the nodes and the drivers that join
STORE_BYTES = 100_000_000  # Ray's smallest object store is about 75 MB; runs send kilobytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> dict[int, tuple[int, bytes]]:
    """pid: (parent pid, command line) of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                args = Path(f"/proc/{entry}/cmdline").read_bytes()
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            out[int(entry)] = (parent, args)
    return out


def processes_of(folder: Path, address: str = "") -> set[int]:
    """The processes of the Ray node(s) whose temporary folder is under ``folder``, with all their children
    (Ray's workers rename themselves, ``ray::IDLE``, and lose the folder from their command line), and the head's
    Ray Client server (started on its own, named by the GCS port of ``address``, not by the folder)."""
    table = _processes()
    port = f":{address.rpartition(':')[2]}\0".encode() if address else None
    mine = {pid for pid, (_, args) in table.items() if pid != os.getpid() and (
        str(folder).encode() in args or (port is not None and b"ray.util.client.server" in args and port in args))}
    grew = True
    while grew:
        more = {pid for pid, (parent, _) in table.items() if parent in mine} - mine
        mine |= more
        grew = bool(more)
    return mine


@dataclass
class Cluster:
    address: str  # the head's GCS address, host:port
    root: Path
    head: Path
    node: Path

    def raylet(self, folder: Path) -> int:
        """The pid of the raylet of the node whose temporary folder is ``folder``."""
        table = _processes()
        return next(pid for pid, (_, args) in table.items()
                    if b"raylet/raylet" in args and str(folder).encode() in args)

    def tasks(self, name: str) -> list[int]:
        """The pids of this cluster's worker processes executing the Ray task ``name`` now."""
        table, title = _processes(), f"ray::{name}".encode()
        return [pid for pid in processes_of(self.root) if table.get(pid, (0, b""))[1].startswith(title)]

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in processes_of(self.root, self.address):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 10
            while processes_of(self.root, self.address) and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """Start the head, then the second node; both run until ``Cluster.stop``."""
    root = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    cluster = Cluster("", root, root / "h", root / "n")
    # Token authentication off, said explicitly: Ray 2.60 turns it on for a head when ~/.ray/auth_token exists (a
    # one-machine ray.init() writes one), and a second node started without the token then cannot join.
    env = {**os.environ, **ENV}
    common = ["--num-cpus=1", f"--object-store-memory={STORE_BYTES}", "--node-ip-address=127.0.0.1",
              "--disable-usage-stats"]

    def ports() -> list[str]:  # Ray's fixed defaults would collide with another Ray on this machine
        return [f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}"]

    def run(*args: str) -> None:
        done = subprocess.run([str(RAY), "start", *args, *common, *ports()], capture_output=True, text=True,
                              env=env, timeout=240)
        if done.returncode:
            raise RuntimeError(f"ray start {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    try:
        port = free_port()
        run("--head", f"--port={port}", f"--temp-dir={cluster.head}", "--include-dashboard=false")
        cluster.address = f"127.0.0.1:{port}"
        run(f"--address={cluster.address}", f"--temp-dir={cluster.node}")
    except BaseException:
        cluster.stop()
        raise
    return cluster
