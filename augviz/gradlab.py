"""The gradient lab: deep plain networks (``augviz.deepnet``) built to show vanishing and exploding gradients,
their fixes, and an analysis at initialisation (one forward and backward pass) of what happens in every layer."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from augviz.deepnet import DeepNet, NetSpec
from augviz.runconfig import RunConfig


@dataclass
class LayerStats:
    name: str
    grad_norm: float
    act_mean: float
    act_std: float
    act_rms: float  # √mean(a²): the activations' size, whatever their sign
    saturated: float | None  # sigmoid, tanh: share of units near their bounds
    dead: float | None  # relu family and gelu: share of units that output (about) nothing


@dataclass
class Analysis:
    layers: list[LayerStats]
    loss: float
    batch: int = 0  # images in the pass

    @property
    def ratio(self) -> float:
        """First layer's gradient norm over the last layer's: far below 1 vanishes, far above explodes."""
        first, last = self.layers[0].grad_norm, self.layers[-1].grad_norm
        return first / last if last > 0 else math.inf

    @property
    def norms(self) -> list[float]:
        return [s.grad_norm for s in self.layers]


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
    activations' mean, spread and size and the share of saturated or dead units. The statistics are taken as
    the pass goes, so no activation is kept beyond what the backward pass needs."""
    rows: list[tuple[float, float, float, float | None, float | None]] = []

    def probe(pre: torch.Tensor, out: torch.Tensor) -> None:
        o = out.float()
        rows.append((float(o.mean()), float(o.std()), float(o.square().mean().sqrt()),
                     *_unit_shares(net.spec.activation, out, pre)))

    layers = [net.first, *net.hidden]
    for layer in layers:
        layer.probe = probe
    net.zero_grad(set_to_none=True)
    try:
        loss = F.cross_entropy(net(x), y)
    finally:
        for layer in layers:
            layer.probe = None
    loss.backward()
    stats = []
    for k, m in enumerate(net.weight_layers()):
        g = m.weight.grad
        norm = float(g.norm()) if g is not None else 0.0
        if k < len(rows):
            stats.append(LayerStats(f"layer {k + 1}", norm, *rows[k]))
        else:
            stats.append(LayerStats(f"layer {k + 1} (output)", norm, math.nan, math.nan, math.nan, None, None))
    net.zero_grad(set_to_none=True)
    return Analysis(stats, float(loss.detach()), len(x))


# ---- the verdict ---------------------------------------------------------------------------------------------

BIG = 1e3  # a gradient norm or an activation size above this is exploding (healthy nets sit near 1e-2 … 1e1)
TINY = 1e-6  # every gradient norm below this: nothing learns
SPREAD = 3.0  # decades between the input and output layers' gradient norms that count as vanishing/exploding
DEAD, SATURATED = 0.9, 0.5  # mean share of dead (saturated) units that counts as a problem


@dataclass(frozen=True)
class Verdict:
    """What the analysis at initialisation shows: one word and the facts that support it."""

    label: str  # vanishing, exploding, healthy, dead units, saturated
    facts: tuple[str, ...]

    def sentence(self) -> str:
        return f"{self.label.capitalize()}: " + "; ".join(self.facts) + "."


