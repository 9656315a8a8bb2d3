"""The library works without the app: with only torch, numpy and Pillow, ``import augviz`` and its core modules
import, and a pipeline builds, runs and exports.

pyproject.toml keeps Streamlit and plotly behind the ``app`` extra (Ray and psycopg behind ``cluster``); this runs
the core in a child interpreter in which those packages, and the ones Streamlit brings along, cannot be imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_ONLY = ("streamlit", "plotly", "pandas", "pyarrow", "altair", "ray", "psycopg")
CORE = ("augviz", "augviz.pipeline", "augviz.transforms", "augviz.export", "augviz.serialize", "augviz.train")

CHILD = textwrap.dedent("""
    import importlib, sys
    from importlib.abc import MetaPathFinder

    BLOCKED = {blocked!r}

    class Absent(MetaPathFinder):
        # As if the packages were not installed: every import of them, or of a module inside them, fails.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    try:
        import streamlit  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("the blocker let streamlit through")

    for name in {core!r}:
        importlib.import_module(name)

    import torch
    from augviz import Pipeline, Step
    from augviz.export import to_code

    pipeline = Pipeline((Step("rotation", {{"degrees": (-15, 15)}}), Step("horizontal_flip", p=0.5),
                         Step("gaussian_noise", {{"sigma": (0.0, 0.05)}})))
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    out = pipeline(images, torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, 16, 16) and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert "A.Compose(" in to_code(pipeline, "albumentations")
    print("loaded:", sorted({{m.split(".")[0] for m in sys.modules}} & set(BLOCKED)))
""")


def run_core(blocked: tuple[str, ...]) -> subprocess.CompletedProcess:
    code = CHILD.format(blocked=blocked, core=CORE)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_core_imports_and_runs_without_streamlit_and_plotly():
    done = run_core(APP_ONLY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("loaded: []")


def test_the_child_would_notice_a_core_module_that_needs_the_app():
    """The check can fail: block numpy, which the core does need, and the child's import of augviz fails."""
    done = run_core((*APP_ONLY, "numpy"))
    assert done.returncode != 0 and "No module named 'numpy" in done.stderr


def name(requirement: str) -> str:
    """The distribution a requirement names: ``psycopg[binary]>=3.3`` names ``psycopg``."""
    return requirement.split(">")[0].split("=")[0].split("[")[0].strip().lower()


def test_the_library_asks_only_for_torch_numpy_and_pillow_and_the_app_for_the_rest():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(map(name, project["dependencies"])) == ["numpy", "pillow", "torch"]
    assert {"streamlit", "plotly"} <= set(map(name, project["optional-dependencies"]["app"]))
    assert {"ray", "psycopg"} <= set(map(name, project["optional-dependencies"]["cluster"]))
