"""``python -m augviz sweep --config sweep.json`` as its user meets it: the table and the one-sentence answer, a
baseline trained once and reused by the next sweep, and the CLI's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from augviz.__main__ import EXIT_CODES
from augviz.preview import SEED_PIPELINE
from augviz.serialize import to_dict
from augviz.store import Store

# Tiny runs: the point is the plumbing, not the accuracy.
BASE = {"train_size": 250, "steps": 5, "batch_size": 32, "val_fraction": 0.2}


def sweep(tmp_path: Path, doc: dict, name: str = "sweep.json") -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return subprocess.run([sys.executable, "-m", "augviz", "sweep", "--config", str(path)], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "AUGVIZ_HOME": str(tmp_path), "AUGVIZ_MAX_RUNS": "1"})


def test_a_sweep_prints_its_table_and_answer_and_the_next_sweep_reuses_its_baselines(tmp_path):
    pipeline = to_dict(SEED_PIPELINE)
    first = sweep(tmp_path, {"base": BASE, "pipeline": pipeline, "values": [0, 1], "seeds": 1})
    assert first.returncode == 0, first.stderr[-2000:]
    assert "sweep: 2 runs, 0 served by runs already in the store, 2 to train" in first.stdout
    assert "arm" in first.stdout and "validation" in first.stdout and "test vs none" in first.stdout
    assert "250 images: " in first.stdout
    assert "the pick rests on 50 validation images a run" in first.stdout  # 250 × 0.2
    store = Store(tmp_path / "runs.sqlite")
    baselines = [r.id for r in store.runs() if r.config.pipeline is None]
    assert len(baselines) == 1

    second = sweep(tmp_path, {"base": BASE, "pipeline": pipeline, "values": [0, 2], "seeds": 1}, "second.json")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "sweep: 2 runs, 1 served by runs already in the store, 1 to train" in second.stdout
    assert [r.id for r in store.runs() if r.config.pipeline is None] == baselines  # not trained again
    assert len(store.runs()) == 3
    print(second.stdout)


def test_a_wrong_sweep_file_names_the_field_and_exits_with_the_configuration_code(tmp_path):
    out = sweep(tmp_path, {"base": BASE, "pipeline": to_dict(SEED_PIPELINE), "seeds": 99})
    assert out.returncode == EXIT_CODES["config"]
    assert out.stderr.startswith("error: ") and "seeds" in out.stderr and "Traceback" not in out.stderr


def test_a_missing_sweep_file_exits_with_the_file_code(tmp_path):
    out = subprocess.run([sys.executable, "-m", "augviz", "sweep", "--config", str(tmp_path / "nope.json")],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "AUGVIZ_HOME": str(tmp_path)})
    assert out.returncode == EXIT_CODES["file"] and "nope.json" in out.stderr
