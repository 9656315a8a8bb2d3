"""The transform contract and the one registry of transforms.

A transform is a declarative parameter spec plus two pure steps, after torchvision.transforms.v2's
``make_params``/``transform`` split and kornia's batched parameters:

* ``sample(cfg, n, g)`` draws every random value for a batch of ``n`` images from an explicit
  ``torch.Generator`` and returns plain data: a dict of tensors whose first dimension is ``n``;
* ``kernel(x, cfg, params)`` applies those values to a float batch ``x`` (B×C×H×W in [0, 1]).

The pipeline draws, for each image, whether the step applies at all (probability ``p``) and calls
``apply(x, cfg, params, applied)``, which by default hands the kernel only the images the step applies to, so
``p = 0`` is the identity by construction. The pipeline passes the batch size to ``sample``, so a transform that
draws nothing random returns no parameters. Every step follows this one contract: a mixing step overrides
``apply`` (its images depend on their partners in the batch) and reports how labels mix through
``label_weights`` and ``mix_labels``, which are no-ops for every other step.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from augviz.errors import ConfigError
from augviz.functional.warp import Warp, resample
from augviz.spec import Param

Params = dict[str, torch.Tensor]

GEOMETRIC = "geometric"
PHOTOMETRIC = "photometric"
NOISE = "noise"
OCCLUSION = "occlusion"
MIXING = "mixing"
POLICY = "policy"
CATEGORIES = (GEOMETRIC, PHOTOMETRIC, NOISE, OCCLUSION, MIXING, POLICY)


class Transform:
    """Base class of every registry entry. Subclasses set the class attributes and implement the steps."""

    name: ClassVar[str]
    label: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str]
    formula: ClassVar[str]  # LaTeX, shown in the UI to say what the step computes
    params: ClassVar[tuple[Param, ...]] = ()
    default_p: ClassVar[float] = 1.0
    # Cost per pixel relative to a plain step (a resample or a colour change), which the preview's budget counts;
    # augviz.preview.STEP_COST holds the measured figures of the older entries.
    cost: ClassVar[float] = 1.0

    def defaults(self) -> dict[str, Any]:
        """The default setting of every parameter."""
        return {p.name: p.default for p in self.params}

    def validate(self, cfg: Any, path: str) -> dict[str, Any]:
        """Return a complete, canonical settings dict, or raise ConfigError naming the bad field."""
        if not isinstance(cfg, dict):
            raise ConfigError(path, f"expected an object of parameters, got {type(cfg).__name__}")
        known = {p.name for p in self.params}
        for key in cfg:
            if key not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise ConfigError(f"{path}.{key}", f"unknown parameter of {self.name} (allowed: {allowed})")
        out = {}
        for p in self.params:
            out[p.name] = p.validate(cfg[p.name], f"{path}.{p.name}") if p.name in cfg else p.default
        return out

    def sample(self, cfg: dict[str, Any], n: int, g: torch.Generator) -> Params:
        """Draw the random values for ``n`` images. Transforms with nothing random return an empty dict."""
        return {}

    def kernel(self, x: torch.Tensor, cfg: dict[str, Any], params: Params) -> torch.Tensor:
        """Apply the drawn values to every image of ``x`` (only images the step applies to reach here).

        Ownership rule: ``x`` belongs to the kernel, which may overwrite it. It returns ``x`` itself or a tensor
        of its own, never a view of ``x``: the pipeline tells by identity whether the batch it holds (possibly
        its scratch buffer, see ``augviz.functional.scratch``) came back. The pipeline only ever hands a kernel
        a batch that no caller can see (a copy where needed), so kernels work in place where that is cheaper: a
        batch-sized result that is not allocated afresh saves the page faults of new memory, which cost a CPU as
        much as the arithmetic. Call a kernel directly with a tensor you do not mind losing.
        """
        raise NotImplementedError

    def apply(self, x: torch.Tensor, cfg: dict[str, Any], params: Params, applied: torch.Tensor) -> torch.Tensor:
        """The step on a batch whose images ``applied`` (a B-bool) take part; the others pass through untouched.

        ``x`` is owned as in ``kernel``. This default runs the kernel on the applied images alone; a step whose
        images depend on each other (mixing) overrides it.
        """
        if not bool(applied.any()):
            return x
        if bool(applied.all()):
            return self.kernel(x, cfg, params)
        idx = applied.nonzero().squeeze(1)
        dev_idx = idx.to(x.device)
        x[dev_idx] = self.kernel(x[dev_idx], cfg, take(params, idx))  # x[idx] is a copy: the kernel's to overwrite
        return x

    def label_weights(self, cfg: dict[str, Any], params: Params, applied: torch.Tensor, height: int,
                      width: int) -> torch.Tensor | None:
        """Each image's share λ of its own label after this step, or None when the step leaves labels alone."""
        return None

    def mix_labels(self, labels: torch.Tensor, params: Params, weights: torch.Tensor) -> torch.Tensor:
        """The labels (B×K, one-hot or soft) after this step, given ``label_weights``' λ."""
        return labels


