"""Honest baselines every other model must beat."""
from __future__ import annotations

import numpy as np

from forecast.distributions import CountDistribution, negbin_pmfs, poisson_pmfs
from forecast.models.base import CountForecast, FitSummary, Forecaster, IndependentCountForecast, Param


class Climatology(Forecaster):
    """Empirical distribution of daily counts over a trailing window, days i.i.d.

    P(y = k) = (n_k + c) / (n + c (K + 2)) on k = 0..K+1, with n_k the number of days with k attacks
    among the last ``window_days`` days, K their maximum and c = ``pseudo_count`` (so an attack after a
    long lull is never given probability zero).
    """

    is_baseline = True
    param_rules = {"window_days": Param(1, 100_000, integer=True), "pseudo_count": Param(0, None, low_open=True)}

    def __init__(self, window_days: int = 90, pseudo_count: float = 0.5):
        self.window_days = window_days
        self.pseudo_count = pseudo_count

    def _fit(self, counts, triggers):
        self._update(counts, triggers)

    def _update(self, counts, triggers):
        recent = counts.to_numpy()[-int(self.window_days):]
        hist = np.bincount(recent, minlength=recent.max() + 2).astype(float) + self.pseudo_count
        self.pmf_ = hist / hist.sum()
        self.n_window_ = len(recent)

    def _forecast(self, index, future_triggers, n_paths):
        return IndependentCountForecast(index, [self.pmf_] * len(index))

    def _summary(self):
        y = self.counts_.to_numpy()[-self.n_window_:]
        k = np.arange(len(self.pmf_))
        mean = float(np.dot(k, self.pmf_))
        return FitSummary("climatology", {"mean_daily": mean}, {"mean_daily": float(np.std(y) / np.sqrt(len(y)))},
                          float(np.sum(np.log(self.pmf_[y]))), len(y), {"window_days": self.n_window_})


class NaivePoisson(Forecaster):
    """Poisson with rate equal to the mean of the last ``window_days`` days (floored at ``min_rate``):
    y_{T+h} ~ Poisson(max(mean(y_{T-k+1..T}), min_rate)) for every h."""

    is_baseline = True
    param_rules = {"window_days": Param(1, 100_000, integer=True), "min_rate": Param(0, None, low_open=True)}

    def __init__(self, window_days: int = 7, min_rate: float = 0.02):
        self.window_days = window_days
        self.min_rate = min_rate

    def _fit(self, counts, triggers):
        self._update(counts, triggers)

    def _update(self, counts, triggers):
        recent = counts.to_numpy()[-int(self.window_days):]
        self.rate_ = max(float(recent.mean()), float(self.min_rate))
        self.n_window_ = len(recent)

    def _forecast(self, index, future_triggers, n_paths):
        return IndependentCountForecast(index, poisson_pmfs(np.full(len(index), self.rate_)))

    def _summary(self):
        from scipy import stats

        y = self.counts_.to_numpy()[-self.n_window_:]
        return FitSummary("naive", {"rate": self.rate_}, {"rate": float(np.sqrt(self.rate_ / len(y)))},
                          float(stats.poisson.logpmf(y, self.rate_).sum()), len(y),
                          {"window_days": self.n_window_})


class NBWindow(Forecaster):
    """Negative binomial fitted by moments to the last ``window_days`` days: the strongest simple
    baseline on this series (a moving window that follows regime changes within days).

    With m and v the window's mean (floored at ``min_rate``) and variance, alpha = max(v - m, 0) / m^2
    (Poisson when under-dispersed). ``rate="shared"``: one gamma-distributed rate lambda (mean m,
    variance alpha m^2) holds over the whole horizon and y_t | lambda ~ Poisson(lambda), so each day is
    NB2(m, alpha) and the total over h days is NB2(h m, alpha) exactly: persistence of the current
    tempo, the uncertainty of which does not average out. ``rate="independent"``: days i.i.d.
    NB2(m, alpha), totals by convolution.
    """

    is_baseline = True
    param_rules = {"window_days": Param(2, 100_000, integer=True), "min_rate": Param(0, None, low_open=True),
                   "rate": Param(choices=("shared", "independent"))}

    def __init__(self, window_days: int = 28, min_rate: float = 0.02, rate: str = "shared"):
        self.window_days = window_days
        self.min_rate = min_rate
        self.rate = rate

    def _fit(self, counts, triggers):
        self._update(counts, triggers)

    def _update(self, counts, triggers):
        recent = counts.to_numpy()[-int(self.window_days):].astype(float)
        self.mean_ = max(float(recent.mean()), float(self.min_rate))
        self.alpha_ = max(float(recent.var(ddof=1)) - self.mean_, 0.0) / self.mean_**2 if len(recent) > 1 else 0.0
        self.n_window_ = len(recent)

    def _forecast(self, index, future_triggers, n_paths):
        if self.rate == "independent":
            return IndependentCountForecast(index, negbin_pmfs(np.full(len(index), self.mean_), self.alpha_))
        return SharedRateForecast(index, self.mean_, self.alpha_)

    def _summary(self):
        y = self.counts_.to_numpy()[-self.n_window_:]
        ll = float(np.log(CountDistribution(negbin_pmfs([self.mean_], self.alpha_)[0]).pmf(y).clip(1e-300)).sum())
        n = len(y)
        notes = [f"Over the last {n} days: {self.mean_:.2f} attacks a day" + (
            f", over-dispersed (alpha {self.alpha_:.2f}): quiet and busy days alternate more than chance would."
            if self.alpha_ > 0 else ", no more variable than chance (Poisson).")]
        return FitSummary("nb_window", {"mean_daily": self.mean_, "alpha": self.alpha_},
                          {"mean_daily": float(np.sqrt((self.mean_ + self.alpha_ * self.mean_**2) / n)),
                           "alpha": float("nan")}, ll, n, {"window_days": n, "rate": self.rate}, notes)


class SharedRateForecast(CountForecast):
    """Days Poisson given one gamma rate shared by the whole horizon: day pmfs NB2(m, alpha), the total
    over w days NB2(w m, alpha); exact, no simulation."""

    def __init__(self, index, mean: float, alpha: float):
        super().__init__(index)
        self.mean, self.alpha = float(mean), float(alpha)

    def daily_pmf(self, step: int) -> np.ndarray:
        return negbin_pmfs([self.mean], self.alpha)[0]

    def total_pmf(self, window: int) -> np.ndarray:
        return negbin_pmfs([self._window(window) * self.mean], self.alpha)[0]
