"""docs/transforms.md is generated from the registry and the export tables and must match them."""

from augviz.docs import PAGE, coverage_table, transforms_page
from augviz.export import LIBRARIES


def test_the_committed_transforms_page_is_what_the_registry_and_tables_say():
    assert PAGE.read_text(encoding="utf-8") == transforms_page(), \
        "docs/transforms.md is stale: run `python -m augviz.docs`"


def coverage_row(name: str) -> str:
    return next(r for r in coverage_table().splitlines() if r.startswith(f"| `{name}` |"))


def test_the_coverage_table_tells_a_missing_line_from_a_missing_counterpart(monkeypatch):
    assert "| — |" in coverage_row("mixup")  # albumentations works on one image at a time: no counterpart
    monkeypatch.delitem(LIBRARIES["albumentations"].table, "mixup")
    assert "| not yet |" in coverage_row("mixup")