def sci(v: float) -> str:
    """A number as the charts show it: 3.1e-16 becomes 3.1×10⁻¹⁶."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    e = math.floor(math.log10(abs(v)))
    if -2 <= e <= 3:
        return f"{v:.3g}"
    return f"{v / 10 ** e:.2g}×10{superscript(e)}"


def superscript(n: int) -> str:
    return str(n).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def direction(analysis: Analysis) -> str:
    """Where the gradient is larger: "towards the input", "towards the output" or "level" (within 10×)."""
    first, last = analysis.layers[0].grad_norm, analysis.layers[-1].grad_norm
    if last > 10 * first:
        return "towards the output"
    if first > 10 * last:
        return "towards the input"
    return "level"


def diagnose(analysis: Analysis) -> Verdict:
    """The verdict from the whole picture: the gradient norms' size and their spread over depth, the growth
    of the activations over depth, the share of saturated or dead units, and whether the loss is finite."""
    layers = analysis.layers
    norms = analysis.norms
    if not math.isfinite(analysis.loss) or not all(math.isfinite(n) for n in norms):
        return Verdict("exploding", ("the loss or a gradient norm is not a finite number",))
    facts = []
    positive = [(n, k + 1) for k, n in enumerate(norms) if n > 0]
    (low, at_low), (high, at_high) = min(positive), max(positive)
    spread = math.log10(high / low)
    facts.append(f"gradient norms from {sci(low)} (layer {at_low}) to {sci(high)} (layer {at_high}), "
                 f"{spread:.1f} decades apart")
    first, last = norms[0], norms[-1]
    way = direction(analysis)
    if way != "level":
        facts.append(f"the gradient grows {way} (layer 1: {sci(first)}, layer {len(norms)}: {sci(last)})")
    hidden = [s for s in layers if math.isfinite(s.act_rms)]
    growth = hidden[-1].act_rms / hidden[0].act_rms if hidden[0].act_rms > 0 else math.inf
    largest_act = max(s.act_rms for s in hidden)
    if len(hidden) > 1 and math.isfinite(growth) and growth > 0:
        per = growth ** (1 / (len(hidden) - 1))
        facts.append(f"activation size ×{sci(growth)} from layer 1 to layer {len(hidden)} (×{per:.2g} per layer)")
    shares = [s.dead if s.dead is not None else s.saturated for s in hidden]
    kind = "dead" if hidden[0].dead is not None else "saturated"
    mean_share = sum(v for v in shares if v is not None) / len(shares)
    if kind == "dead":  # an output on ReLU's flat side, for this batch: about half is what a healthy net shows
        facts.append(f"{100 * mean_share:.0f} % of outputs on the activation's flat side (zero) on average")
    else:
        facts.append(f"{100 * mean_share:.0f} % of units saturated on average")
    if high > BIG or largest_act > BIG or growth > BIG:
        label = "exploding"
    elif first == 0 or (last > 0 and first / last < 10 ** -SPREAD) or high < TINY:
        label = "vanishing"
    elif first / last > 10 ** SPREAD:
        label = "exploding"
    elif kind == "dead" and mean_share > DEAD:
        label = "dead units"
    elif kind == "saturated" and mean_share > SATURATED:
        label = "saturated"
    else:
        label = "healthy"
    return Verdict(label, tuple(facts))


# ---- the cost of an analysis ---------------------------------------------------------------------------------

MAX_GFLOP = 10.0  # one analysis: at most a few seconds of server CPU (bench/gradients measures the worst case)
MAX_MB = 128.0  # activations held for the backward pass
BATCHES = (128, 64, 32, 16)  # the analysis batch, halved until the pass fits


@dataclass(frozen=True)
class Cost:
    gflop: float  # one forward and backward pass
    mb: float  # activation memory the backward pass holds

    def fits(self) -> bool:
        return self.gflop <= MAX_GFLOP and self.mb <= MAX_MB


class TooCostly(ValueError):
    """The network is too large to analyse within the server's budget."""


def cost(spec: NetSpec, channels: int, size: int, batch: int) -> Cost:
    """Estimated cost of ``analyze`` for ``spec`` on ``batch`` images: multiply-adds of the weight layers (the
    backward pass is about twice the forward), and the tensors each layer keeps for the backward pass (weights'
    output, batch norm's, activation's, the residual sum)."""
    w, hidden = spec.width, spec.depth - 2
    if spec.kind == "mlp":
        pixels = 1
        macs = channels * size * size * w + hidden * w * w + w * 10
    else:
        pixels = math.ceil(size / 2) ** 2
        macs = pixels * 9 * w * (channels + hidden * w) + w * 10
    kept = 2 + spec.batchnorm + spec.residual
    return Cost(6 * macs * batch / 1e9, 4 * kept * (hidden + 1) * w * pixels * batch / 2**20)


