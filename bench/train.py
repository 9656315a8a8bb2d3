"""Training speed: the default run end to end, and the loop's overheads against a bare PyTorch loop.

1. The default run (built-in dataset, 2,000 training images, seed CNN, the seed's pipeline, a budget of 1,000
   optimizer steps), as a worker runs it (metrics written to a run store). Target: at most 60 s on the 2-core
   development machine.
2. One epoch, same model, data and batch size, in the same process and interleaved: a bare PyTorch loop in
   PyTorch's default NCHW layout and in channels-last (the layout augviz trains in); the channels-last loop
   recording per-layer gradient norms exactly as augviz does (one ``_foreach_norm``, one transfer per step);
   augviz's own loop without augmentation (norms, schedule, metrics, store writes); and with the seed's
   pipeline. Targets: gradient-norm recording costs at most 5 %; augmentation makes an epoch at most 1.3×
   slower.
3. The default run on CUDA when a GPU is present.

With ``--against DIR`` (another checkout, e.g. ``git archive <rev> | tar -x -C DIR``) it prints instead a before/
after table measured in the same session: the CPU milliseconds of a training step of the default run (seed CNN,
seed pipeline, as the loop runs it: augmentation, norms, schedule, evaluations) at 1 and 2 threads, each tree's
step measured in its own process, in turns; with ``--experiment`` also the default experiment of
``bench/lessons.py`` (6 runs, queued through each tree's worker) with its wall time and workers' CPU seconds.
CPU time is what to compare on a shared machine: other load inflates wall time far more.

Usage: python -m bench.train [--json FILE] [--repeats N] [--against DIR [--experiment]]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from augviz import data, models, serialize
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store, StoreSink
from augviz.train import layer_grad_norms, layer_owner, train
from bench.common import machine, write_json

DEFAULT = RunConfig(pipeline=serialize.to_dict(SEED_PIPELINE))


class Quiet:
    def started(self, *a): pass
    def step(self, m): pass
    def epoch(self, m): self.rate = m.images_per_s
    def detail(self, m): pass


def bare_epoch(ds: data.Dataset, cfg: RunConfig, device: torch.device, record: bool = False,
               layout: torch.memory_format = torch.channels_last) -> float:
    """Images per second of one epoch of the plainest loop: no augmentation, no metrics (with ``record``, the
    per-layer gradient norms fetched each step as augviz's loop does, and nothing else), in ``layout``."""
    torch.manual_seed(cfg.seed)
    model = models.build(cfg.model, 3, 32, len(ds.classes)).to(device, memory_format=layout)
    groups = [params for _, params in models.layers(model)]
    owner = layer_owner(groups, device)
    kept: list[list[float]] = []
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    x_all, y_all = ds.train.x.to(device), ds.train.y.to(device)
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0)).to(device)
    start = time.perf_counter()
    for i in range(0, len(order), cfg.batch_size):
        idx = order[i:i + cfg.batch_size]
        loss = F.cross_entropy(model(x_all[idx].float().div_(255).contiguous(memory_format=layout)), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if record:
            kept.append(torch.cat([loss.detach().reshape(1), layer_grad_norms(groups, owner)]).tolist())
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(order) / (time.perf_counter() - start)


def augviz_epoch(ds: data.Dataset, cfg: RunConfig) -> float:
    sink = Quiet()
    train(RunConfig(**{**cfg.to_dict(), "epochs": 1}), sink, dataset=ds)
    return sink.rate


def default_run(device: str) -> dict:
    with tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "runs.sqlite")
        cfg = RunConfig(**{**DEFAULT.to_dict(), "device": device})
        run_id = store.create(cfg, status="running")
        start = time.perf_counter()
        s = train(cfg, StoreSink(store, run_id))
        wall = time.perf_counter() - start
        return {"device": device, "seconds": wall, "test_acc": s.test_acc, "images_per_s": s.images_per_s,
                "steps": s.steps}


