"""What a stored run is: the ``Run`` record built from a row of ``runs``, and the statuses a run goes through.

A run's configuration stays text until something asks for it, and is then parsed once per distinct text
(cached), so listing thousands of runs each second costs a query, not a validation of every stored
configuration; a configuration this version cannot read makes that one run ``unreadable`` (with why), never the
whole list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from augviz.errors import ConfigError

if TYPE_CHECKING:
    from augviz.runconfig import RunConfig

STATUSES = ("queued", "running", "finished", "stopped", "failed", "diverged", "interrupted")
ENDED = ("finished", "stopped", "failed", "diverged", "interrupted")
ERROR_KINDS = ("config", "data", "disk full", "launch", "worker", "training", "stopped")


@lru_cache(maxsize=16384)
def parse_config(text: str) -> RunConfig | str:
    """A stored configuration, or why this version cannot read it (cached: the same text parses once)."""
    # Imported here, not at the top: reading runs needs no torch, and the configuration module brings it
    # (pipelines, models, datasets). tests/test_layering.py lists this as a deliberate deferred import.
    from augviz.runconfig import from_dict

    try:
        return from_dict(json.loads(text))
    except (ValueError, TypeError, RecursionError) as e:  # ConfigError and JSON errors are ValueErrors
        return str(e)[:300]


@dataclass
class Run:
    """One row of ``runs``, field by named column (``grp`` is ``group``, ``config`` is ``config_json``)."""

    id: int
    config_json: str
    label: str
    group: str
    status: str
    error: str | None
    created: float
    started: float | None
    ended: float | None
    pid: int | None
    stop_requested: float  # when Stop was asked for (0: not asked)
    total_steps: int | None
    layers: list[str]
    classes: list[str]
    diverged_step: int | None
    test_acc: float | None
    test_loss: float | None
    images_per_s: float | None
    wall_s: float | None
    note: str | None = None  # what a running run does before its first step ("downloading t10k-labels"); at
    # the end, what reading the data skipped
    progress: float | None = None  # that work's share done, 0–1 (None: unknown or nothing going on)
    error_kind: str | None = None  # one of ERROR_KINDS when the run failed
    session: str | None = None  # the visitor (or CLI) that queued it: the queue's caps and turns count by it
    host: str | None = None  # the machine of ``pid`` (None: recorded before hosts were, so this one)
    launch_key: str | None = None  # the fingerprint of the launch that queued it (see Store.create_many)

    @property
    def is_over(self) -> bool:
        """Whether the run has reached an end status (it will not change again)."""
        return self.status in ENDED

    @property
    def unreadable(self) -> str | None:
        """Why this version cannot read the run's stored configuration (e.g. written by a newer version), or
        None when it can."""
        parsed = parse_config(self.config_json)
        return parsed if isinstance(parsed, str) else None

    @property
    def config(self) -> RunConfig:
        """The run's configuration; ConfigError (naming the run and why) when this version cannot read it."""
        parsed = parse_config(self.config_json)
        if isinstance(parsed, str):
            raise ConfigError(f"run {self.id}", f"its stored configuration cannot be read by this version ({parsed})")
        return parsed


_RUN_COLUMNS = {"config": "config_json", "grp": "group"}
_RUN_FIELDS = frozenset(f.name for f in fields(Run))


def run_from_row(row: dict[str, Any]) -> Run:
    """A ``Run`` from a row of ``runs`` (columns this version does not know, from a newer one, are left out)."""
    values = {_RUN_COLUMNS.get(k, k): v for k, v in row.items()}
    values["layers"] = json.loads(values["layers"] or "[]")
    values["classes"] = json.loads(values["classes"] or "[]")
    values["stop_requested"] = float(values["stop_requested"] or 0)
    return Run(**{k: v for k, v in values.items() if k in _RUN_FIELDS})


def row_text(cfg: RunConfig) -> tuple[str, str, str]:
    """The configuration, label and group as text a database can store; a name that is not valid Unicode (a
    lone surrogate, from JSON's "\\ud800") is a ConfigError naming the field, not an encoder traceback."""
    for field, value in (("name", cfg.label()), ("group", cfg.group)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ConfigError(field, f"is not valid text (the character U+{ord(value[e.start]):04X} at "
                                     f"position {e.start} cannot be stored)") from None
    return cfg.to_json(), cfg.label(), cfg.group
