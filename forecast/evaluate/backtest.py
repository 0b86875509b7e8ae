"""Rolling-origin backtest with an expanding window."""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtri
from sklearn.base import clone
from tqdm import tqdm

from forecast.errors import ForecastInputError, ModelFitError
from forecast.evaluate.scores import diebold_mariano, randomized_pit, scores_for

if TYPE_CHECKING:
    from forecast.models.base import Forecaster

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0  # without a terminal, backtest progress is logged this often


def backtest_origins(index: pd.DatetimeIndex, periods: list[dict], min_train_days: int) -> pd.DatetimeIndex:
    """Every day of the given periods that has at least ``min_train_days`` days of history and at
    least one observed day after it."""
    origins = pd.DatetimeIndex([])
    for p in periods:
        start, end = pd.Timestamp(p["start"]), pd.Timestamp(p["end"])
        if end < start:
            raise ForecastInputError(f"period '{p['name']}' ends before it starts", column="backtest.periods")
        origins = origins.union(pd.date_range(start, end, freq="D"))
    first_ok = index[0] + pd.Timedelta(days=int(min_train_days) - 1)
    origins = origins[(origins >= first_ok) & (origins < index[-1])]
    if len(origins) == 0:
        raise ForecastInputError(
            f"no backtest origin lies inside the data window {index[0].date()}..{index[-1].date()} "
            f"with {min_train_days} training days", column="backtest.periods",
            hint="move the periods inside data.start/data.end or use backtest=none")
    return origins


class SurpriseCusum:
    """Two-sided CUSUM of how surprising newly observed days are under the forecasts of the current fit.

    Each day's count y gets the normal score of its mid-PIT under its predictive pmf p (cdf F),
    w = Phi^{-1}(F(y - 1) + p(y) / 2); w has mean about 0 and variance at most 1 when the forecasts are
    calibrated (below 1 for counts, so false alarms are rarer than for a continuous series). Page's
    CUSUM S+ <- max(0, S+ + w - k), S- <- max(0, S- - w - k) raises an alarm when S+ or S- exceeds h.
    The textbook choice k = 0.5, h = 5 (not tuned on any data) detects a shift of w's mean by one
    standard deviation in about 10 days, with about 900 days between false alarms on each side.
    """

    def __init__(self, allowance: float = 0.5, threshold: float = 5.0):
        self.allowance, self.threshold = allowance, threshold
        self.reset()

    def reset(self) -> None:
        self.upper = self.lower = 0.0

    @property
    def alarm(self) -> bool:
        return max(self.upper, self.lower) > self.threshold

    def observe(self, fc, observed: np.ndarray) -> None:
        """Add the days after ``fc``'s origin (``observed[j]`` is day j + 1); days beyond the forecast's
        horizon have no predictive distribution to judge them and raise the alarm."""
        if len(observed) > fc.horizon:
            self.upper = np.inf
            return
        for step, y in enumerate(observed, start=1):
            p = fc.daily_pmf(step)
            mid = p[:y].sum() + (p[y] / 2 if y < len(p) else 0.0)
            w = float(ndtri(np.clip(mid, 1e-12, 1 - 1e-12)))
            self.upper = max(0.0, self.upper + w - self.allowance)
            self.lower = max(0.0, self.lower - w - self.allowance)


@dataclass(frozen=True)
class RefitPolicy:
    """When the backtest refits: once ``every`` origins have passed since the last fit, and with
    ``on_surprise`` also as soon as the days since the last fit are surprising under the model's own
    forecasts (``SurpriseCusum``). In between, the model is conditioned on the new days (``update``)."""

    every: int = 7
    on_surprise: bool = False