ROOT = Path(__file__).parents[1]


class StepClock:
    """A sink that notes the process's CPU time and the wall time at every step."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def started(self, *a): pass
    def epoch(self, m): pass
    def detail(self, m): pass

    def step(self, m) -> None:
        self.cpu.append(time.process_time())
        self.wall.append(time.perf_counter())


def step_ms(threads: int, steps: int, skip: int = 50) -> dict:
    """CPU and wall milliseconds per step of the default run at ``threads`` threads, over steps ``skip`` to
    ``steps`` (the first ones warm the allocator and oneDNN's kernels up)."""
    cfg = RunConfig(**{**DEFAULT.to_dict(), "threads": threads, "steps": steps, "device": "cpu"})
    ds = data.load("synthetic", cfg.train_size, cfg.val_fraction, cfg.seed)
    clock = StepClock()
    train(cfg, clock, dataset=ds)
    n = len(clock.cpu) - skip
    return {"cpu_ms": 1000 * (clock.cpu[-1] - clock.cpu[skip]) / n,
            "wall_ms": 1000 * (clock.wall[-1] - clock.wall[skip]) / n}


def _in_tree(tree: Path, args: list[str], timeout: float) -> dict:
    """Run this file's ``args`` with ``tree``'s augviz (in a fresh process) and return the JSON it prints."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], cwd=tree, capture_output=True,
                         text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(tree)}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def experiment_in(tree: Path) -> dict:
    """The default experiment queued through ``tree``'s own worker (``bench.lessons`` of that tree)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([sys.executable, "-m", "bench.lessons", "--no-gradients", "--json", f.name], cwd=tree,
                       env={**os.environ, "PYTHONPATH": str(tree)}, check=True, capture_output=True, timeout=3600)
        return json.loads(Path(f.name).read_text())["experiment"]


