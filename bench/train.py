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

Usage: python -m bench.train [--json FILE] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
