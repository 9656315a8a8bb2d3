"""The gradient lab: deep plain networks built to show vanishing and exploding gradients, their fixes, and an
analysis at initialisation (one forward and backward pass) of what happens in every layer."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from augviz.errors import ConfigError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu")
INITS = ("default", "xavier", "kaiming", "normal", "orthogonal")
KINDS = ("mlp", "cnn")


@dataclass(frozen=True)
class NetSpec:
    """A deep plain network: ``depth`` weight layers of ``width`` units (MLP) or channels (CNN)."""

    kind: str = "mlp"
    depth: int = 20
    width: int = 64
    activation: str = "sigmoid"
    init: str = "default"
    init_std: float = 0.05  # for init "normal"
    batchnorm: bool = False
    residual: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_LIMITS = {"depth": (2, 50), "width": (4, 512), "init_std": (1e-4, 10.0)}
_CHOICES = {"kind": KINDS, "activation": ACTIVATIONS, "init": INITS}


def spec_from_dict(doc: Any, path: str = "net") -> NetSpec:
    """Validate a network document; ConfigError names the bad field."""
    if not isinstance(doc, dict):
        raise ConfigError(path, "expected an object")
    known = {f.name for f in fields(NetSpec)}
    for key in doc:
        if key not in known:
            raise ConfigError(f"{path}.{key}", f"unknown field (allowed: {', '.join(sorted(known))})")
    out = NetSpec()
    for key, value in doc.items():
        where = f"{path}.{key}"
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ConfigError(where, f"expected one of {', '.join(_CHOICES[key])}, got {str(value)[:30]!r}")
        if key in ("batchnorm", "residual") and not isinstance(value, bool):
            raise ConfigError(where, "expected true or false")
        if key in _LIMITS:
            lo, hi = _LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ConfigError(where, f"expected a number in [{lo:g}, {hi:g}], got {str(value)[:30]!r}")
            if key != "init_std" and int(value) != value:
                raise ConfigError(where, "expected a whole number")
            value = float(value) if key == "init_std" else int(value)
        out = replace(out, **{key: value})
    return out


def activation(name: str) -> nn.Module:
    return {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.01),
            "gelu": nn.GELU()}[name]


class Layer(nn.Module):
    """One hidden layer: weights, optional batch norm, activation, optional identity shortcut."""

    def __init__(self, weights: nn.Module, norm: nn.Module | None, act: nn.Module, residual: bool) -> None:
        super().__init__()
        self.weights, self.norm, self.act, self.residual = weights, norm, act, residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.weights(x)
        if self.norm is not None:
            y = self.norm(y)
        y = self.act(y)
        return x + y if self.residual and y.shape == x.shape else y


class DeepNet(nn.Module):
    """``depth`` weight layers: an input layer, ``depth − 2`` hidden layers and an output layer."""

    def __init__(self, spec: NetSpec, channels: int, size: int, classes: int) -> None:
        super().__init__()
        self.spec = spec
        w = spec.width
        hidden = []
        if spec.kind == "mlp":
            first: nn.Module = nn.Linear(channels * size * size, w)
            for _ in range(spec.depth - 2):
                hidden.append(Layer(nn.Linear(w, w), nn.BatchNorm1d(w) if spec.batchnorm else None,
                                    activation(spec.activation), spec.residual))
        else:
            first = nn.Conv2d(channels, w, 3, stride=2, padding=1)  # halve the size once: deep nets stay cheap
            for _ in range(spec.depth - 2):
                hidden.append(Layer(nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w) if spec.batchnorm else None,
                                    activation(spec.activation), spec.residual))
        self.first = Layer(first, None, activation(spec.activation), residual=False)
        self.hidden = nn.ModuleList(hidden)
        self.last = nn.Linear(w, classes)
        initialise(self, spec)

    def layer_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Per weight layer, its parameters with its batch norm's: the unit the lab reports on."""
        groups = [("layer 1", list(self.first.parameters()))]
        groups += [(f"layer {k + 2}", list(h.parameters())) for k, h in enumerate(self.hidden)]
        return [*groups, (f"layer {len(groups) + 1}", list(self.last.parameters()))]

    def weight_layers(self) -> list[nn.Module]:
        """The weight layers in order, input first (their gradients are what the lab shows)."""
        return [self.first.weights, *(h.weights for h in self.hidden), self.last]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.5) / 0.25
        x = self.first(x if self.spec.kind == "cnn" else x.flatten(1))
        for layer in self.hidden:
            x = layer(x)
        if self.spec.kind == "cnn":
            x = x.mean(dim=(2, 3))
        return self.last(x)


