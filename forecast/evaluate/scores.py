"""Proper scores for count forecasts and a paired test of score differences.

All functions take the pmf of the forecast total on 0, 1, ..., K and the observed total y.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
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
    """Diebold-Mariano test of mean score difference = 0, with the Harvey-Leybourne-Newbold small-sample
    adjustment.

    The mean of the differences is regressed on a constant with a Newey-West (Bartlett, lag h-1) HAC
    variance (statsmodels), since h-day totals from daily origins overlap; the statistic is scaled by
    sqrt((n + 1 - 2h + h(h-1)/n) / n) and referred to Student's t with n-1 degrees of freedom.
    Returns ``(statistic, two-sided p-value)``; NaN when fewer than 3 differences or no variance.
    """
    d = np.asarray(diff, float)
    d = d[np.isfinite(d)]
    n, h = len(d), int(horizon)
    if n < 3 or np.ptp(d) == 0:
        return float("nan"), float("nan")
    fit = sm.OLS(d, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": min(h - 1, n - 2), "use_correction": False})
    stat = float(fit.tvalues[0]) * np.sqrt(max(n + 1 - 2 * h + h * (h - 1) / n, 1.0) / n)
    return stat, float(2 * stats.t.sf(abs(stat), n - 1))


@dataclass(frozen=True)
class Score:
    """One entry of the score registry: how a forecast of a total is scored, summarised and compared.

    ``func(pmf, observed)`` gives one origin's value (the ``column`` of backtest.csv); its mean over
    origins is ``summary`` in metrics.json; skill against a reference is 1 - s/s_ref (``skill="ratio"``)
    or s - s_ref (``"difference"``, for the log score, whose scale is not a ratio scale). Lower is better.
    """

    column: str
    func: Callable[[np.ndarray, int], float]
    summary: str
    skill: str = "ratio"
    description: str = ""

    @property
    def skill_key(self) -> str:
        return f"{self.summary}_diff" if self.skill == "difference" else f"{self.summary}_skill"

    def skill_of(self, value: float, reference: float) -> float:
        if self.skill == "difference":
            return value - reference
        return 1 - value / reference if reference > 0 else float("nan")


def _abs_error(pmf: np.ndarray, y: int) -> float:
    return abs(float(np.dot(np.arange(len(pmf)), pmf)) - y)


def _brier_at_least(k: int) -> Callable[[np.ndarray, int], float]:
    def func(pmf: np.ndarray, y: int) -> float:
        return brier(float(1.0 - np.sum(pmf[:k])), y >= k)
    return func


SCORES = (Score("log_score", log_score, "log_score", "difference", "-ln P(observed total)"),
          Score("rps", rps, "rps", "ratio", "ranked probability score (CRPS of a count)"),
          Score("abs_error", _abs_error, "mae", "ratio", "absolute error of the mean"))


def scores_for(thresholds) -> list[Score]:
    """The registry for a run: the fixed scores and a Brier score of P(total >= k) for each threshold k."""
    return [*SCORES, *(Score(f"brier_ge{k}", _brier_at_least(int(k)), f"brier_ge{k}", "ratio",
                             f"Brier score of P(total >= {k})") for k in thresholds)]