def analysis_batch(spec: NetSpec, channels: int, size: int) -> int:
    """The largest batch in ``BATCHES`` whose analysis fits the budget; TooCostly says what to lower."""
    for batch in BATCHES:
        if cost(spec, channels, size, batch).fits():
            return batch
    c = cost(spec, channels, size, BATCHES[-1])
    raise TooCostly(f"This network is too large to analyse here: one pass on {BATCHES[-1]} images would take about "
                    f"{c.gflop:.0f} GFLOP and {c.mb:.0f} MB (the cap is {MAX_GFLOP:g} GFLOP and {MAX_MB:g} MB). "
                    "Lower the depth or the width, or train it: training runs in its own process.")


def analyze_capped(spec: NetSpec, x: torch.Tensor, y: torch.Tensor, seed: int) -> Analysis:
    """``analyze`` a fresh network drawn with ``seed`` on the first images of ``x`` that fit the cost cap."""
    batch = analysis_batch(spec, x.shape[1], x.shape[-1])
    net = DeepNet(spec, x.shape[1], x.shape[-1], 10, torch.Generator().manual_seed(seed))
    return analyze(net, x[:batch], y[:batch])


# ---- the presets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    label: str
    look_for: str  # what the chart shows, in the words of the chart
    why: str  # why these training settings
    net: NetSpec
    optimizer: str = "adam"
    lr: float = 3e-3
    clip: float | None = None
    epochs: int = 8
    train_size: int = 5000
    fix: bool = False  # a fix ends well above chance with its default run (bench.gradients measures it)
    short: str = ""  # the preset's button: a few words that fit a third of an 800-px page

    @property
    def button(self) -> str:
        return self.short or self.label

    def run_config(self, seed: int = 0, dataset: str = "synthetic") -> RunConfig:
        """The preset's default run, as the page launches it."""
        return lab_run(self.net, self.optimizer, self.lr, self.clip, self.epochs, self.train_size, seed, dataset,
                       self.label)


def network_words(net: NetSpec, clip: float | None = None) -> str:
    """A lab network in words, e.g. "10-layer relu CNN, kaiming init, BN, clip 1"."""
    return (f"{net.depth}-layer {net.activation} {net.kind.upper()}, {net.init} init"
            f"{', BN' if net.batchnorm else ''}{', residual' if net.residual else ''}"
            f"{f', clip {clip:g}' if clip else ''}")


def lab_run(net: NetSpec, optimizer: str, lr: float, clip: float | None, epochs: int, train_size: int,
            seed: int = 0, dataset: str = "synthetic", name: str | None = None) -> RunConfig:
    """A gradient-lab run: a constant learning rate, so that what the optimizer does with the gradient is the
    only thing that changes from step to step, and the lab's details (histograms, update ratios) recorded. It
    computes in float32 whatever the processor: what the lab shows across depth is the network's doing, not
    bfloat16's rounding (which, over the 30 layers of Fix 3, cost 13 points of test accuracy on average over 3
    seeds: bench/gradients.py). ``name`` (default: the network in words) is what run lists call it after
    "Gradient lab: "."""
    name = network_words(net, clip) if name is None else name
    return RunConfig(dataset=dataset, train_size=train_size, model="deepnet", net=net.to_dict(),
                     optimizer=optimizer, lr=lr, clip_norm=clip, epochs=epochs, schedule="constant", details=True,
                     batch_size=64, seed=seed, name=name, precision="float32")


# Ten 3×3 convolutions of 16 channels: deep enough to vanish or explode by many decades, small enough that the
# default run (10 epochs of 5,000 images) takes well under a minute on two cores. At 20 layers, a plain ReLU net
# with He init did not leave chance in that time on the built-in dataset, so Fix 1 would not have shown a fix.
LAB = NetSpec(kind="cnn", depth=10, width=16)
TOO_LARGE = replace(LAB, activation="relu", init="normal", init_std=1.0)
SAME_AS_FIX_1 = "Adam, learning rate 0.001, 10 epochs of 5,000 images"