def initialise(net: DeepNet, spec: NetSpec) -> None:
    """Set the weights of every layer by ``spec.init`` (PyTorch's default leaves them as constructed)."""
    if spec.init == "default":
        return
    gain_for = "relu" if spec.activation in ("relu", "gelu") else spec.activation
    for m in net.weight_layers():
        w = m.weight
        if spec.init == "xavier":
            gain = nn.init.calculate_gain(gain_for, 0.01) if gain_for == "leaky_relu" else \
                nn.init.calculate_gain(gain_for)
            nn.init.xavier_normal_(w, gain=gain)
        elif spec.init == "kaiming":
            nonlin = "leaky_relu" if spec.activation == "leaky_relu" else "relu"
            nn.init.kaiming_normal_(w, a=0.01 if nonlin == "leaky_relu" else 0, nonlinearity=nonlin)
        elif spec.init == "normal":
            nn.init.normal_(w, 0.0, spec.init_std)
        else:
            nn.init.orthogonal_(w, gain=nn.init.calculate_gain("relu") if gain_for == "relu" else 1.0)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


@dataclass
class LayerStats:
    name: str
    grad_norm: float
    act_mean: float
    act_std: float
    saturated: float | None  # sigmoid, tanh: share of units near their bounds
    dead: float | None  # relu family and gelu: share of units that output (about) nothing


@dataclass
class Analysis:
    layers: list[LayerStats]
    loss: float

    @property
    def ratio(self) -> float:
        """First layer's gradient norm over the last layer's: far below 1 vanishes, far above explodes."""
        first, last = self.layers[0].grad_norm, self.layers[-1].grad_norm
        return first / last if last > 0 else math.inf


def _unit_shares(name: str, out: torch.Tensor, pre: torch.Tensor) -> tuple[float | None, float | None]:
    if name == "sigmoid":
        return float(((out < 0.02) | (out > 0.98)).float().mean()), None
    if name == "tanh":
        return float((out.abs() > 0.96).float().mean()), None
    if name == "gelu":
        return None, float((pre < -3).float().mean())
    return None, float((pre <= 0).float().mean())  # relu, leaky relu: the flat (or nearly flat) side


def analyze(net: DeepNet, x: torch.Tensor, y: torch.Tensor) -> Analysis:
    """One forward and backward pass: per weight layer its gradient norm, and per layer with an activation the
    activations' mean and spread and the share of saturated or dead units."""
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = []
    for layer in [net.first, *net.hidden]:
        def hook(module, inputs, output, layer=layer):
            pre = layer.weights(inputs[0])
            if layer.norm is not None:
                pre = layer.norm(pre)
            captured.append((pre.detach(), layer.act(pre).detach()))
        hooks.append(layer.register_forward_hook(hook))
    net.zero_grad(set_to_none=True)
    try:
        loss = F.cross_entropy(net(x), y)
    finally:
        for h in hooks:
            h.remove()
    loss.backward()
    stats = []
    for k, m in enumerate(net.weight_layers()):
        g = m.weight.grad
        norm = float(g.norm()) if g is not None else 0.0
        if k < len(captured):
            pre, out = captured[k]
            sat, dead = _unit_shares(net.spec.activation, out, pre)
            stats.append(LayerStats(f"layer {k + 1}", norm, float(out.mean()), float(out.std()), sat, dead))
        else:
            stats.append(LayerStats(f"layer {k + 1} (output)", norm, math.nan, math.nan, None, None))
    return Analysis(stats, float(loss.detach()))


@dataclass(frozen=True)
class Preset:
    label: str
    look_for: str
    net: NetSpec
    optimizer: str = "sgd"
    lr: float = 0.01
    clip: float | None = None


PRESETS: dict[str, Preset] = {
    "vanishing": Preset(
        "Vanishing: deep sigmoid MLP", "The gradient shrinks layer by layer towards the input: the first layers "
        "barely learn. Look at the log axis: a straight fall is a constant factor lost per layer.",
        NetSpec(activation="sigmoid", init="default")),
    "exploding": Preset(
        "Exploding: deep ReLU MLP, too large an init", "Each layer multiplies the signal by more than one, so "
        "the gradient grows towards the input and the loss soon stops being finite.",
        NetSpec(activation="relu", init="normal", init_std=0.5)),
    "relu_he": Preset(
        "Fix 1: ReLU with He initialisation", "Kaiming/He init keeps each layer's variance near one: the "
        "gradient norms stay within a small factor across all 20 layers.",
        NetSpec(activation="relu", init="kaiming")),
    "batchnorm": Preset(
        "Fix 2: plus batch norm", "Normalising each layer's pre-activations keeps the scale in check even if "
        "the weights drift during training.", NetSpec(activation="relu", init="kaiming", batchnorm=True)),
    "residual": Preset(
        "Fix 3: plus residual connections", "Identity shortcuts give the gradient a path that skips every "
        "layer: even the deep sigmoid net trains.", NetSpec(activation="relu", init="kaiming", batchnorm=True,
                                                            residual=True)),
    "clipping": Preset(
        "Fix 4: gradient clipping", "The exploding net again, with the total gradient norm clipped at 1: the "
        "steps stay bounded however large the raw gradient is.",
        NetSpec(activation="relu", init="normal", init_std=0.5), clip=1.0),
}
