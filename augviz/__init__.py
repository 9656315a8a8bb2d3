"""augviz: batched, replayable image augmentation, and the library behind the augviz dashboard."""

from augviz.pipeline import Draw, Pipeline, Result, Step
from augviz.transform import REGISTRY, Transform

__all__ = ["REGISTRY", "Draw", "Pipeline", "Result", "Step", "Transform"]
