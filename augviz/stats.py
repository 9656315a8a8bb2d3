"""The statistics the experiment and the sweep share: the 95 % t-interval's quantile, what counts as near
chance, and how a signed difference is written."""

from __future__ import annotations

CONFIDENCE = 0.95
NEAR_CHANCE = 0.10  # both arms less than this far above chance (10 points): the runs have not learned enough
# Two-sided 97.5 % quantiles of Student's t for 1 to 30 degrees of freedom (any statistics table).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (beyond the table, the Cornish–Fisher
    expansion around the normal's 1.96, within 0.001 there)."""
    if df < 1:
        raise ValueError("a t-interval needs at least one degree of freedom (two seeds)")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def signed(value: float) -> str:
    """A signed number with one decimal, the minus sign as the app writes it everywhere (U+2212): "−6.4",
    "+2.0"."""
    return f"{value:+.1f}".replace("-", "\u2212")