PRESETS: dict[str, Preset] = {
    "vanishing": Preset(
        "Vanishing: deep sigmoid CNN",
        "Ten sigmoid layers with PyTorch's default init: each layer passes back at most a quarter of the gradient "
        "it receives, so the gradient grows towards the output and layer 1 gets about 10⁻⁸ of what the output "
        "layer gets. On the log axis a straight line is a constant factor lost per layer. Trained, it stays at "
        "chance: the first layers never learn.",
        f"{SAME_AS_FIX_1}, the same as Fix 1, so the network is the only difference. Adam even rescales tiny "
        "gradients, and still nothing is learned.",
        replace(LAB, activation="sigmoid", init="default"), "adam", 1e-3, epochs=10, short="Vanishing"),
    "exploding": Preset(
        "Exploding: deep ReLU CNN, too large an init",
        "Weights drawn with σ = 1, about 8× He's: every layer multiplies the activations by about 8, so by "
        "layer 9 they are 10⁷ times larger than at layer 1, and every layer's gradient is in the tens of "
        "millions or more. The gradient is huge at every layer rather than growing in one direction: a weight's "
        "gradient multiplies the forward signal, which grows with depth, by the backward one, which shrinks "
        "with it. Trained, the loss stops being finite within a few steps.",
        "SGD with momentum at learning rate 0.01, a textbook start: a step is the learning rate times the "
        "gradient, so a gradient of 10⁸ moves the weights by 10⁶.",
        TOO_LARGE, "sgd", 1e-2, epochs=10, short="Exploding"),
    "clipping": Preset(
        "Exploding, clipped: finite, not fixed",
        "The exploding net again, with the total gradient norm clipped at 1 before every step. At initialisation "
        "the raw gradient is just as huge (the verdict still says exploding), and in training the charts show "
        "it staying huge (they show the gradient before clipping), but no step is longer than the learning "
        "rate, so the loss stays finite where the unclipped run's does not. It still ends at chance: "
        "with no step longer than 0.01, the whole run goes into shrinking weights 8× too large (the loss falls "
        "from about 10⁸ but is still in the thousands at the end) and none into learning. Clipping is a guard "
        "rail against a rare huge step; it does not repair an init. The fixes below do.",
        "SGD with momentum at learning rate 0.01, as the exploding preset, so the clipping is the only "
        "difference.",
        TOO_LARGE, "sgd", 1e-2, clip=1.0, epochs=10, short="Exploding, clipped"),
    "relu_he": Preset(
        "Fix 1: ReLU with He initialisation",
        "Kaiming/He init draws each layer's weights with σ = √(2 / fan-in), which keeps the activations' size "
        "steady through ReLU layers: the gradient norms stay within about one decade across all 10 layers, and "
        "the net trains well above chance.",
        f"{SAME_AS_FIX_1}, the same as the vanishing preset.",
        replace(LAB, activation="relu", init="kaiming"), "adam", 1e-3, epochs=10, fix=True, short="Fix 1: He init"),
    "batchnorm": Preset(
        "Fix 2: plus batch norm",
        "Batch norm rescales each layer's pre-activations to zero mean and unit spread on every batch, so the "
        "scale stays in check even as the weights move during training: level gradient norms at initialisation, "
        "and steadier training than Fix 1.",
        "Adam at learning rate 0.003, 10 epochs of 5,000 images: batch norm tolerates a larger learning rate, "
        "which is part of what it buys.",
        replace(LAB, activation="relu", init="kaiming", batchnorm=True), "adam", 3e-3, epochs=10, fix=True,
        short="Fix 2: batch norm"),
    "residual": Preset(
        "Fix 3: 30 layers, with residual connections",
        "Three times deeper, with batch norm as in Fix 2 and an identity shortcut around every layer (each layer "
        "outputs relu(BN(conv x) + x)), which gives the gradient a path around every layer: the 29 hidden "
        "layers' gradient norms stay within about a decade of each other (the output layer's is the largest), "
        "and the net trains well above chance. Untick residual connections to "
        "see what the shortcuts buy at this depth: batch norm alone trains the 30-layer net to well below what "
        "it reaches with them.",
        "Adam at learning rate 0.003, 10 epochs of 5,000 images, as Fix 2, so depth and the shortcuts are the "
        "only differences.",
        replace(LAB, depth=30, activation="relu", init="kaiming", batchnorm=True, residual=True), "adam", 3e-3,
        epochs=10, fix=True, short="Fix 3: residual"),
}
