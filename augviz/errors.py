"""Errors that the UI shows to people: each names the field at fault."""

from __future__ import annotations


class ConfigError(ValueError):
    """A pipeline document or step configuration is wrong; `path` names the field (e.g. ``steps[2].params.degrees``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class ImageError(ValueError):
    """An uploaded file cannot be used as an image; the message says why in plain words."""


class DataError(ValueError):
    """A dataset cannot be read, found or downloaded; the message says which file and why."""


class StoreError(RuntimeError):
    """The run database cannot be read or written (locked, read-only, missing); the message says which and why."""
