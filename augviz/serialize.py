"""Pipeline documents: versioned JSON in and out, with errors that name the field at fault."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from augviz.errors import ConfigError
from augviz.pipeline import Pipeline, Step
from augviz.transform import REGISTRY

FORMAT = "augviz.pipeline"
VERSION = 1
MAX_STEPS = 32
MAX_SEED = 2**31 - 1
_STEP_KEYS = {"transform", "enabled", "p", "params"}
_TOP_KEYS = {"format", "version", "seed", "steps"}


def to_dict(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline as a JSON-ready document (ranges become two-element lists)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "seed": pipeline.seed,
        "steps": [
            {"transform": s.name, "enabled": s.enabled, "p": s.p,
             "params": {k: list(v) if isinstance(v, tuple) else v for k, v in s.params.items()}}
            for s in pipeline.steps
        ],
    }


def dumps(pipeline: Pipeline, indent: int | None = 2) -> str:
    """JSON text; with an indent, each [low, high] pair stays on one line."""
    text = json.dumps(to_dict(pipeline), indent=indent)
    if indent is None:
        return text
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                  text)


def from_dict(doc: Any) -> Pipeline:
    """Validate a document and build the pipeline; raises ConfigError naming the first bad field."""
    if not isinstance(doc, dict):
        raise ConfigError("", f"a pipeline document is a JSON object, got {_kind(doc)}")
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(str(key), f"unknown field (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if doc.get("format", FORMAT) != FORMAT:
        raise ConfigError("format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError("version", f"expected a whole number, got {_kind(version)}")
    if version > VERSION:
        raise ConfigError("version", f"this document is version {version}, newer than this augviz reads "
                                     f"({VERSION}); upgrade augviz")
    if version < 1:
        raise ConfigError("version", f"unknown version {version}")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError("seed", f"expected a whole number from 0 to {MAX_SEED}, got {seed!r}"[:120])
    steps = doc.get("steps")
    if not isinstance(steps, list):
        raise ConfigError("steps", f"expected a list of steps, got {_kind(steps)}")
    if len(steps) > MAX_STEPS:
        raise ConfigError("steps", f"at most {MAX_STEPS} steps, got {len(steps)}")
    return Pipeline(tuple(step_from_dict(s, f"steps[{i}]") for i, s in enumerate(steps)), seed)


def step_from_dict(doc: Any, path: str) -> Step:
    """Validate one step document."""
    if not isinstance(doc, dict):
        raise ConfigError(path, f"expected an object, got {_kind(doc)}")
    for key in doc:
        if key not in _STEP_KEYS:
            raise ConfigError(f"{path}.{key}", f"unknown field (allowed: {', '.join(sorted(_STEP_KEYS))})")
    name = doc.get("transform")
    if not isinstance(name, str):
        raise ConfigError(f"{path}.transform", f"expected a transform name, got {_kind(name)}")
    if name not in REGISTRY:
        raise ConfigError(f"{path}.transform", f"unknown transform {name[:40]!r}")
    t = REGISTRY[name]
    p = doc.get("p", t.default_p)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or not 0 <= p <= 1:
        raise ConfigError(f"{path}.p", f"expected a probability from 0 to 1, got {p!r}"[:120])
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}.enabled", f"expected true or false, got {_kind(enabled)}")
    params = t.validate(doc.get("params", {}), f"{path}.params")
    return Step(name, params, float(p), enabled)


def loads(text: str | bytes) -> Pipeline:
    """Parse and validate a JSON document."""
    try:
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise ConfigError("", "the file is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ConfigError("", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise ConfigError("", "the JSON is nested too deeply") from None
    return from_dict(doc)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
