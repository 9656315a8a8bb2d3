"""Declarative parameter specs: what a transform takes, its allowed range, default, step and help.

The same spec drives the sliders in the UI, validation of JSON documents, code export and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from augviz.errors import ConfigError

Kind = Literal["float", "int", "choice", "bool"]


@dataclass(frozen=True)
class Param:
    """One parameter of a transform.

    A *range* parameter (``is_range``) holds a ``[low, high]`` pair from which each image draws its own value;
    the other kinds hold one fixed value for every image.
    """

    name: str
    kind: Kind
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    is_range: bool = False
    unit: str = ""
    only_when: tuple[str, str] | None = None  # (other parameter, value): meaningful only then, so the UI hides it
    # The value at which this parameter does nothing (rotation 0°, zoom 1, noise 0); None for a parameter that is
    # no amount (a fill mode, a shape, a ratio). Strength (augviz.strength) scales the distance from it.
    identity: float | None = None

    @property
    def label(self) -> str:
        text = self.name.replace("_", " ")
        return f"{text} ({self.unit})" if self.unit else text

    def validate(self, value: Any, path: str) -> Any:
        """Return ``value`` in canonical form (floats, ints, tuples), or raise ConfigError naming ``path``."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(path, f"expected true or false, got {_show(value)}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ConfigError(path, f"expected one of {', '.join(self.choices)}, got {_show(value)}")
            return value
        if self.is_range:
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                fixed = (f" (for a fixed value: [{float(value)!r}, {float(value)!r}])"
                         if isinstance(value, (int, float)) and not isinstance(value, bool) else "")
                raise ConfigError(path, f"expected a pair [low, high], got {_show(value)}{fixed}")
            lo = self._number(value[0], f"{path}[0]")
            hi = self._number(value[1], f"{path}[1]")
            if lo > hi:
                raise ConfigError(path, f"low ({lo:g}) is above high ({hi:g})")
            return (lo, hi)
        return self._number(value, path)

    def _number(self, value: Any, path: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, got {_show(value)}")
        if self.kind == "int":
            if float(value) != int(value):
                raise ConfigError(path, f"expected a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(path, f"expected a finite number, got {value!r}")
        assert self.low is not None and self.high is not None
        if not self.low <= value <= self.high:
            raise ConfigError(path, f"{value:g} is outside the allowed range [{self.low:g}, {self.high:g}]")
        return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def span(name: str, low: float, high: float, default: tuple[float, float], help: str, step: float = 0.01,
         unit: str = "", identity: float | None = None) -> Param:
    """A float range: each image draws uniformly from ``[default[0], default[1]]``; ``identity`` is the value at
    which it does nothing."""
    return Param(name, "float", tuple(default), help, low, high, step, is_range=True, unit=unit, identity=identity)


def int_span(name: str, low: int, high: int, default: tuple[int, int], help: str,
             identity: int | None = None) -> Param:
    """An integer range: each image draws uniformly from the whole numbers in it."""
    return Param(name, "int", tuple(default), help, low, high, 1, is_range=True, identity=identity)


def number(name: str, low: float, high: float, default: float, help: str, step: float = 0.01,
           unit: str = "", only_when: tuple[str, str] | None = None) -> Param:
    """A fixed float setting."""
    return Param(name, "float", default, help, low, high, step, unit=unit, only_when=only_when)


def integer(name: str, low: int, high: int, default: int, help: str, identity: int | None = None) -> Param:
    """A fixed whole-number setting."""
    return Param(name, "int", default, help, low, high, 1, identity=identity)


def choice(name: str, choices: tuple[str, ...], default: str, help: str) -> Param:
    """One of a few named options."""
    return Param(name, "choice", default, help, choices=choices)


def flag(name: str, default: bool, help: str) -> Param:
    """An on/off setting."""
    return Param(name, "bool", default, help)


FILL_PARAMS = (
    choice("fill", ("nearest", "reflect", "constant"), "nearest",
           "What fills pixels that come from outside the image: the nearest edge pixel (Keras' default), "
           "a mirror image, or a constant grey level."),
    number("fill_value", 0.0, 1.0, 0.0, "The grey level used when fill is constant (0 black, 1 white).",
           only_when=("fill", "constant")),
)
