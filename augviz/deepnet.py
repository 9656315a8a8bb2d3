"""The deep plain networks of the gradient lab: their spec (``NetSpec``, validated from a run configuration by
``spec_from_dict``), the network itself (``DeepNet``) and its weight initialisations. The training loop builds
it through ``models.build``; the lab (``gradlab``) analyses it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
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
    """One hidden layer: weights, optional batch norm, optional identity shortcut, activation.

    The shortcut adds the layer's input before the activation, as the original ResNet does (relu(BN(conv x) +
    x)): the activation keeps the sum's size in check, where adding after it (x + relu(…)) let the sum grow with
    every layer, and a 30-layer net with those shortcuts trained worse than without them."""

    def __init__(self, weights: nn.Module, norm: nn.Module | None, act: nn.Module, residual: bool) -> None:
        super().__init__()
        self.weights, self.norm, self.act, self.residual = weights, norm, act, residual
        # Set by ``analyze`` for one pass: sees (pre-activation, activation) without keeping either alive.
        self.probe: Callable[[torch.Tensor, torch.Tensor], None] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.weights(x)
        if self.norm is not None:
            pre = self.norm(pre)
        if self.residual and pre.shape == x.shape:
            pre = pre + x
        y = self.act(pre)
        if self.probe is not None:
            self.probe(pre.detach(), y.detach())
        return y


class DeepNet(nn.Module):
    """``depth`` weight layers: an input layer, ``depth − 2`` hidden layers and an output layer.

    The weights are drawn from ``generator`` (the global generator when None, as in a training worker); the
    layers are built on the meta device first, so building never touches the global generator."""

    def __init__(self, spec: NetSpec, channels: int, size: int, classes: int,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.spec = spec
        w = spec.width
        hidden = []
        with torch.device("meta"):
            if spec.kind == "mlp":
                first: nn.Module = nn.Linear(channels * size * size, w)
                for _ in range(spec.depth - 2):
                    hidden.append(Layer(nn.Linear(w, w), nn.BatchNorm1d(w) if spec.batchnorm else None,
                                        activation(spec.activation), spec.residual))
            else:
                first = nn.Conv2d(channels, w, 3, stride=2, padding=1)  # halve the size once: deep nets stay cheap
                for _ in range(spec.depth - 2):
                    hidden.append(Layer(nn.Conv2d(w, w, 3, padding=1),
                                        nn.BatchNorm2d(w) if spec.batchnorm else None,
                                        activation(spec.activation), spec.residual))
            self.first = Layer(first, None, activation(spec.activation), residual=False)
            self.hidden = nn.ModuleList(hidden)
            self.last = nn.Linear(w, classes)
        # Storage for every meta tensor, as ``to_empty`` gives, but through ``torch.empty``: ``to_empty``'s
        # ``empty_like`` on a meta tensor imports torch's symbolic shapes (sympy), 0.4 s of CPU on a page's view.
        self._apply(lambda t: torch.empty(t.shape, dtype=t.dtype))
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()  # ones, zeros and fresh running statistics: no randomness
        initialise(self, spec, generator)

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


def initialise(net: DeepNet, spec: NetSpec, generator: torch.Generator | None = None) -> None:
    """Draw the weights of every layer by ``spec.init`` from ``generator``; "default" is PyTorch's own rule
    (uniform, bound 1/√fan_in for weights and biases), written out so that it can take a generator."""
    gain_for = "relu" if spec.activation in ("relu", "gelu") else spec.activation
    for m in net.weight_layers():
        w, g = m.weight, generator
        fan_in = w[0].numel()
        with torch.no_grad():
            if spec.init == "default":
                nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
            elif spec.init == "xavier":
                gain = nn.init.calculate_gain(gain_for, 0.01) if gain_for == "leaky_relu" else \
                    nn.init.calculate_gain(gain_for)
                nn.init.xavier_normal_(w, gain=gain, generator=g)
            elif spec.init == "kaiming":
                nonlin = "leaky_relu" if spec.activation == "leaky_relu" else "relu"
                nn.init.kaiming_normal_(w, a=0.01 if nonlin == "leaky_relu" else 0, nonlinearity=nonlin,
                                        generator=g)
            elif spec.init == "normal":
                nn.init.normal_(w, 0.0, spec.init_std, generator=g)
            else:
                nn.init.orthogonal_(w, gain=nn.init.calculate_gain("relu") if gain_for == "relu" else 1.0,
                                    generator=g)
            if m.bias is not None:
                if spec.init == "default":
                    bound = 1 / math.sqrt(fan_in)
                    nn.init.uniform_(m.bias, -bound, bound, generator=g)
                else:
                    nn.init.zeros_(m.bias)
