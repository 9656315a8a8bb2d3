"""The command line: ``python -m augviz train --config run.json``, ``python -m augviz runs``.

Runs started here are stored in the same database as the app's, so they show up on its pages, and they wait in
the same queue: at most ``$AUGVIZ_MAX_RUNS`` runs train at once, the app's and the terminal's together.

Every error is one line on stderr naming the field or file, and its kind is the exit status (EXIT_CODES; the
docs/cli.md lists them). Tracebacks go to the run's log file; only an internal error (a bug) shows one here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
import unicodedata
from pathlib import Path
from typing import Any

from augviz import raylaunch, serialize, settings, sweep, worker
from augviz.data import home
from augviz.errors import ConfigError, DataError, DiskFull, QueueFull, SettingError, StoreError
from augviz.metrics import DetailMetrics, EpochMetrics, StepMetrics
from augviz.runconfig import RunConfig, loads
from augviz.store import CLI_VISITOR, Store, default_store, open_store

EXIT_CODES = {
    "finished": 0,  # the run finished (or `runs` listed the runs)
    "failed": 1,  # the run failed while training (the cause is printed; the traceback is in its log file)
    "usage": 2,  # the command line itself is wrong (argparse's own code)
    "config": 3,  # the run configuration is wrong: the message names the field
    "file": 4,  # a file cannot be read: missing, no permission, not UTF-8 text
    "data": 5,  # the dataset cannot be found, read or downloaded
    "store": 6,  # the run database cannot be used (locked, read-only, damaged)
    "setting": 7,  # an environment setting (AUGVIZ_DB_TIMEOUT, AUGVIZ_MAX_RUNS, …) is not a usable value
    "queue full": 8,  # queuing the run would pass a cap on queued runs ($AUGVIZ_MAX_QUEUED…)
    "diverged": 9,  # the run's loss stopped being finite
    "disk full": 10,  # the disk filled during the run
    "stopped": 11,  # the run was stopped (from the app, or deleted) before it finished
    "interrupted": 130,  # Ctrl-C
}
HUGE = 10**300  # beyond this an integer is no float: name the field instead of an OverflowError


class FileProblem(Exception):
    """A file named on the command line cannot be read."""


class Printer:
    """Progress on the terminal: a line per epoch, a dot every few steps."""

    def __init__(self) -> None:
        self.total = 0

    def started(self, layer_names: list[str], total_steps: int, classes: tuple[str, ...]) -> None:
        self.total = total_steps
        print(f"training {total_steps} steps; layers: {', '.join(layer_names)}", flush=True)

    def step(self, m: StepMetrics) -> None:
        if m.step % 20 == 0:
            print(f"  step {m.step}/{self.total}  loss {m.loss:.4f}  grad norm {m.grad_total:.3g}", flush=True)

    def epoch(self, m: EpochMetrics) -> None:
        val = f"  val loss {m.val_loss:.4f}  val acc {m.val_acc:.3f}" if m.val_acc is not None else ""
        print(f"epoch {m.epoch}: train loss {m.train_loss:.4f}  train acc {m.train_acc:.3f}{val}"
              f"  ({m.images_per_s:.0f} images/s)", flush=True)

    def detail(self, m: DetailMetrics) -> None:
        pass  # histograms are for the app's charts, not the terminal


_UNPRINTED = {"Cc", "Zl", "Zp"}


def printable(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1: ESC, CR, LF, CSI …) and line or paragraph separator
    written as its escape (``\\x1b``, ``\\r``), so that a stored name can neither forge a row of a listing nor
    drive the terminal."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in _UNPRINTED else c for c in text)


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.db) if getattr(args, "db", None) else default_store()


def _huge_number(doc: Any) -> str | None:
    """The path of the first integer too large to be a float, or None (walked without recursion: the document
    may be nested deeply)."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > HUGE:
            return path or "(the document)"
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return None


