"""The records a training run reports, as the run store keeps them: a step's loss and per-layer gradient norms,
an epoch's accuracies, the gradient lab's histograms. Plain dataclasses with no torch, so the store, the charts
and the pages read runs without loading PyTorch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StepMetrics:
    """One optimizer step: its loss and each layer's gradient norm (before any clipping)."""

    step: int
    epoch: int
    loss: float
    grad_norms: list[float]  # one per layer, in ``layer_names`` order
    grad_total: float


@dataclass
class DetailMetrics:
    """What the gradient lab shows beyond norms, every few steps: per layer a histogram of log10 |gradient|
    over ``HIST_EDGES`` and the update-to-weight ratio ‖Δw‖ / ‖w‖ of that step."""

    step: int
    histograms: list[list[int]]
    update_ratios: list[float]


# log10 |g| from 1e-21 to 1e12, half a decade per bin: the gradient charts' fixed range (charts.GRAD_DECADES), so
# an exploding net's 1e5 gradients and a vanishing net's 1e-16 ones land in their own bins, not piled at an edge.
HIST_EDGES = [-21 + 0.5 * k for k in range(67)]
LEGACY_HIST_EDGES = [-12 + 0.5 * k for k in range(31)]  # runs recorded before 2026-11-29: 1e-12 to 1e3


def hist_edges(bins: int) -> list[float]:
    """The bin edges of a stored histogram with ``bins`` counts (runs recorded before the range grew have 30)."""
    return LEGACY_HIST_EDGES if bins == len(LEGACY_HIST_EDGES) - 1 else HIST_EDGES


@dataclass
class EpochMetrics:
    """One pass over the training images, with the validation split's loss and accuracy when there is one."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    images_per_s: float
