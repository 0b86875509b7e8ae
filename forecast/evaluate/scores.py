"""Proper scores for count forecasts and a paired test of score differences.

All functions take the pmf of the forecast total on 0, 1, ..., K and the observed total y.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

LOG_SCORE_FLOOR = 1e-12  # P(observed) is floored here so one impossible outcome cannot make a mean infinite


def log_score(pmf: np.ndarray, y: int) -> float:
    """-ln P(Y = y) (lower is better), with P floored at 1e-12."""
    p = pmf[y] if 0 <= y < len(pmf) else 0.0
    return float(-np.log(max(p, LOG_SCORE_FLOOR)))


def rps(pmf: np.ndarray, y: int) -> float:
    """Ranked probability score sum_{k>=0} (F(k) - 1{y <= k})^2, the CRPS of a count forecast."""
    size = max(len(pmf), y + 1)
    F = np.minimum(np.cumsum(np.pad(pmf, (0, size - len(pmf)))), 1.0)
    return float(np.sum((F - (np.arange(size) >= y)) ** 2))


def brier(prob: float, happened: bool) -> float:
    """(p - 1{event})^2."""
    return float((prob - float(happened)) ** 2)


def randomized_pit(pmf: np.ndarray, y: int, u: float) -> float:
    """Randomised PIT F(y-1) + u (F(y) - F(y-1)); uniform on (0, 1) for a calibrated forecast."""
    F = np.concatenate([[0.0], np.cumsum(pmf)])
    lo, hi = F[min(y, len(pmf))], F[min(y + 1, len(pmf))]
    return float(min(lo + u * (hi - lo), 1.0))


def diebold_mariano(diff: np.ndarray, horizon: int = 1) -> tuple[float, float]:
    """Diebold-Mariano test of mean score difference = 0 with a Newey-West variance (lag h-1).

    Returns ``(statistic, two-sided p-value)``; NaN when fewer than 3 differences.
    """
    d = np.asarray(diff, float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 3:
        return float("nan"), float("nan")
    e = d - d.mean()
    var = np.dot(e, e) / n
    for lag in range(1, min(int(horizon), n - 1)):
        var += 2 * (1 - lag / horizon) * np.dot(e[lag:], e[:-lag]) / n
    if var <= 0:
        return float("nan"), float("nan")
    stat = d.mean() / np.sqrt(var / n)
    return float(stat), float(2 * stats.norm.sf(abs(stat)))
