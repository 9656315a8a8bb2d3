"""Errors that the UI shows to people: each names the field at fault."""

from __future__ import annotations


class ConfigError(ValueError):
    """A pipeline document or step configuration is wrong; `path` names the field (e.g. ``steps[2].params.degrees``)."""

    MAX_PATH = 80  # characters: a message quotes what it was given, and what it was given may be a whole upload
    MAX_MESSAGE = 200

    def __init__(self, path: str, message: str) -> None:
        # A long path keeps its end: the field it names ("…/run.json: lr", "…params.degrees[1]") is what tells.
        self.path = path if len(path) <= self.MAX_PATH else "…" + path[-(self.MAX_PATH - 1):]
        self.message = _clip(message, self.MAX_MESSAGE)
        super().__init__(f"{self.path}: {self.message}" if self.path else self.message)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ImageError(ValueError):
    """An uploaded file cannot be used as an image; the message says why in plain words."""


class DataError(ValueError):
    """A dataset cannot be read, found or downloaded; the message says which file and why."""


class StoreError(RuntimeError):
    """The run database cannot be read or written (locked, read-only, missing); the message says which and why."""


class DiskFull(StoreError):
    """The disk holding the run database has no space left; the run that met it ends as failed with this cause."""


class SettingError(StoreError):
    """An environment setting for runs (``AUGVIZ_DB_TIMEOUT``, ``AUGVIZ_MAX_RUNS``, …) is not a usable value;
    the message names the variable, the value and what it accepts."""


class QueueFull(StoreError):
    """Queuing more runs would pass a cap on queued runs; nothing was queued. The message says which cap."""
