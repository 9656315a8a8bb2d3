"""Short captions in plain words for what a step drew for one image: ``↻ 13°``, ``shift +8 %, −2 %``, ``flipped``.

A rule per registry name, written for a room: a sign, a number rounded to what the eye can see, a unit. The
exact values are a different view (``preview.describe``). A row is one image's plain parameters; a name missing
from a row (a transform's parameters changed) falls back to the generic text instead of failing. An entry with no
rule here (a new transform) is captioned from its spec: its label and the values it drew for its range settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from augviz.transform import REGISTRY
from augviz.transforms.policies import OPS

Row = dict[str, Any]

MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash from the back of a room
NBSP = "\u00a0"


def signed(value: float, digits: int = 0) -> str:
    """``+8`` / ``−13``: a sign and a real minus, but a value that rounds to zero is a bare ``0`` (``−0`` and
    ``+0`` read as a direction there is none of)."""
    if round(value, digits) == 0:
        return f"{0:.{digits}f}"
    text = f"{value:+.{digits}f}"
    return text.replace("-", MINUS)


def percent(value: float) -> str:
    """A fraction of the picture as a signed whole percentage: ``+8 %``."""
    return f"{signed(100 * value)} %"


def _factor(word: str, key: str) -> Callable[[Row], str]:
    return lambda r: f"{word} ×{r[key]:.2f}"


def _affine(r: Row) -> str:
    parts = [f"shift {percent(r['tx'])}, {percent(r['ty'])}"]
    if abs(r["scale"] - 1) >= 0.005:
        parts.append(f"scale {r['scale']:.2f}")
    if abs(r["shear_x"]) >= 0.5 or abs(r["shear_y"]) >= 0.5:
        parts.append(f"shear {signed(r['shear_x'])}°, {signed(r['shear_y'])}°")
    return " · ".join(parts)


def _zoom(r: Row) -> str:
    x, y = r["zoom_x"], r["zoom_y"]
    return f"zoom {x:.2f}" if abs(x - y) < 0.005 else f"zoom {x:.2f} × {y:.2f}"


def _box(word: str) -> Callable[[Row], str]:
    def caption(r: Row) -> str:
        area = (r["bottom"] - r["top"]) * (r["right"] - r["left"])
        return f"{word} {100 * area:.0f} %"
    return caption


def _mixed(word: str) -> Callable[[Row], str]:
    # The weight is the image's own share; the partner's picture and share are shown beside the draw.
    return lambda r: f"{word} {100 * r['lam']:.0f} % own" if "lam" in r else word


def _turn(degrees: float) -> str:
    """The arrow turns the way the picture does: a positive angle is counter-clockwise (↺), a negative one
    clockwise (↻); the sign is in the arrow, so the number is the size of the turn. A turn that rounds to 0° has
    no arrow."""
    if round(abs(degrees)) == 0:
        return "0°"
    return f"{'↺' if degrees >= 0 else '↻'} {abs(degrees):.0f}°"


def _policy(r: Row) -> str:
    return " + ".join(OPS[i].label.replace("_", " ") for i in r["ops"])


CAPTIONS: dict[str, Callable[[Row], str]] = {
    "rotation": lambda r: _turn(r["angle"]),
    "affine": _affine,
    "zoom": _zoom,
    "horizontal_flip": lambda r: "flipped",
    "vertical_flip": lambda r: "upside down",
    "perspective": lambda r: f"perspective {r['distortion']:.2f}",
    "elastic": lambda r: f"elastic {r['alpha']:.0f} px",
    "random_resized_crop": lambda r: f"crop {100 * r['crop_w']:.0f} × {100 * r['crop_h']:.0f} %",
    "brightness": _factor("brightness", "factor"),
    "contrast": _factor("contrast", "factor"),
    "saturation": _factor("saturation", "factor"),
    "sharpness": _factor("sharpness", "factor"),
    "gamma": lambda r: f"gamma {r['gamma']:.2f}",
    "hue": lambda r: f"hue {signed(360 * r['shift'])}°",
    "gaussian_blur": lambda r: f"blur {r['sigma']:.1f} px",
    "posterize": lambda r: f"{r['bits']} bits",
    "solarize": lambda r: f"solarize above {r['threshold']:.2f}",
    "autocontrast": lambda r: "autocontrast",
    "equalize": lambda r: "equalized",
    "grayscale": lambda r: "grey",
    "invert": lambda r: "inverted",
    "gaussian_noise": lambda r: f"noise σ {r['sigma']:.2f}",
    "speckle": lambda r: f"speckle σ {r['sigma']:.2f}",
    "salt_and_pepper": lambda r: f"salt & pepper {100 * r['amount']:.0f} %",
    "snow": lambda r: f"snow {100 * r['amount']:.0f} % ±{r['magnitude']:.2f}",
    "random_erasing": _box("erased"),
    "cutmix": _box("cut in"),
    "mixup": _mixed("mixup"),
    "randaugment": _policy,
    "trivialaugment": _policy,
}


MIX_WORDS = {"cutmix": "cut in"}  # how the partner enters a draw, by mixing step ("mixed with" otherwise)


def mixed(name: str, own_parts: list[str], own_name: str, partner_parts: list[str], partner_name: str,
          own: float) -> list[str]:
    """A mixed draw's caption parts, led by the picture the draw mostly shows (``own`` is its own share, λ):
    ``["↻ 2°", "flipped", "mixed with Text 30 %"]`` when the draw is mostly itself, ``["Text 99 %", "↺ 3°",
    "mixed with Test card 1 %"]`` when it is mostly its partner, whose own steps then describe what is seen."""
    own_pct = round(100 * own)
    if own_pct >= 50:
        return [*own_parts, f"{MIX_WORDS.get(name, 'mixed with')} {partner_name} {100 - own_pct} %"]
    return [f"{partner_name} {100 - own_pct} %", *partner_parts, f"mixed with {own_name} {own_pct} %"]


def from_spec(name: str, row: Row) -> str:
    """A caption from the entry's spec, for an entry without a rule: ``JPEG quality 43``, its label then each
    range setting it drew, by name, to three significant digits (whole numbers as they are), with its unit."""
    t = REGISTRY[name]
    drawn = [f"{p.name.replace('_', ' ')} {row[p.name]:{'.3g' if p.kind == 'float' else 'd'}}{p.unit}"
             for p in t.params if p.is_range and isinstance(row.get(p.name), (int, float))]
    return " ".join([t.label, *drawn])


# A space inside a value: after a sign, arrow or number and before a number, unit or ×; and before "px" or "bits".
_INSIDE_VALUE = re.compile(r"(?<=[\d%°↺↻×+\u2212]) (?=[\d%°×+\u2212])|(?<=\d) (?=(?:px|bits)\b)")


def keep_values_whole(text: str) -> str:
    """``text`` with the spaces inside a value ("+6 %", "↻ 2°", "0.91 × 0.97", "1.5 px") made non-breaking, and
    every other space left as it is: a narrow tile breaks a caption between words, never inside a value, and
    never inside a word (which a value glued to its words, "mixed with Landscape 30 %", forced the browser to
    do: "Landscap / e")."""
    return _INSIDE_VALUE.sub(NBSP, text)


def caption(name: str, row: Row | None) -> str:
    """The short caption of one step's draw for one image; empty when the step skipped the image."""
    if row is None:
        return ""
    try:
        return CAPTIONS[name](row) if name in CAPTIONS else from_spec(name, row)
    except (KeyError, TypeError, IndexError):
        return name.replace("_", " ")