class GeometricTransform(Transform):
    """A transform that moves pixels. Its ``matrix`` lets the pipeline fuse consecutive steps into one resample."""

    category = GEOMETRIC

    def matrix(self, cfg: dict[str, Any], params: Params, height: int, width: int) -> torch.Tensor | None:
        """Forward 3×3 map (B×3×3, or 1×3×3 shared by every image) from input to output pixel coordinates,
        origin at the image centre, y down.

        Returns None for a warp that no matrix expresses (elastic); such a transform gives ``displacement``.
        """
        return None

    def displacement(self, cfg: dict[str, Any], params: Params, height: int, width: int) -> torch.Tensor:
        """Per-pixel offset (B×H×W×2, in pixels) from an output pixel to where it samples the input."""
        raise NotImplementedError

    def then(self, warp: Warp, cfg: dict[str, Any], params: Params, index: torch.Tensor | None = None) -> Warp:
        """``warp`` followed by this step on the images at ``index`` (all images when None)."""
        m = self.matrix(cfg, params, warp.height, warp.width)
        if m is not None:
            return warp.then_matrix(m, index)
        return warp.then_field(self.displacement(cfg, params, warp.height, warp.width), index)

    def kernel(self, x: torch.Tensor, cfg: dict[str, Any], params: Params) -> torch.Tensor:
        warp = self.then(Warp.identity(x.shape[0], x.shape[-2], x.shape[-1], x.device), cfg, params)
        return resample(x, warp, cfg.get("fill", "nearest"), cfg.get("fill_value", 0.0))


REGISTRY: dict[str, Transform] = {}


def register(cls: type[Transform]) -> type[Transform]:
    """Class decorator: put one instance of ``cls`` in the registry under ``cls.name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"transform {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> Transform:
    """The registry entry called ``name``, or KeyError listing what exists."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown transform {name!r}") from None


def uniform(g: torch.Generator, n: int, span: tuple[float, float]) -> torch.Tensor:
    """``n`` floats drawn uniformly from ``[span[0], span[1]]`` (exactly ``span[0]`` when the range is a point)."""
    lo, hi = span
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64).float()


def randint(g: torch.Generator, n: int, span: tuple[int, int]) -> torch.Tensor:
    """``n`` whole numbers drawn uniformly from ``span[0]..span[1]`` inclusive."""
    return torch.randint(int(span[0]), int(span[1]) + 1, (n,), generator=g)


def box(g: torch.Generator, n: int, area: tuple[float, float], ratio: tuple[float, float]
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` boxes in the unit square, of area uniform in ``area`` and aspect ratio log-uniform in ``ratio``: the
    side the ratio divides (√(area·ratio)) and the other side (√(area / ratio)), each at most 1, then where each
    side starts, uniform over the places the box fits."""
    a = uniform(g, n, area)
    lo, hi = (math.log(r) for r in ratio)
    r = torch.exp(uniform(g, n, (lo, hi)))
    first, second = torch.sqrt(a * r).clamp(max=1.0), torch.sqrt(a / r).clamp(max=1.0)
    return first, second, torch.rand(n, generator=g) * (1 - first), torch.rand(n, generator=g) * (1 - second)


def seeds(g: torch.Generator, n: int) -> torch.Tensor:
    """``n`` per-image seeds for kernels that draw many numbers (noise fields): small to store, exact to replay."""
    return torch.randint(0, 2**31 - 1, (n,), generator=g, dtype=torch.int64)


def take(params: Params, index: torch.Tensor) -> Params:
    """The parameters of the images at ``index`` (each tensor's first dimension is the image)."""
    return {k: v[index] for k, v in params.items()}


def to_plain(params: Params) -> list[dict[str, Any]]:
    """Per-image plain Python values, for captions, JSON and tests."""
    n = next(iter(params.values())).shape[0] if params else 0
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, value in params.items():
        for i, v in enumerate(value.tolist()):
            rows[i][key] = v
    return rows
