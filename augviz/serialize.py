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
MAX_DIGITS = 30  # no field takes a whole number this long; longer ones cannot even become a float
MAX_DEPTH = 16  # a pipeline or run document nests 5 deep; deeper is not one


class _LongNumber:
    """A whole number too long to use, kept as its digit count so that the check can name its field."""

    def __init__(self, digits: str) -> None:
        self.digits = len(digits.lstrip("-"))


def _parse_int(digits: str) -> int | _LongNumber:
    # Python refuses to convert more than 4,300 digits (ValueError) and a float cannot hold ~309 (OverflowError
    # later, in a check); either way the document is refused with the field named, in ``check_json``.
    return int(digits) if len(digits.lstrip("-")) <= MAX_DIGITS else _LongNumber(digits)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict; ConfigError for a key given twice (json.loads would silently keep the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError("", f"the key {key[:40]!r} is given twice in one object; keep one")
        out[key] = value
    return out


def parse_json(text: str | bytes) -> Any:
    """JSON text as Python values, or ConfigError; over-long whole numbers are kept for ``check_json`` to name,
    and a key given twice in one object is refused, named."""
    try:
        return json.loads(text, parse_int=_parse_int, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ConfigError("", "the file is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ConfigError("", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise ConfigError("", f"the JSON is nested too deeply (a document nests at most {MAX_DEPTH} levels)") \
            from None


def check_json(doc: Any, path: str = "") -> None:
    """Refuse, naming the field, what no check further down can handle: a whole number too long for a float
    (from ``parse_json``, or a Python int given directly) and nesting deeper than ``MAX_DEPTH``. Iterative, so
    any depth is safe."""
    todo: list[tuple[Any, str, int]] = [(doc, path, 0)]
    while todo:
        value, where, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(where[:80], f"nested too deeply (a document nests at most {MAX_DEPTH} levels)")
        if isinstance(value, _LongNumber) or (isinstance(value, int) and abs(value) >= 10**MAX_DIGITS):
            digits = value.digits if isinstance(value, _LongNumber) else len(str(abs(value)))
            raise ConfigError(where, f"a number of {digits} digits is far too large for this field")
        if isinstance(value, dict):
            todo += [(v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]


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
    check_json(doc)
    if not isinstance(doc, dict):
        raise ConfigError("", f"a pipeline document is a JSON object, got {_kind(doc)}")
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(str(key), f"unknown field (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if doc.get("format", FORMAT) != FORMAT:
        raise ConfigError("format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
    for key in ("version", "steps"):  # "got null" would read as if the document said null
        if key not in doc:
            raise ConfigError(key, f"missing field {key!r}")
    version = doc["version"]
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
    return from_dict(parse_json(text))


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
