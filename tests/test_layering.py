"""The library reads top-down: every module imports the augviz modules it needs at its top, and those imports
form no cycle. A function-local import of an augviz module is how a cycle gets hidden, so none is allowed except
the few listed in ``DEFERRED``, each with why; the cycle check counts those as imports too, so the graph it walks
holds every import there is. The one import that no statement names is the transforms package's: it imports
every module in it (a new transform is one new file), so the graph adds those edges itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from augviz import transforms

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "augviz"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TRANSFORMS = "augviz.transforms"  # imports each of its modules by discovery, not by name

# (importer, imported): the imports deliberately made inside a function, so that reading runs needs no torch.
DEFERRED = {
    ("augviz", "augviz.pipeline"): "``augviz.Pipeline``, ``augviz.REGISTRY``… on first use: ``import augviz.store`` "
                                   "loads no torch",
    ("augviz.store.records", "augviz.runconfig"): "a run's configuration is parsed when asked for: no torch",
}


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module a ``from … import`` reads from, with relative imports resolved against ``importer``."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def imported(node: ast.Import | ast.ImportFrom, importer: str, known: set[str], is_package: bool) -> list[str]:
    """The augviz modules an import statement names (``from augviz import worker`` names ``augviz.worker``;
    ``from augviz.data import home`` names ``augviz.data``, where ``home`` is defined)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    source = _absolute(node, importer, is_package)
    if not (source == "augviz" or source.startswith("augviz.")):
        return []
    out = []
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        out.append(sub if sub in known else source)
    return [m for m in dict.fromkeys(out) if m in known]


def imports(source: str, importer: str, known: set[str], is_package: bool = False
            ) -> tuple[set[str], list[tuple[int, str]]]:
    """A module's module-level augviz imports, and its imports of augviz modules inside a function or class
    body (line, module)."""
    tree = ast.parse(source)
    top: set[str] = set()
    local: list[tuple[int, str]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                names = imported(child, importer, known, is_package)
                if nested:
                    local.extend((child.lineno, m) for m in names)
                else:
                    top.update(names)
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
            visit(child, inner)

    visit(tree, False)
    return top, local


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (as the list of modules around it, first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return [*path[path.index(n):], n]
            if n not in state and (found := walk(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := walk(m)):
            return found
    return None


def library_imports() -> tuple[dict[str, set[str]], list[str]]:
    """Every augviz module's imports of augviz modules (the deferred ones included), and the function-local
    imports that ``DEFERRED`` does not list."""
    graph: dict[str, set[str]] = {}
    local: list[str] = []
    for name, path in MODULES.items():
        top, nested = imports(path.read_text(encoding="utf-8"), name, set(MODULES), path.name == "__init__.py")
        graph[name] = (top | {m for _, m in nested}) - {name}
        local += [f"{path.relative_to(ROOT)}:{line} imports {m} inside a function" for line, m in nested
                  if (name, m) not in DEFERRED]
    graph[TRANSFORMS] |= {m for m in MODULES if m.startswith(f"{TRANSFORMS}.")}
    return graph, local


def test_no_module_imports_an_augviz_module_inside_a_function():
    _, local = library_imports()
    assert local == []


def test_the_module_level_imports_form_no_cycle():
    graph, _ = library_imports()
    assert cycle(graph) is None


def test_the_checks_see_what_they_look_for():
    """The two checks above catch a hidden import and a cycle (so their passing means something)."""
    known = {"augviz", "augviz.data", "augviz.worker", "augviz.models", "augviz.gradlab"}
    src = ("import json\nfrom augviz import worker\n\ndef f():\n    import os\n"
           "    from augviz.data import home\n    from . import gradlab\n")
    top, local = imports(src, "augviz.models", known)
    assert top == {"augviz.worker"}
    assert local == [(6, "augviz.data"), (7, "augviz.gradlab")]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_holds_the_imports_it_reads():
    """Known module-level imports appear in the graph (the parser does not silently see nothing)."""
    graph, _ = library_imports()
    assert "augviz.runconfig" in graph["augviz.store.records"]  # deferred, and still counted
    assert {"augviz.settings", "augviz.store.sqlite"} <= graph["augviz.store.runs"]
    assert {"augviz.pipeline", "augviz.transform"} <= graph["augviz"]
    assert "augviz.transforms" in graph["augviz.pipeline"]  # ``from augviz import transforms``: the subpackage
    assert "augviz.transforms.geometric" in graph["augviz.transforms"]  # found by discovery, not by name


def test_the_transforms_package_imports_every_module_in_it():
    """The edges the graph adds for the transforms package are the imports it makes."""
    discovered = {m.__name__ for m in transforms.MODULES}
    assert discovered == {m for m in MODULES if m.startswith(f"{TRANSFORMS}.")}


def test_the_run_store_and_the_metric_records_load_without_torch():
    """The pages' polling and a database-only process read runs without PyTorch (a configuration is parsed, and
    torch loaded, only when a run's ``config`` is asked for)."""
    probe = ("import sys, augviz.store, augviz.metrics\n"
             "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]\n"
             "assert 'augviz.runconfig' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_the_package_names_still_load_on_first_use():
    import augviz

    assert augviz.Pipeline.__name__ == "Pipeline" and "rotation" in augviz.REGISTRY
    with pytest.raises(AttributeError, match="no attribute 'Pipelin'"):
        augviz.Pipelin  # noqa: B018 (the lookup is the point)