@dataclass
class BacktestInfo:
    """What happened in a backtest: origins, fits, surprise refits, failed origins, non-converged fits."""

    origins: int
    fits: int = 0
    surprise_refits: int = 0
    failed_origins: int = 0
    not_converged: int = 0
    first_failure: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def run_backtest(model: Forecaster, counts: pd.Series, triggers: pd.DataFrame | None,
                 origins: pd.DatetimeIndex, horizons: list[int], thresholds: list[int], *,
                 policy: RefitPolicy = RefitPolicy(), n_paths: int = 1000, seed: int = 0,
                 exposure: pd.Series | None = None, progress: bool | None = None) -> tuple[pd.DataFrame, BacktestInfo]:
    """Fit on data up to each origin, forecast ``max(horizons)`` days, score the totals.

    Refits follow ``policy``; only data and triggers dated on or before an origin reach the model
    fitted there (``exposure`` too), or decide whether it is refitted. Returns one row per origin x horizon (see
    ``backtest.csv``: every score of ``scores_for(thresholds)``, interval hits, PIT, P(total >= k)) and a
    BacktestInfo. Bounded: one forecast per origin, ``n_paths`` paths each.
    """
    if policy.every < 1:
        raise ForecastInputError(f"refit_every must be >= 1, got {policy.every}", column="backtest.refit_every")
    est = clone(model)
    rng = np.random.default_rng(seed)
    hmax = max(horizons)
    y = counts.to_numpy()
    pos = {d: i for i, d in enumerate(counts.index)}
    registry = scores_for(thresholds)
    rows, info = [], BacktestInfo(origins=len(origins))
    surprise = SurpriseCusum() if policy.on_surprise else None
    fc, last_t, since_fit = None, 0, 0
    show = progress if progress is not None else sys.stderr.isatty()
    last_log = time.monotonic()
    for i, origin in enumerate(tqdm(origins, desc=f"backtest {type(model).__name__}", disable=not show,
                                    leave=False)):
        if not show and time.monotonic() - last_log >= PROGRESS_EVERY_S:  # a log or a pipe: a line every 10 s
            log.info("backtest %s: %d of %d origins (%.0f%%)", type(model).__name__, i, len(origins),
                     100 * i / len(origins))
            last_log = time.monotonic()
        t = pos[origin]
        train = counts.iloc[: t + 1]
        if surprise is not None and fc is not None:
            surprise.observe(fc, y[last_t + 1: t + 1])
        scheduled = fc is None or since_fit >= policy.every
        try:
            if scheduled or (surprise is not None and surprise.alarm):
                est.fit(train, triggers, exposure)
                since_fit = 0
                info.fits += 1
                info.surprise_refits += int(not scheduled)
                info.not_converged += int(not getattr(est, "converged_", True))
                if surprise is not None:
                    surprise.reset()
            else:
                est.update(train, triggers, exposure)
            since_fit += 1
            fc, last_t = est.forecast(hmax, n_paths=n_paths), t
            totals = {h: fc.total(h) for h in horizons if t + h < len(y)}  # an explosive forecast fails here
        except ModelFitError as e:
            info.failed_origins += 1
            info.first_failure = info.first_failure or str(e)
            fc = None
            continue
        for h, total in totals.items():
            observed = int(y[t + 1: t + h + 1].sum())
            lo50, hi50 = total.interval(0.5)
            lo90, hi90 = total.interval(0.9)
            row = {"origin": origin.strftime("%Y-%m-%d"), "horizon": h, "observed_total": observed,
                   "mean": total.mean, "q05": lo90, "q50": total.quantile(0.5), "q95": hi90,
                   "p_zero": float(total.pmf(0)), **{sc.column: sc.func(total.p, observed) for sc in registry},
                   "in50": lo50 <= observed <= hi50, "in90": lo90 <= observed <= hi90,
                   "pit": randomized_pit(total.p, observed, rng.uniform())}
            row.update({f"p_ge{k}": total.prob_at_least(k) for k in thresholds})
            rows.append(row)
    if info.not_converged:
        log.warning("%s: %d of %d backtest fits did not converge", type(model).__name__, info.not_converged,
                    info.fits)
    if info.failed_origins:
        log.warning("%s: %d of %d backtest origins could not be fitted (first: %s)", type(model).__name__,
                    info.failed_origins, len(origins), info.first_failure)
    if not rows:
        raise ModelFitError(f"{type(model).__name__}: no backtest origin could be fitted "
                            f"({info.first_failure or 'no scorable origin'})")
    return pd.DataFrame(rows), info


def summarise_scores(bt: pd.DataFrame, thresholds: list[int]) -> dict[str, dict[str, float]]:
    """Mean scores per horizon, keyed as in ``metrics.json`` (every registry score, interval coverage,
    the number of origins)."""
    registry = scores_for(thresholds)
    out = {}
    for h, g in bt.groupby("horizon"):
        s = {sc.summary: g[sc.column].mean() for sc in registry}
        s.update(coverage_50=g["in50"].mean(), coverage_90=g["in90"].mean(), n_origins=len(g))
        out[str(int(h))] = {k: float(v) for k, v in s.items()}
    return out


def skill(scores: dict, reference: dict, thresholds: list[int]) -> dict[str, dict[str, float]]:
    """Skill against a reference for every registry score: 1 - score/score_ref (> 0 better) or, for the
    log score, the difference model - reference (< 0 better)."""
    out = {}
    for h, s in scores.items():
        ref = reference.get(h)
        if ref:
            out[h] = {sc.skill_key: sc.skill_of(s[sc.summary], ref[sc.summary]) for sc in scores_for(thresholds)}
    return out


def paired_tests(bt: pd.DataFrame, ref_bt: pd.DataFrame, score: str = "log_score") -> dict[str, dict[str, float]]:
    """Per horizon: the mean per-origin difference of ``score`` (model - reference, < 0 = model better) on
    the origins both scored, its Diebold-Mariano statistic and p-value, and the number of origins."""
    both = bt.merge(ref_bt, on=["origin", "horizon"], suffixes=("", "_ref"))
    out = {}
    for h, g in both.groupby("horizon"):
        diff = (g[score] - g[f"{score}_ref"]).to_numpy()
        stat, p = diebold_mariano(diff, int(h))
        out[str(int(h))] = {"mean_diff": float(diff.mean()), "dm_stat": stat, "dm_p": p, "n_origins": len(diff)}
    return out