def before_after(against: Path, repeats: int, steps: int, with_experiment: bool) -> dict:
    trees = {"before": against.resolve(), "after": ROOT}
    ms: dict[tuple[str, int], list[dict]] = {}
    for _ in range(repeats):  # in turns, so that drift in the machine's load falls on both alike
        for threads in (1, 2):
            for name, tree in trees.items():
                ms.setdefault((name, threads), []).append(
                    _in_tree(tree, ["--child-step", str(threads), str(steps)], timeout=1800))
    print(f"\none training step of the default run (seed CNN, seed pipeline, batch {DEFAULT.batch_size}), "
          f"median of {repeats} runs of {steps} steps")
    print(f"{'threads':>8}{'before CPU ms':>15}{'after CPU ms':>14}{'after/before':>14}"
          f"{'before wall ms':>16}{'after wall ms':>15}")
    rows = []
    for threads in (1, 2):
        b = {k: statistics.median(m[k] for m in ms[("before", threads)]) for k in ("cpu_ms", "wall_ms")}
        a = {k: statistics.median(m[k] for m in ms[("after", threads)]) for k in ("cpu_ms", "wall_ms")}
        rows.append({"threads": threads, "before": b, "after": a})
        print(f"{threads:>8}{b['cpu_ms']:>15.1f}{a['cpu_ms']:>14.1f}{a['cpu_ms'] / b['cpu_ms']:>14.2f}"
              f"{b['wall_ms']:>16.1f}{a['wall_ms']:>15.1f}")
    out: dict = {"steps": rows}
    if with_experiment:
        exps = {name: experiment_in(tree) for name, tree in trees.items()}
        print("\nthe default experiment (6 runs of 1,000 steps, queued through each tree's worker)")
        print(f"{'':>8}{'runs at once':>14}{'threads':>9}{'wall s':>9}{'workers CPU s':>15}  accuracy without / with")
        for name, e in exps.items():
            accs = " · ".join(f"{100 * s['without']:.1f}% / {100 * s['with']:.1f}%" for s in e["sizes"])
            print(f"{name:>8}{e['at_once']:>14}{e['threads'] or 'default'!s:>9}{e['wall_s']:>9.1f}"
                  f"{e['worker_cpu_s']:>15.1f}  {accs}")
        out["experiment"] = exps
    return out


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child-step":  # one measurement, for _in_tree
        print(json.dumps(step_ms(int(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout: print a before/after table instead")
    parser.add_argument("--steps", type=int, default=300, help="steps per measurement with --against")
    parser.add_argument("--experiment", action="store_true", help="with --against: the default experiment too")
    args = parser.parse_args()
    if args.against:
        print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
        write_json(args.json, before_after(args.against, args.repeats, args.steps, args.experiment))
        return
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()), f"(torch threads {torch.get_num_threads()})")

    runs = [default_run("cpu")] + ([default_run("cuda")] if torch.cuda.is_available() else [])
    for r in runs:
        print(f"default run on {r['device']}: {r['seconds']:.1f} s end to end ({r['steps']} steps, "
              f"{r['images_per_s']:.0f} images/s while training), test accuracy {100 * r['test_acc']:.1f}%")
    if not torch.cuda.is_available():
        print("(no CUDA device: GPU figures skipped)")

    ds = data.load("synthetic", DEFAULT.train_size, DEFAULT.val_fraction, DEFAULT.seed)
    plain = RunConfig(**{**DEFAULT.to_dict(), "pipeline": None})
    rates: dict[str, list[float]] = {"bare loop, NCHW": [], "bare PyTorch loop": [], "bare loop + gradient norms": [],
                                     "augviz, no augmentation": [], "augviz, seed pipeline": []}
    augviz_epoch(ds, plain)  # warm-up
    for _ in range(args.repeats):  # interleaved, so drift on the machine falls on every loop alike
        rates["bare loop, NCHW"].append(bare_epoch(ds, plain, torch.device("cpu"), layout=torch.contiguous_format))
        rates["bare PyTorch loop"].append(bare_epoch(ds, plain, torch.device("cpu")))
        rates["bare loop + gradient norms"].append(bare_epoch(ds, plain, torch.device("cpu"), record=True))
        rates["augviz, no augmentation"].append(augviz_epoch(ds, plain))
        rates["augviz, seed pipeline"].append(augviz_epoch(ds, DEFAULT))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\none epoch of {len(ds.train)} images, batch {DEFAULT.batch_size}, median of {args.repeats}")
    print(f"{'loop':<28}{'images/s':>10}{'s/epoch':>10}")
    for k, v in med.items():
        print(f"{k:<28}{v:>10.0f}{len(ds.train) / v:>10.2f}")
    recording = med["bare PyTorch loop"] / med["bare loop + gradient norms"] - 1
    whole_loop = med["bare PyTorch loop"] / med["augviz, no augmentation"] - 1
    augmenting = med["augviz, no augmentation"] / med["augviz, seed pipeline"]
    layout = med["bare PyTorch loop"] / med["bare loop, NCHW"]
    targets = {
        "default run ≤ 60 s": (runs[0]["seconds"] <= 60, f"{runs[0]['seconds']:.1f} s"),
        "gradient-norm recording ≤ 5 %": (recording <= 0.05, f"{100 * recording:+.1f} %"),
        "augmentation slowdown ≤ 1.3×": (augmenting <= 1.3, f"{augmenting:.2f}×"),
    }
    print(f"\nchannels-last over NCHW, bare loop: {layout:.2f}× the images per second")
    print(f"augviz's whole loop (norms, metrics, store writes) over the bare loop: {100 * whole_loop:+.1f} %")
    print("\ntargets:")
    for label, (ok, value) in targets.items():
        print(f"  {'met ' if ok else 'MISS'}  {label}: {value}")
    write_json(args.json, {"default_runs": runs, "epoch_images_per_s": rates,
                           "targets": {k: {"met": ok, "value": v} for k, (ok, v) in targets.items()}})


if __name__ == "__main__":
    main()
