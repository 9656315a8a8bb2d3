"""Exported code runs in each target library and produces images of the right shape."""

from __future__ import annotations

import ast
import importlib.util
import warnings

import pytest
import torch

from augviz import REGISTRY, Pipeline, Step
from augviz.export import LIBRARIES, TARGETS, line, to_code
from augviz.transform import MIXING
from tests.export_runner import build, run

SEED = Pipeline((Step("rotation"), Step("affine"), Step("zoom"), Step("horizontal_flip", {}, 0.5)))


def run_code(code: str, target: str, size=(32, 40)) -> tuple[int, ...]:
    """The shape of what the exported pipeline makes of a batch of four (one image for torchvision)."""
    pipe = build(code, target)
    if target == "torchvision":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(pipe(torch.randint(0, 255, (3, *size), dtype=torch.uint8)).shape)
    if target == "augviz":
        return tuple(pipe(torch.rand(4, 3, *size)).shape)
    return tuple(run(pipe, target, torch.rand(4, 3, *size)).shape)


@pytest.mark.parametrize("target", sorted(LIBRARIES))
def test_every_target_table_names_only_registry_entries(target):
    # A table may lack a new entry (it is then left out, saying so); it may not name one that does not exist.
    assert set(LIBRARIES[target].table) <= set(REGISTRY)


@pytest.mark.parametrize("target", ["albumentations", "kornia", "keras"])
def test_an_entry_a_table_lacks_is_left_out_with_a_note_for_the_user_and_the_code_still_runs(target, monkeypatch):
    monkeypatch.delitem(LIBRARIES[target].table, "invert")
    code = to_code(Pipeline((Step("rotation"), Step("invert"))), target, size=(32, 40))
    assert ("# invert: left out, this export has no equivalent line for it yet; the rest runs without it"
            in code)
    assert "augviz/exports" not in code  # a note for the user, not for augviz's developers
    assert exported_steps(code) == 1
    assert run_code(code, target) == (4, 3, 32, 40)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("target", sorted(LIBRARIES))
def test_every_entry_exports_or_says_why_not(name, target):
    out = line(Step.default(name), target)
    assert out.code is not None or out.note, f"{name} in {target}: no code and no reason"
    assert out.code is None or "#" not in out.code, "notes travel apart from the code"


def exported_steps(code: str) -> int:
    """How many steps the exported ``pipeline = Compose([...])`` (or ``AugmentationSequential(...)``) holds."""
    assign = next(n for n in ast.parse(code).body if isinstance(n, ast.Assign) and n.targets[0].id == "pipeline")
    call = assign.value
    return len(call.args[0].elts) if call.args and isinstance(call.args[0], ast.List) else len(call.args)


@pytest.mark.parametrize("fill", ["constant", "nearest"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("target", [t for t in TARGETS if t != "augviz"])
def test_exported_code_parses_with_one_call_per_expressible_step(name, target, fill):
    # Runs without the target library, so a comment that swallows a bracket fails here, not only where the
    # library is installed.
    fills = {p.name: p.choices for p in REGISTRY[name].params}.get("fill", ())
    params = {"fill": fill} if fill in fills else {}  # random_erasing's fill is constant or noise
    pipe = Pipeline((Step(name, params), Step("invert")))
    code = to_code(pipe, target, size=(32, 40))
    expressible = sum(line(s, target).code is not None for s in pipe.steps)
    # torchvision and Keras refuse an empty container, so an Identity stands in when nothing is expressible.
    assert exported_steps(code) == max(expressible, 1 if target in ("torchvision", "keras") else 0)


def test_an_export_with_nothing_expressible_still_builds_a_pipeline():
    code = to_code(Pipeline((Step("speckle"),)), "torchvision")
    assert "v2.Identity()" in code and exported_steps(code) == 1
    assert exported_steps(to_code(Pipeline((Step("speckle"),)), "kornia")) == 0


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("target", ["augviz", "albumentations", "kornia", "keras"])
def test_exported_code_runs_and_keeps_the_shape(name, target):
    code = to_code(Pipeline((Step.default(name),)), target, size=(32, 40))
    assert run_code(code, target) == (4, 3, 32, 40)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed")
@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if REGISTRY[n].category != MIXING))
def test_torchvision_export_runs(name):
    code = to_code(Pipeline((Step.default(name),)), "torchvision", size=(32, 40))
    assert run_code(code, "torchvision") == (3, 32, 40)


def test_augviz_export_rebuilds_the_same_pipeline():
    ns: dict = {}
    exec(to_code(SEED, "augviz"), ns)
    assert ns["pipeline"] == SEED


def test_steps_a_library_lacks_are_listed_as_comments():
    code = to_code(Pipeline((Step("rotation"), Step("mixup"))), "albumentations")
    assert "# mixup: left out, albumentations works on one image at a time" in code
    assert "A.Rotate(" in code


def test_disabled_steps_are_not_exported():
    code = to_code(Pipeline((Step("rotation", enabled=False), Step("invert"))), "kornia")
    assert "RandomRotation" not in code and "RandomInvert" in code