def read_config(path: Path) -> RunConfig:
    """A run configuration file: FileProblem when it cannot be read as UTF-8 text, ConfigError (naming the
    file and field) when its content is wrong, however it is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FileProblem(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileProblem(f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                          "save it as UTF-8") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ConfigError(str(path), "nested too deeply to be a run configuration") from None
    except ValueError as e:  # JSON syntax, or an integer over Python's 4,300-digit limit
        raise ConfigError(str(path), f"not valid JSON ({str(e)[:200]})") from None
    huge = _huge_number(doc)
    if huge:
        raise ConfigError(f"{path}: {huge}", "a number too large to use (more than 300 digits)")
    try:
        return loads(text)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e.path}" if e.path else str(path), e.message) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        raise ConfigError(str(path), f"cannot be read as a run configuration ({str(e)[:200]})") from None


def _wait_for_slot(store: Store, run_id: int) -> bool:
    """Wait in the shared queue until this run may train; False when it was stopped or deleted meanwhile."""
    limit = worker.max_concurrent()
    told = False
    while not store.claim(run_id, os.getpid(), limit):
        run = store.get(run_id)
        if run is None or run.status != "queued":
            return False
        if not told:
            print(f"waiting in the queue (position {store.queue_position(run_id)}; AUGVIZ_MAX_RUNS allows {limit} "
                  "run(s) at once)", flush=True)
            told = True
            worker.ensure_launcher(store)  # so the runs ahead of this one are going
        time.sleep(0.5)
    return True


def cmd_train(args: argparse.Namespace) -> int:
    cfg = read_config(Path(args.config))
    store = _store(args)
    worker.max_concurrent()  # a bad $AUGVIZ_MAX_RUNS is refused before anything is queued
    if settings.ray_address() is not None:
        return _train_on_cluster(store, cfg)
    # Queued under this process's pid: the launcher leaves it to this process, which claims its own turn.
    run_id = store.create_many([cfg], pid=os.getpid(), session=CLI_VISITOR,
                               caps=(settings.max_queued(), settings.max_queued_per_visitor()))[0]
    print(f"run {run_id}: {printable(cfg.label())}", flush=True)
    try:
        if not _wait_for_slot(store, run_id):
            print(f"run {run_id} stopped before it started", file=sys.stderr)
            return EXIT_CODES["stopped"]
        log_path = _log_path(run_id)
        with open(log_path, "a") if log_path else open(os.devnull, "w") as log:
            status = worker.execute(store, run_id, cfg, echo=Printer(), log=log)
    except KeyboardInterrupt:
        store.finish(run_id, "stopped", "interrupted from the terminal (Ctrl-C)", kind="stopped")
        print(f"run {run_id} interrupted", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    finally:
        with contextlib.suppress(OSError, StoreError):  # the run's own outcome matters more here
            if worker.launcher_pid(store) is None and any(s == "queued" for _, s, _ in store.live()):
                worker.ensure_launcher(store)  # runs queued behind this one go on
    return _outcome(store, run_id, log_path, status)


def _train_on_cluster(store: Store, cfg: RunConfig) -> int:
    """With ``$AUGVIZ_RAY_ADDRESS`` set the run goes through the launcher to the cluster, as the app's runs do;
    this process follows it in the store, printing each epoch, until it ends (Ctrl-C stops it)."""
    run_id = worker.launch(store, cfg, session=f"cli-{os.getpid()}")
    print(f"run {run_id}: {cfg.label()} (on the Ray cluster)", flush=True)
    printer, shown, told = Printer(), 0, False
    try:
        while (run := store.get(run_id)) is not None:
            worker.recover(store)  # a launcher that died (killed, crashed) has its runs ended, and a successor
            if run.status == "queued" and not told:
                print(f"waiting in the queue (position {store.queue_position(run_id)})", flush=True)
                told = True
            if run.total_steps and not printer.total:
                printer.started(run.layers, run.total_steps, tuple(run.classes))
            for m in store.epochs(run_id)[shown:]:
                printer.epoch(m)
                shown += 1
            if run.is_over:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        store.request_stop(run_id)  # the launcher passes it on to the task
        print(f"run {run_id} interrupted", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    return _outcome(store, run_id, None)


def _outcome(store: Store, run_id: int, log_path: Path | None, status: str | None = None) -> int:
    """Print how the run ended (``status``: as its worker saw it, else as stored); its exit status."""
    run = store.get(run_id)
    if run is None:
        print(f"run {run_id} was deleted while it ran", file=sys.stderr)
        return EXIT_CODES["stopped"]
    status = status or run.status
    if status == "finished":
        print(f"run {run_id} finished")
        if run.test_acc is not None:
            print(f"test accuracy {run.test_acc:.4f}  test loss {run.test_loss:.4f}  "
                  f"{run.images_per_s:.0f} images/s  {run.wall_s:.1f} s")
        return EXIT_CODES["finished"]
    where = f" (details in {log_path})" if status == "failed" and log_path else ""
    print(f"error: run {run_id} {status}" + (f": {printable(run.error)}" if run.error else "") + where,
          file=sys.stderr)
    if status == "failed":
        return EXIT_CODES.get(run.error_kind or "", EXIT_CODES["failed"])
    return EXIT_CODES.get(status, EXIT_CODES["failed"])


def read_sweep(path: Path) -> sweep.Sweep:
    """A sweep file (see augviz.sweep.from_dict): FileProblem when it cannot be read as UTF-8 text, ConfigError
    naming the file and field when its content is wrong."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise FileProblem(f"{path}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise FileProblem(f"{path}: not UTF-8 text (offset {e.start}); save it as UTF-8") from None
    try:
        return sweep.from_dict(serialize.parse_json(text))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e.path}" if e.path else str(path), e.message) from None


