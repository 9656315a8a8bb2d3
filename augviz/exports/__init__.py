"""Per-target export tables: how each registry entry reads as code in another library.

Each target module (``torchvision``, ``albumentations``, ``kornia``, ``keras``) holds one ``Target``: the
imports, the container that holds the steps, and ``table``, which maps every registry name to a function of
the step's settings and probability returning a ``Line``: the constructor call (None where the library has no
counterpart) and, apart from the code, a note saying what differs from augviz and why no closer call exists.
``augviz.export`` assembles a pipeline from these lines; a test checks every table covers the whole registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Line:
    """One step in a target library: ``code`` is an expression (None: not expressible), ``note`` says why or how
    it differs from the preview (empty when it does what the preview shows)."""

    code: str | None
    note: str = ""


Writer = Callable[[dict[str, Any], float], Line]


@dataclass(frozen=True)
class Target:
    """How to write a whole pipeline for one library."""

    name: str
    header: str  # imports and helpers the steps use
    open: str  # the container's opening, e.g. "A.Compose(["
    close: str
    usage: str  # comment lines: what the pipeline takes and how to call it
    table: dict[str, Writer] = field(default_factory=dict)
    empty: str = "    # (no step this library can express)"  # the body when no step is expressible


def missing(why: str) -> Writer:
    """The writer of an entry the library cannot express."""
    return lambda cfg, p: Line(None, why)


def fixed(template: str, note: str = "") -> Writer:
    """The writer of an entry whose only setting is p (``template`` has a ``{p}`` field)."""
    return lambda cfg, p: Line(template.format(p=p), note)


def varies(span: tuple[float, float]) -> bool:
    """Whether a range draws more than one value."""
    return span[0] != span[1]


def odd_kernel(sigma: float) -> int:
    """augviz's blur kernel width for ``sigma``: radius ⌈3σ⌉."""
    return 2 * math.ceil(3 * sigma) + 1


def by_name(*writers: Writer) -> dict[str, Writer]:
    """Table entries for writers named after the registry entry they write (``def rotation`` writes "rotation")."""
    return {w.__name__: w for w in writers}


def jitter(writer: Callable[[str], Writer]) -> dict[str, Writer]:
    """Table entries for brightness, contrast and saturation, written by ``writer(key)``."""
    return {key: writer(key) for key in ("brightness", "contrast", "saturation")}
