"""Page state in a URL query string, so a link reproduces exactly what the sender saw."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Any

from augviz import serialize
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline

MAX_PARAM_LENGTH = 8192


@dataclass(frozen=True)
class SharedState:
    """What a link carries: the pipeline (with its seed) and the name of the built-in image shown."""

    pipeline: Pipeline
    image: str


def encode(state: SharedState) -> dict[str, str]:
    """Query parameters for ``state``: the pipeline as compressed, URL-safe JSON."""
    return {"p": pack(serialize.to_dict(state.pipeline)), "img": state.image}


def pack(doc: dict) -> str:
    """A pipeline document as the value of ``p=``: compressed, URL-safe JSON."""
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def unpack(value: str, what: str = "link") -> Any:
    """The document in a ``pack``-ed query value; ConfigError (naming ``what``) when it is damaged."""
    if len(value) > MAX_PARAM_LENGTH:
        raise ConfigError(what, "the value in the link is too long")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), 1 << 20)
    except (ValueError, zlib.error):
        raise ConfigError(what, "the value in the link is damaged (not valid compressed data)") from None
    return serialize.parse_json(raw)


def decode_pipeline(value: str) -> Pipeline:
    """The pipeline in a ``p=`` query value; ConfigError when the link is damaged or wrong."""
    if len(value) > MAX_PARAM_LENGTH:
        raise ConfigError("link", "the pipeline in the link is too long")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), 1 << 20)
    except (ValueError, zlib.error):
        raise ConfigError("link", "the pipeline in the link is damaged (not valid compressed data)") from None
    try:
        return serialize.loads(raw)
    except ConfigError as e:
        raise ConfigError(f"link: {e.path}" if e.path else "link", e.message) from None
    except (ValueError, OverflowError, RecursionError, TypeError):
        # serialize.loads names the field for what it checks; anything it lets through must not crash the page
        raise ConfigError("link", "the pipeline in the link holds values augviz cannot read") from None
