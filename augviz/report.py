"""Comparing stored runs: the configuration fields that differ, a table of final metrics, metrics as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from augviz.store import Run, Store


def differing_fields(runs: list[Run]) -> list[str]:
    """Configuration fields whose values are not the same in every run (the pipeline counts as one field)."""
    if len(runs) < 2:
        return []
    docs = [r.config.to_dict() for r in runs]
    return [k for k in docs[0] if k not in ("name", "group") and any(d[k] != docs[0][k] for d in docs[1:])]


def _show(key: str, value: Any) -> Any:
    if key == "pipeline":
        return "none" if value is None else " → ".join(s["transform"] for s in value["steps"] if s["enabled"])
    return value


def summary(store: Store, runs: list[Run]) -> list[dict[str, Any]]:
    """One row per run: final metrics and the configuration fields that differ between the runs."""
    fields = differing_fields(runs)
    rows = []
    for r in runs:
        epochs = store.epochs(r.id)
        last = epochs[-1] if epochs else None
        rows.append({"run": r.id, "status": r.status, "label": r.label,
                     "test acc": r.test_acc, "val acc": last[4] if last else None,
                     "train acc": last[2] if last else None, "epochs done": len(epochs),
                     "seconds": r.wall_s, "images/s": r.images_per_s,
                     **{f: _show(f, r.config.to_dict()[f]) for f in fields}})
    return rows


def metrics_csv(store: Store, runs: list[Run]) -> str:
    """Every stored metric of the runs, one row per (run, step or epoch), in long form."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["run", "kind", "step_or_epoch", "metric", "value"])
    for r in runs:
        for step, _epoch, loss, total, norms in store.steps(r.id):
            w.writerow([r.id, "step", step, "loss", loss])
            w.writerow([r.id, "step", step, "grad_norm_total", total])
            for name, v in zip(r.layers, norms, strict=False):
                w.writerow([r.id, "step", step, f"grad_norm[{name}]", v])
        for epoch, tl, ta, vl, va, ips in store.epochs(r.id):
            for metric, v in (("train_loss", tl), ("train_acc", ta), ("val_loss", vl), ("val_acc", va),
                              ("images_per_s", ips)):
                w.writerow([r.id, "epoch", epoch, metric, v])
        if r.test_acc is not None:
            w.writerow([r.id, "final", "", "test_acc", r.test_acc])
            w.writerow([r.id, "final", "", "test_loss", r.test_loss])
    return out.getvalue()
