"""Corners that a small wrong change once slipped past: each test here fails for one of the deliberate breakages
in tests/mutations.py (an interval ending at exactly zero, the chance line's height, He initialisation's fan, the
per-layer columns of the steps CSV, the store's thinning of steps, every EXIF orientation)."""

from __future__ import annotations

import csv
import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from augviz import charts, deepnet, images, report
from augviz.deepnet import NetSpec
from augviz.experiment import Comparison
from augviz.metrics import EpochMetrics, StepMetrics
from augviz.report import RunHistory
from augviz.runconfig import RunConfig
from augviz.store import Store


class _GivenInterval(Comparison):
    """A comparison whose 95 % interval is given, to put its end exactly where the verdict's rule turns."""

    given: tuple[float, float] = (0.0, 0.0)

    @property
    def interval(self) -> tuple[float, float]:
        return self.given


@pytest.mark.parametrize(("interval", "verdict"), [((0.0, 0.2), "unclear"), ((-0.2, 0.0), "unclear"),
                                                   ((1e-9, 0.2), "helped"), ((-0.2, -1e-9), "hurt")])
def test_an_interval_that_ends_at_exactly_zero_is_unclear(interval, verdict):
    # Zero inside the closed interval (an end included): the evidence allows no difference at all.
    c = _GivenInterval(100, [0.6] * 3, [0.7] * 3, [0.1] * 3, chance=0.1)
    c.given = interval
    assert c.verdict == verdict


def history(classes: int) -> RunHistory:
    run = SimpleNamespace(id=1, layers=["a"], diverged_step=None, total_steps=2, config=RunConfig(epochs=2),
                          classes=[str(k) for k in range(classes)], status="finished")
    return RunHistory(run, [StepMetrics(1, 1, 2.0, [1.0], 1.0), StepMetrics(2, 2, 1.5, [0.5], 0.5)],
                      [EpochMetrics(1, 2.0, 0.3, 2.1, 0.3, 100.0), EpochMetrics(2, 1.5, 0.4, 1.6, 0.4, 100.0)], [])


@pytest.mark.parametrize("classes", [4, 10])
def test_the_chance_line_is_drawn_at_one_over_the_number_of_classes(classes):
    fig = charts.accuracy([history(classes)])
    (line,) = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert line.y0 == pytest.approx(1 / classes)
    assert f"chance ({100 / classes:.0f}%)" in [a.text for a in fig.layout.annotations]


def test_he_initialisation_scales_by_each_layers_fan_in():
    # Non-square layers tell fan-in from fan-out: the first takes 3·32·32 inputs to 64 units, the last 64 to 10.
    net = deepnet.DeepNet(NetSpec(depth=3, width=64, activation="relu", init="kaiming"), 3, 32, 10,
                          torch.Generator().manual_seed(0))
    first, last = net.first.weights.weight, net.last.weight
    assert float(first.std()) == pytest.approx(math.sqrt(2 / (3 * 32 * 32)), rel=0.05)
    assert float(last.std()) == pytest.approx(math.sqrt(2 / 64), rel=0.15)


def test_the_steps_csv_holds_each_layers_gradient_norm_in_its_own_column():
    run = SimpleNamespace(id=7, layers=["conv1", "conv2", "fc"], status="finished", config=RunConfig(),
                          name="")
    h = RunHistory(run, [StepMetrics(1, 1, 2.5, [0.1, 0.2, 0.3], 0.37), StepMetrics(2, 1, 2.0, [1.0, 2.0, 3.0], 3.7)],
                   [], [])
    rows = list(csv.DictReader(io.StringIO(report.steps_csv([h]))))
    assert [(r["step"], r["grad_norm[conv1]"], r["grad_norm[conv2]"], r["grad_norm[fc]"]) for r in rows] == [
        ("1", "0.1", "0.2", "0.3"), ("2", "1.0", "2.0", "3.0")]
    assert [r["loss"] for r in rows] == ["2.5", "2.0"] and [r["grad_norm_total"] for r in rows] == ["0.37", "3.7"]


def test_the_store_thins_steps_evenly_to_the_limit_and_keeps_the_last(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    run_id = store.create(RunConfig(), status="running")
    store.add_steps(run_id, [StepMetrics(s, 1, 1.0 / s, [float(s)], float(s)) for s in range(1, 101)])
    assert [m.step for m in store.steps(run_id, limit=10)] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert [m.step for m in store.steps(run_id, limit=30)] == [*range(4, 101, 4)]
    assert [m.step for m in store.steps(run_id, limit=7)][-1] == 100
    assert len(store.steps(run_id, limit=7)) <= 8  # at most the limit, and the last step
    assert len(store.steps(run_id)) == len(store.steps(run_id, limit=1000)) == 100


def oriented_png(orientation: int) -> bytes:
    """A 40×30 picture with no symmetry (a green quarter, a red bar, a blue dot) tagged with ``orientation``."""
    arr = np.zeros((30, 40, 3), np.uint8)
    arr[:15, :20] = (20, 200, 40)
    arr[25:, :] = (200, 20, 20)
    arr[5:8, 33:36] = (20, 20, 220)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="PNG", exif=exif)
    return buf.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_as_pil_applies_it(orientation):
    data = oriented_png(orientation)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    got = images.decode_upload(data, "oriented.png")
    assert got.size == expected.size
    assert np.array_equal(np.asarray(got), np.asarray(expected))
