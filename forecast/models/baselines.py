"""Honest baselines every other model must beat."""
from __future__ import annotations

import numpy as np

from forecast.distributions import poisson_pmfs
from forecast.models.base import FitSummary, Forecaster, IndependentCountForecast


class Climatology(Forecaster):
    """Empirical distribution of daily counts over a trailing window, days i.i.d.

    P(y = k) = (n_k + c) / (n + c (K + 2)) on k = 0..K+1, with n_k the number of days with k attacks
    among the last ``window_days`` days, K their maximum and c = ``pseudo_count`` (so an attack after a
    long lull is never given probability zero).
    """

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
