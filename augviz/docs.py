"""Documentation generated from the registry: the README's table of transforms.

``python -m augviz.docs`` prints it; a test keeps the README's copy equal to it.
"""

from __future__ import annotations

from augviz import transforms as _register_all  # noqa: F401  (fills the registry)
from augviz.spec import Param
from augviz.transform import CATEGORIES, REGISTRY

START = "<!-- transforms:start -->"
END = "<!-- transforms:end -->"


def _param(p: Param) -> str:
    if p.kind == "choice":
        return f"`{p.name}` ({' / '.join(p.choices)})"
    if p.kind == "bool":
        return f"`{p.name}` (on/off)"
    default = f"{p.default[0]:g} to {p.default[1]:g}" if p.is_range else f"{p.default:g}"
    return f"`{p.name}` {default}{p.unit}"


def transforms_table() -> str:
    """A Markdown table: every registry entry with its category, parameters, default p and description."""
    lines = ["| transform | kind | parameters (defaults) | p | what it does |", "|---|---|---|---|---|"]
    for name in sorted(REGISTRY, key=lambda n: (CATEGORIES.index(REGISTRY[n].category), n)):
        t = REGISTRY[name]
        params = ", ".join(_param(p) for p in t.params if p.name != "fill_value") or "—"
        lines.append(f"| `{name}` | {t.category} | {params} | {t.default_p:g} | {t.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(transforms_table())
