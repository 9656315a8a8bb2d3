"""augviz: batched, replayable image augmentation, and the library behind the augviz dashboard.

The names below load their modules (and PyTorch) on first use, so that a part that needs no torch, such as the
run store (``augviz.store``), imports without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from augviz.pipeline import Draw, Pipeline, Result, Step
    from augviz.transform import REGISTRY, Transform

__all__ = ["REGISTRY", "Draw", "Pipeline", "Result", "Step", "Transform"]


def __getattr__(name: str) -> Any:
    """``augviz.Pipeline`` and the other names of ``__all__``, imported when first asked for."""
    if name in __all__:
        # The pipeline module holds or imports every one of them, and fills the registry with every transform.
        from augviz import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'augviz' has no attribute {name!r}")
