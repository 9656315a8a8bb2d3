"""What ``import augviz`` costs on top of torch.

Each case runs in a fresh interpreter that first imports torch, numpy and PIL (what every user of the library has
loaded already) and then times one import: wall time and the process's CPU time, the median over ``--repeats``
interpreters, measured round-robin so the machine's noise falls on every case alike. torch's own import is timed
the same way (from nothing) as the yardstick, and the peers' (kornia, albumentations) where installed. Then
``python -X importtime`` lists augviz's slowest modules, each counted without its own imports.

Usage: python -m bench.importtime [--repeats N] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import write_json

ROOT = Path(__file__).resolve().parent.parent
PRELOAD = "import torch, numpy, PIL.Image"

TIMER = """
import time
{preload}
wall, cpu = time.perf_counter(), time.process_time()
import {module}
print(time.perf_counter() - wall, time.process_time() - cpu)
"""

# label: (what is loaded first, the import timed, the package it needs beyond the core's three)
CASES = {
    "augviz (the library)": (PRELOAD, "augviz", "augviz"),
    "augviz.export (code export)": (PRELOAD, "augviz.export", "augviz"),
    "augviz.train (the training loop)": (PRELOAD, "augviz.train", "augviz"),
    "augviz.charts (the app: plotly)": (PRELOAD, "augviz.charts", "plotly"),
    "kornia.augmentation (peer)": (PRELOAD, "kornia.augmentation", "kornia"),
    "albumentations (peer)": (PRELOAD, "albumentations", "albumentations"),
    "torch itself, from nothing": ("", "torch", "torch"),
}


def once(preload: str, module: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``import module`` in a fresh interpreter after ``preload``."""
    out = subprocess.run([sys.executable, "-c", TIMER.format(preload=preload, module=module)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[-2]), float(out[-1])


def slowest_modules(top: int = 8) -> list[tuple[str, float]]:
    """augviz's modules by their own import time (µs → ms), from ``-X importtime`` after torch is loaded."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"{PRELOAD}\nimport augviz"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    own: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and parts[0].split(":")[1].strip().isdigit():
            name = parts[2].strip()
            if name.startswith("augviz"):
                own.append((name, int(parts[0].split(":")[1]) / 1000))
    return sorted(own, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    cases = {label: case[:2] for label, case in CASES.items() if importlib.util.find_spec(case[2]) is not None}
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in cases}
    for _ in range(args.repeats):
        for label, (preload, module) in cases.items():
            times[label].append(once(preload, module))
    rows = [{"case": label, "wall_ms": 1000 * statistics.median(w for w, _ in t),
             "cpu_ms": 1000 * statistics.median(c for _, c in t)} for label, t in times.items()]
    torch_cpu = next(r["cpu_ms"] for r in rows if r["case"].startswith("torch"))
    print(f"import time after torch, numpy and PIL are loaded (median of {args.repeats} fresh interpreters)")
    print(f"{'case':<36}{'wall ms':>10}{'CPU ms':>10}{'CPU / torch':>13}")
    for r in rows:
        print(f"{r['case']:<36}{r['wall_ms']:>10.1f}{r['cpu_ms']:>10.1f}{r['cpu_ms'] / torch_cpu:>13.2f}")
    slow = slowest_modules()
    print("\naugviz's slowest modules, each without its imports (python -X importtime, one run):")
    for name, ms in slow:
        print(f"  {name:<40}{ms:>8.1f} ms")
    write_json(args.json, {"rows": rows, "slowest_modules": slow})


if __name__ == "__main__":
    main()
