"""Runs outside the Streamlit script. The app, the command line and the tests all queue, stop and delete runs
through here.

A queued run is a row in the store, not a process. One launcher process per database (``python -m augviz
launcher``, started on demand, at most one thanks to a lock file) starts a worker process whenever a slot frees
(``$AUGVIZ_MAX_RUNS``), ends the runs of workers that died (with how they died), kills a worker that has not
answered Stop within ``$AUGVIZ_STOP_GRACE_S`` (a stuck or SIGSTOPped one), and exits once nothing waits. A
worker that ends makes sure a launcher is still there, so the queue never waits for a page view. Queuing is
capped server-wide and per visitor (``$AUGVIZ_MAX_QUEUED``, ``$AUGVIZ_MAX_QUEUED_PER_VISITOR``); a request that
would pass a cap is refused before anything is queued. Which queued run starts next is the store's queue order
(round-robin across visitors by default, augviz/store/queue.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

import torch

from augviz import settings
from augviz.data import home
from augviz.errors import ConfigError, DataError, DiskFull, SettingError, StoreError
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import RunConfig
from augviz.store import Store, StoreSink, pid_alive
from augviz.train import Sink, train

_children: list[subprocess.Popen] = []  # launchers this process started, waited for by reap_children

RESERVE_BYTES = 1 << 20  # set aside per run, given back when the disk fills so that the run's end is written


class RunStopped(Exception):
    """Raised inside a run (during a download) when Stop was asked for."""


MAX_RUNS_ON_CPU = 4  # beyond this, side-by-side runs each hold a worker's memory for little more throughput


def cores() -> int:
    """The CPU cores this process may use (its affinity, which a container or ``taskset`` may narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_concurrent() -> int:
    """How many runs may train at once: ``$AUGVIZ_MAX_RUNS``, by default 2 with a GPU and on CPU one per core
    (at most ``MAX_RUNS_ON_CPU``): a small CNN's step uses a second core poorly, so two one-thread runs side by
    side finish sooner than the same two at two threads one after the other (bench/train.py)."""
    return settings.max_running(2 if torch.cuda.is_available() else min(cores(), MAX_RUNS_ON_CPU))


def thread_share(running: int, cores: int) -> int:
    """CPU threads for a run that sets none: an equal share of ``cores`` among the ``running`` runs training."""
    return max(1, cores // max(1, running))


class ShareCores:
    """A training hook for a run without a thread count of its own: about every ``every_s`` seconds it counts the
    runs training and takes its equal share of the cores (``thread_share``), so a run alone uses them all and
    runs side by side do not oversubscribe them (threads beyond the cores stall each other)."""

    def __init__(self, store: Store, every_s: float = 1.0) -> None:
        self.store, self.every_s, self.cores = store, every_s, cores()
        self.at = -float("inf")

    def share(self) -> None:
        """Count the runs training now and set this process's threads to its share."""
        self.at = time.monotonic()
        running = sum(status == "running" for _, status, _ in self.store.live())
        torch.set_num_threads(thread_share(running, self.cores))

    def before_update(self, state: object) -> None:
        if time.monotonic() - self.at >= self.every_s:
            self.share()

    def after_update(self, state: object) -> None:
        pass


# ---- queuing ---------------------------------------------------------------------------------------------------

def admit(store: Store, n: int, session: str | None = None) -> str | None:
    """Why queuing ``n`` more runs (for visitor ``session``) would pass a cap, or None when they fit. Pages call it
    before offering a launch; launch_all checks again, atomically."""
    return store.queue_room(n, session, settings.max_queued(), settings.max_queued_per_visitor())


def launch(store: Store, cfg: RunConfig, session: str | None = None) -> int:
    """Queue one run (see launch_all); returns its id."""
    return launch_all(store, [cfg], session)[0]


def launch_all(store: Store, cfgs: list[RunConfig], session: str | None = None, key: str | None = None) -> list[int]:
    """Queue runs, all or none (QueueFull, nothing queued, when a cap would be passed), and make sure a launcher
    is there to start them. Runs live on when the caller's session or the server ends. With ``key`` (see
    Store.create_many), a launch whose runs are still going is not queued again: its runs' ids come back."""
    max_concurrent()  # a bad $AUGVIZ_MAX_RUNS is the caller's message now, not the launcher's later
    settings.ray_address()  # and so is a bad $AUGVIZ_RAY_ADDRESS
    ids = store.create_many(cfgs, session=session,
                            caps=(settings.max_queued(), settings.max_queued_per_visitor()), key=key)
    try:
        ensure_launcher(store)
    except OSError as e:
        for run_id in ids:
            store.finish(run_id, "failed", f"the launcher could not be started ({e})", kind="launch")
        raise StoreError(f"the runs were not started: the launcher could not be started ({e})") from None
    return ids


def _launcher_lock(store: Store) -> int | None:
    """The launcher's lock on ``<database>.launcher``, taken without waiting; None when another holds it. The
    file keeps the pid of the launcher that holds it, or held it and died: a launcher that ends normally empties
    it (see _take_over)."""
    fd = os.open(f"{store.path}.launcher", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _take_over(store: Store, fd: int) -> None:
    """Before becoming the launcher under the lock ``fd``: end the runs of a launcher that died holding it
    (killed or crashed: one that ends normally leaves the file empty), and the reserve files of ended runs."""
    try:
        previous = int(os.pread(fd, 32, 0) or b"0")
    except ValueError:
        previous = 0
    if previous and previous != os.getpid() and not pid_alive(previous):
        end_dead_runs(store, launcher_gone=previous)
    _sweep_reserves(store)


def _write_pid(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(pid).encode(), 0)


def _release(fd: int) -> None:
    """Give the lock back after a normal end: the file is emptied first, so that the next launcher knows that
    nothing was left behind."""
    os.ftruncate(fd, 0)
    os.close(fd)


def launcher_pid(store: Store) -> int | None:
    """The pid of the launcher that serves ``store`` now, or None when none does."""
    # A killed launcher's main thread can be a zombie while its other threads (Ray's, torch's) still exit holding
    # the lock: a dead pid under a held lock is a launcher still going away, so wait for the lock a moment.
    deadline = time.monotonic() + 10
    while True:
        fd = _launcher_lock(store)
        if fd is not None:
            os.close(fd)
            return None
        try:
            pid = int(Path(f"{store.path}.launcher").read_text())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) or time.monotonic() > deadline:
            return pid
        time.sleep(0.05)


def ensure_launcher(store: Store) -> None:
    """Start a launcher for ``store`` unless one is going. The lock is taken here and handed to the child, so
    that launches in quick succession start one launcher, not one each while the first is still importing."""
    fd = _launcher_lock(store)
    if fd is None:
        return
    try:
        _take_over(store, fd)
        try:
            logs = home() / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            log: TextIO | int = open(logs / "launcher.log", "a")  # noqa: SIM115 (handed to the child, closed below)
        except OSError:
            log = subprocess.DEVNULL  # it still starts workers; each run's own failure to log is recorded on it
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "augviz", "launcher", "--db", store.address, "--lock-fd", str(fd)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                pass_fds=(fd,))
        finally:
            if not isinstance(log, int):
                log.close()
        _children.append(proc)
        _write_pid(fd, proc.pid)
    finally:
        os.close(fd)  # the child holds the lock through its copy


def _is_augviz(pid: int, role: bytes, *also: bytes) -> bool:
    """Whether ``pid`` is a ``python -m augviz <role>`` process with these arguments (never kill a reused pid)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"augviz" in args and role in args and all(a in args for a in also)


def shutdown(store: Store) -> None:
    """Stop everything that serves ``store`` at once: the launcher ends, queued runs are stopped, running workers
    are killed and their runs marked stopped. For tests, and for an administrator taking the app down."""
    pid = launcher_pid(store)
    if pid and _is_augviz(pid, b"launcher", store.address.encode()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for run_id, status, run_pid in store.live():
        store.request_stop(run_id)
        if status == "running":
            _kill(run_pid, run_id)
            store.finish(run_id, "stopped", "stopped by a shutdown", kind="stopped")
    for proc in _children:
        proc.wait(timeout=30)
    reap_children()


def reap_children() -> None:
    """Collect the exit status of launchers this process started (no zombies pile up)."""
    _children[:] = [p for p in _children if p.poll() is None]


def recover(store: Store) -> list[int]:
    """Upkeep that any page view or CLI call may do, cheap and idempotent: when no launcher is going, runs whose
    process is gone are ended with what happened to it (end_dead_runs), and a launcher is started if runs wait.
    Returns the ids it ended."""
    reap_children()
    if launcher_pid(store) is not None:
        return []  # the launcher does the upkeep
    ended = end_dead_runs(store, launcher_gone=_last_launcher(store))
    if any(status == "queued" and pid is None for _, status, pid in store.live()):
        ensure_launcher(store)
    return ended


def _last_launcher(store: Store) -> int | None:
    """The pid of a launcher that died holding the lock (its pid is still in the lock file), if any."""
    try:
        pid = int(Path(f"{store.path}.launcher").read_text() or "0")
    except (OSError, ValueError):
        return None
    return pid if pid and not pid_alive(pid) else None


def _booted_at() -> float:
    """When this machine started (seconds since the epoch), from the kernel."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0.0


def end_dead_runs(store: Store, skip: frozenset[int] = frozenset(), launcher_gone: int | None = None,
                  launcher_alive: bool = False) -> list[int]:
    """End the live runs whose process is gone, each with what happened to it, and remove their reserve files.
    Only a process's parent can see how it ended; these are the runs no parent saw end: the process is
    ``launcher_gone`` (the run was in that dead launcher's hands: claimed, or on Ray), or a worker whose launcher
    was killed before it (``launcher_alive``: a later launcher watched it), or both were killed (a page view or
    CLI call finds them), or the machine restarted. Pids in ``skip`` are left to their parent."""
    dead = [run_id for run_id, _, pid in store.live() if pid and pid not in skip and not pid_alive(pid)]
    booted = _booted_at()
    ended = []
    for run in store.runs(ids=dead) if dead else []:
        if run.started is not None and run.started < booted:
            done = store.finish(run.id, "interrupted", "the machine restarted while this run was going",
                                kind="worker")
        elif run.pid == launcher_gone:
            done = store.finish(run.id, "failed", f"the launcher process (pid {run.pid}) that ran it was killed "
                                "or crashed", kind="worker")
        elif run.session == f"cli-{run.pid}":
            done = store.finish(run.id, "failed", f"the command-line process (pid {run.pid}) that ran it was "
                                "killed or crashed", kind="worker")
        elif launcher_alive:
            done = store.finish(run.id, "failed", f"the worker process (pid {run.pid}) was killed or crashed; the "
                                "launcher that started it had been killed before, so how it ended could not be "
                                "seen", kind="worker")
        else:
            gone = f" (pid {launcher_gone})" if launcher_gone else ""
            done = store.finish(run.id, "interrupted", f"the worker process (pid {run.pid}) and its launcher{gone} "
                                "were killed or crashed; the machine did not restart", kind="worker")
        if done:
            ended.append(run.id)
            _drop_reserve(store, run.id)
    return ended


def _reserve_path(store: Store, run_id: int) -> Path:
    return store.path.with_name(f"{store.path.name}.reserve-{run_id}")


def _drop_reserve(store: Store, run_id: int) -> None:
    """Remove the disk reserve a killed worker left beside the database (a worker that ends removes its own)."""
    with contextlib.suppress(OSError):
        _reserve_path(store, run_id).unlink(missing_ok=True)


def _sweep_reserves(store: Store) -> None:
    """Remove the reserve files of runs that are not running (left by workers killed before this was done)."""
    running = {run_id for run_id, status, _ in store.live() if status == "running"}
    for path in store.path.parent.glob(f"{store.path.name}.reserve-*"):
        suffix = path.name.rsplit("-", 1)[1]
        if suffix.isdigit() and int(suffix) not in running:
            with contextlib.suppress(OSError):
                path.unlink()


# ---- stopping and deleting -------------------------------------------------------------------------------------

def _kill(pid: int | None, run_id: int) -> None:
    if pid and pid != os.getpid() and _is_augviz(pid, b"work", str(run_id).encode()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # also reaches a stopped (SIGSTOP) process


def delete(store: Store, run_ids: list[int]) -> int:
    """Delete runs with their metrics, whatever their state: a queued run is stopped, a running one stopped and
    its worker killed at once (a stuck worker cannot keep its run). Returns how many were deleted."""
    for run in store.runs(ids=run_ids):
        if not run.is_over:
            store.request_stop(run.id)
            if run.status == "running":
                _kill(run.pid, run.id)
                store.finish(run.id, "stopped", "deleted while running", kind="stopped")
    return store.delete(run_ids)


# ---- the launcher ----------------------------------------------------------------------------------------------

class Runner(Protocol):
    """Where a launcher starts its runs: local worker processes (LocalRunner) or a Ray cluster (raylaunch)."""

    def upkeep(self, store: Store) -> None:
        """One turn: follow the runs in hand, end the dead or overdue ones, start queued runs in free slots."""

    def busy(self) -> bool:
        """Whether runs are in this runner's hands."""

    def close(self) -> None:
        """Called once when the launcher ends."""


def run_launcher(store: Store, lock_fd: int | None = None, poll_s: float = 0.25,
                 runner: Callable[[Store], Runner] | None = None) -> None:
    """The launcher's loop (``python -m augviz launcher``), holding the lock ``lock_fd`` handed over by
    ensure_launcher (or taking it); returns at once when another launcher holds the lock. ``runner`` makes
    where runs go (LocalRunner: worker processes); it is made only once the lock is held."""
    fd = lock_fd if lock_fd is not None else _launcher_lock(store)
    if fd is None:
        return
    if lock_fd is None:
        _take_over(store, fd)
        _write_pid(fd, os.getpid())
    hand: Runner | None = None
    try:
        while True:
            try:
                hand = hand or (runner or LocalRunner)(store)
                hand.upkeep(store)
                if not hand.busy() and not _waiting(store):
                    # Release, then look once more: a run queued between the look and the release would find the
                    # lock held, start no launcher, and wait for ever.
                    _release(fd)
                    fd = None
                    if not _waiting(store) or (fd := _launcher_lock(store)) is None:
                        return
                    _write_pid(fd, os.getpid())
            except SettingError as e:  # nothing can start under a bad setting: say so on each waiting run
                for run_id, status, pid in store.live():
                    if status == "queued" and pid is None:
                        store.finish(run_id, "failed", str(e), kind="launch")
                print(f"launcher: {e}", file=sys.stderr, flush=True)
                return
            except StoreError as e:  # a locked or full database: say so, and try again
                print(f"launcher: {e}", file=sys.stderr, flush=True)
            time.sleep(poll_s)
    finally:
        if hand is not None:
            hand.close()  # its runs are over or ended with their cause: nothing is left behind
        if fd is not None:
            _release(fd)


def _waiting(store: Store) -> bool:
    """Whether a queued run waits for the launcher (a queued run with a pid is a CLI run waiting for itself)."""
    return any(status == "queued" and pid is None for _, status, pid in store.live())


class LocalRunner:
    """Runs as worker processes on this machine, at most ``$AUGVIZ_MAX_RUNS`` at once."""

    def __init__(self, store: Store) -> None:
        self.workers: dict[int, subprocess.Popen] = {}

    def upkeep(self, store: Store) -> None:
        _upkeep(store, self.workers)

    def busy(self) -> bool:
        return bool(self.workers)

    def close(self) -> None:
        for proc in self.workers.values():
            proc.wait()


def _upkeep(store: Store, workers: dict[int, subprocess.Popen]) -> None:
    for run_id, proc in list(workers.items()):
        code = proc.poll()
        if code is None:
            continue
        del workers[run_id]
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        store.finish(run_id, "failed", f"the worker process (pid {proc.pid}) ended without finishing ({how})",
                     kind="worker")
        _drop_reserve(store, run_id)
    # Processes this launcher did not start (CLI runs, an earlier launcher's workers); its own are seen above.
    end_dead_runs(store, skip=frozenset(p.pid for p in workers.values()), launcher_alive=True)
    grace = settings.stop_grace_s()
    for run in store.overdue_stops(grace):
        proc = workers.pop(run.id, None)
        if proc is not None:
            proc.kill()
            proc.wait()
        else:
            _kill(run.pid, run.id)
        store.finish(run.id, "stopped", f"the worker did not answer Stop within {grace:g} s and was killed",
                     kind="stopped")
        _drop_reserve(store, run.id)
    limit = max_concurrent()
    while (run_id := store.claim_next(os.getpid(), limit)) is not None:
        workers[run_id] = proc = _start_worker(store, run_id)
        if proc is None:
            workers.pop(run_id)


def _start_worker(store: Store, run_id: int) -> subprocess.Popen | None:
    try:
        logs = home() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"run-{run_id}.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "augviz", "work", str(run_id), "--db", store.address],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
    except OSError as e:
        store.finish(run_id, "failed", f"the worker could not be started ({e})", kind="launch")
        return None
    store.set_pid(run_id, proc.pid)
    return proc


# ---- a worker --------------------------------------------------------------------------------------------------

def work(store: Store, run_id: int) -> None:
    """A worker's life (``python -m augviz work``): execute the run the launcher claimed for it, then make sure a
    launcher is still there for the runs behind it. A launcher that dies meanwhile (killed) is replaced at once
    from here, so that the queue goes on and this worker's own end is seen, whatever ends it."""
    launcher = os.getppid()

    def watch_launcher() -> None:
        nonlocal launcher
        if os.getppid() != launcher:  # orphaned: the launcher that started this worker is gone
            launcher = os.getppid()
            with contextlib.suppress(OSError, StoreError):
                ensure_launcher(store)

    try:
        run = store.get(run_id)
        if run is None or run.status != "running":
            return  # stopped or deleted before it began
        store.set_pid(run_id, os.getpid())
        try:
            cfg = run.config
        except ConfigError as e:
            store.finish(run_id, "failed", str(e), kind="config")
            return
        execute(store, run_id, cfg, watch=watch_launcher)
    finally:
        with contextlib.suppress(OSError):
            ensure_launcher(store)


class _Reserve:
    """Disk space set aside for a run (a file beside the database), given back when the disk fills, so that the
    run's end and its cause can still be written."""

    def __init__(self, path: Path) -> None:
        self.path: Path | None = path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)
        except OSError:
            self.release()  # no room even for the reserve: the run will meet the full disk soon enough

    def release(self) -> bool:
        """Give the space back; False when there was none to give."""
        if self.path is None:
            return False
        self.path.unlink(missing_ok=True)
        self.path = None
        return True


def failure_cause(e: BaseException) -> tuple[str, str]:
    """(kind, message) of a run's failure: the kinds the store records and the CLI maps to exit codes."""
    if isinstance(e, DiskFull) or "No space left on device" in str(e):
        return "disk full", str(e) if str(e).startswith("disk full") else f"disk full: {e}"
    if isinstance(e, DataError):
        return "data", str(e)
    if isinstance(e, ConfigError):
        return "config", str(e)
    if isinstance(e, StoreError):
        return "store", str(e)
    return "training", f"{type(e).__name__}: {e}"


def _say(log: TextIO | None, text: str) -> None:
    """Write to the run's log; a log on a full disk must not stop the run's end being recorded."""
    try:
        if log is not None:
            print(text, file=log, flush=True)
    except (OSError, ValueError):
        pass


def _finish(store: Store, run_id: int, reserve: _Reserve, log: TextIO | None, status: str, error: str | None,
            kind: str | None, **summary: object) -> None:
    """Record the run's end; when the disk is full, give back the reserve and try once more."""
    for attempt in (1, 2):
        try:
            store.finish(run_id, status, error, kind, **summary)
            return
        except StoreError as e:
            if attempt == 2 or not reserve.release():
                _say(log, f"the end of run {run_id} ({status}: {error}) could not be recorded: {e}")
                return


def execute(store: Store, run_id: int, cfg: RunConfig, echo: Sink | None = None,
            log: TextIO | None = sys.stderr, watch: Callable[[], None] | None = None) -> str:
    """Train a run that is marked running, record how it ended (and why, when it failed), return that status.
    Tracebacks go to ``log`` (the worker's log file); the store gets one line and a kind of cause. ``watch`` is
    called with each look at the store for Stop (a few times a second)."""
    reserve = _Reserve(_reserve_path(store, run_id))
    sink = StoreSink(store, run_id)
    target: Sink = sink if echo is None else _Tee(sink, echo)
    last = {"at": 0.0, "stop": False}

    def should_stop() -> bool:
        if time.monotonic() - last["at"] > 0.3:  # a cheap read, but not on every step
            last["at"], last["stop"] = time.monotonic(), store.stop_requested(run_id)
            if watch is not None:
                watch()
        return last["stop"]

    shown = {"at": 0.0}

    def downloading(name: str, done: int, total: int | None) -> None:
        if should_stop():
            raise RunStopped  # out of the download loop, which removes its partial file
        if time.monotonic() - shown["at"] > 0.5 or done == total:  # a progress bar, not a write per chunk
            shown["at"] = time.monotonic()
            size = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"
            store.set_progress(run_id, f"downloading {name} ({size})", done / total if total else None)

    hooks: list[ShareCores] = []
    if cfg.threads is None:  # the configuration leaves it to the machine: share the cores with the runs going
        hooks.append(ShareCores(store))
        hooks[0].share()  # before loading the data, which uses threads too
    try:
        try:
            s = train(cfg, target, should_stop, progress=downloading, hooks=hooks)
            sink.flush()
        except RunStopped:
            _finish(store, run_id, reserve, log, "stopped", None, None)
            return "stopped"
        except Exception as e:  # the run failed: record why first (pending metrics can wait: a full disk)
            kind, message = failure_cause(e)
            _say(log, traceback.format_exc())
            if kind == "disk full":
                reserve.release()
            _finish(store, run_id, reserve, log, "failed", message, kind)
            with contextlib.suppress(StoreError):
                sink.flush()  # what is left, if there is room now
            return "failed"
        error = f"the loss stopped being finite at step {s.diverged_step}" if s.status == "diverged" else None
        _finish(store, run_id, reserve, log, s.status, error, "training" if error else None,
                diverged_step=s.diverged_step, test_acc=s.test_acc, test_loss=s.test_loss,
                images_per_s=s.images_per_s, wall_s=s.wall_s, note=s.note)  # what reading the data skipped
        return s.status
    finally:
        reserve.release()


class _Tee:
    """A Sink that passes everything to two sinks (the store, and the terminal for the CLI)."""

    def __init__(self, a: Sink, b: Sink) -> None:
        self.a, self.b = a, b

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.a.started(layer_names, total_steps, classes)
        self.b.started(layer_names, total_steps, classes)

    def step(self, m: StepMetrics) -> None:
        self.a.step(m)
        self.b.step(m)

    def epoch(self, m: EpochMetrics) -> None:
        self.a.epoch(m)
        self.b.epoch(m)

    def detail(self, m: DetailMetrics) -> None:
        self.a.detail(m)
        self.b.detail(m)