def cmd_sweep(args: argparse.Namespace) -> int:
    """Queue the sweep's runs that no stored run serves, wait for all, print the table and the answer."""
    sw = read_sweep(Path(args.config))
    store = _store(args)
    worker.max_concurrent()  # a bad $AUGVIZ_MAX_RUNS is named before anything is queued
    todo = sweep.to_launch(sw, sweep.stored(store, sweep.plan(sw)))
    planned = len({a.key for a in sweep.plan(sw)})
    print(f"sweep: {planned} runs, {planned - len(todo)} served by runs already in the store, {len(todo)} to train",
          flush=True)
    ids = worker.launch_all(store, todo, CLI_VISITOR, sweep.launch_key(todo)) if todo else []
    try:
        state = _follow(store, sw)
    except KeyboardInterrupt:
        for run_id in ids:
            store.request_stop(run_id)
        print("sweep interrupted: the runs it queued were stopped", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    for answer in state.answers:
        print()
        print(_table(answer.table()))
        print(answer.sentence())
        print(answer.note())
    lost = [r for r in state.served.values() if r.status != "finished"] + [None] * state.missing
    if lost:
        print(f"error: {len(lost)} of the sweep's {planned} runs did not finish (failed, stopped or diverged); the "
              "answer rests on the others", file=sys.stderr)
        return EXIT_CODES["failed"]
    return EXIT_CODES["finished"]


def _follow(store: Store, sw: sweep.Sweep, poll_s: float = 1.0) -> sweep.Progress:
    """Wait until none of the sweep's runs is queued or running, printing each time more have finished."""
    shown = -1
    while True:
        state = sweep.progress(store, sw)
        done = sum(r.is_over for r in state.served.values())
        if done != shown:
            print(f"{done} of {state.planned} runs over", flush=True)
            shown = done
        if not state.going:
            return state
        time.sleep(poll_s)


def _table(rows: list[dict[str, str]]) -> str:
    """Rows of text as aligned columns under their keys."""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(r[k].ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _log_path(run_id: int) -> Path | None:
    try:
        logs = home() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"run-{run_id}.log"
    except OSError:
        return None


def cmd_runs(args: argparse.Namespace) -> int:
    store = _store(args)
    worker.recover(store)
    print(f"{'id':>4}  {'status':<11} {'test acc':>8} {'time':>7}  label")
    for r in store.runs():
        acc = f"{r.test_acc:.4f}" if r.test_acc is not None else "-"
        wall = f"{r.wall_s:.1f}s" if r.wall_s is not None else "-"
        why = r.unreadable
        print(f"{r.id:>4}  {printable(r.status):<11} {acc:>8} {wall:>7}  {printable(r.label)}"
              + (f"  [unreadable by this version: {printable(why)}]" if why else ""))
    return 0


def cmd_work(args: argparse.Namespace) -> int:
    worker.work(_store(args), args.run_id)
    return 0


def cmd_launcher(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        on_ray = settings.ray_address() is not None
    except SettingError as e:  # said on each waiting run by the launcher's loop
        print(f"launcher: {e}", file=sys.stderr)
        on_ray = True
    worker.run_launcher(store, args.lock_fd, runner=raylaunch.RayRunner if on_ray else worker.LocalRunner)
    return 0


_KINDS = ((FileProblem, "file"), (ConfigError, "config"), (DataError, "data"), (SettingError, "setting"),
          (QueueFull, "queue full"), (DiskFull, "disk full"))


def _kind(e: BaseException) -> str:
    return next((kind for cls, kind in _KINDS if isinstance(e, cls)), "store")


def main(argv: list[str] | None = None) -> int:
    # A name stored by another tool may hold characters this terminal cannot show: escape them, do not crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = argparse.ArgumentParser(prog="python -m augviz", description="augviz runs from the command line")
    parser.add_argument("--db", help="run database: an SQLite file or a postgresql:// address (default: "
                        "$AUGVIZ_DB, else $AUGVIZ_HOME/runs.sqlite)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one run in the foreground, printing progress; it waits its turn "
                                     "behind $AUGVIZ_MAX_RUNS like the app's runs")
    p.add_argument("--config", required=True, help="a run configuration JSON file")
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("sweep", help="train a sweep (strength or one setting, sizes, seeds), reusing stored runs of "
                                     "the same configuration, and print its table and answer")
    p.add_argument("--config", required=True, help="a sweep JSON file (base, pipeline, axis, values, sizes, seeds, "
                                                   "references)")
    p.set_defaults(fn=cmd_sweep)
    p = sub.add_parser("runs", help="list stored runs")
    p.set_defaults(fn=cmd_runs)
    for name, fn in (("work", cmd_work), ("launcher", cmd_launcher)):
        p = sub.add_parser(name, help=argparse.SUPPRESS)
        if name == "work":
            p.add_argument("run_id", type=int)
        else:
            p.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)
        p.add_argument("--db", help=argparse.SUPPRESS)
        p.set_defaults(fn=fn)
    args = parser.parse_args(argv)
    try:
        if args.command in ("train", "runs"):
            settings.check_all()  # a bad setting is named now, even one only a later step would read
        return args.fn(args)
    except (FileProblem, ConfigError, DataError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CODES[_kind(e)]
    except OSError as e:
        print(f"error: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        return EXIT_CODES["file"]
    except Exception as e:  # a bug: one line here, the traceback where it can be found
        print(f"error: {type(e).__name__}: {e} (an internal error; please report it with the lines below)",
              file=sys.stderr)
        traceback.print_exc(limit=-3)
        return EXIT_CODES["failed"]


if __name__ == "__main__":
    sys.exit(main())
