"""The daily-counts adapter: spread each day's events inside the day, fit the event-time learner, forecast."""
from __future__ import annotations

import numpy as np

from forecast.errors import ModelFitError
from forecast.models.base import FitSummary, Forecaster, Param
from forecast.models.hawkes_continuous.diagnostics import spread_sensitivity
from forecast.models.hawkes_continuous.estimator import PARAM_NAMES, ExpKernelHawkes, fit_mle
from forecast.models.hawkes_continuous.likelihood import excitation_state
from forecast.models.hawkes_continuous.predictive import HawkesCountForecast, WindowCountLaw
from forecast.models.hawkes_continuous.simulation import SPREADS, counts_to_timestamps, simulate_daily_counts


class HawkesContinuous(Forecaster):
    """Exponential-kernel Hawkes process on event times, fitted to daily counts.

        lambda(t) = mu + sum_{t_i < t} alpha beta e^{-beta (t - t_i)}

    mu = ``baseline_`` (events per day), alpha = ``adjacency_`` (branching ratio), beta = ``decay_`` (per
    day). ``fit(counts)`` places the k events of each day inside the day (``spread``) and fits the
    event-time learner ``ExpKernelHawkes`` (exact likelihood) to them. Forecasts: window totals have their
    exact law given the excitation at the origin; daily pmfs mix the exact law of a day's count given each
    simulated path's excitation at the day's start (``HawkesCountForecast``; see ``predictive``).

    Parameters
    ----------
    decay : float or None
        Hold beta fixed at this value (per day); None estimates it.
    spread : {"uniform", "even"}
        Where the k events of a day go inside it: sorted seeded uniform offsets, or (j + 0.5) / k.
    n_paths : int
        Simulated paths per forecast.
    random_state : int or None
        Seed of the spreading offsets and of the forecast simulation.

    Attributes
    ----------
    process_ : the fitted ``ExpKernelHawkes`` (loglik_, stderr_, timestamps_, end_time_, ...).
    baseline_, adjacency_, decay_, converged_ : read from ``process_``.
    state_ : excitation at the forecast origin, sum_j e^{-beta (T - t_j)} over the spread event times.
    """

    uses_triggers = False
    param_rules = {**Forecaster.param_rules, "decay": Param(0, None, low_open=True, none_ok=True),
                   "spread": Param(choices=SPREADS)}

    def __init__(self, decay: float | None = None, spread: str = "uniform", n_paths: int = 2000,
                 random_state: int | None = None):
        self.decay = decay
        self.spread = spread
        self.n_paths = n_paths
        self.random_state = random_state

    def fit_timestamps(self, timestamps, end_time: float, decay: float | None = None) -> ExpKernelHawkes:
        """Fit to event times (days) on (0, end_time]; ``decay`` (or the ``decay`` parameter) holds beta fixed.

        Returns the fitted event-time learner (``ExpKernelHawkes``: baseline_, adjacency_, decay_, loglik_,
        summary(), time_rescaling()); this estimator is left as it was. Daily forecasts need ``fit(counts)``.
        """
        return ExpKernelHawkes(self.decay).fit_timestamps(timestamps, end_time, decay)

    @property
    def baseline_(self) -> float:
        return self.process_.baseline_

    @property
    def adjacency_(self) -> float:
        return self.process_.adjacency_

    @property
    def decay_(self) -> float:
        return self.process_.decay_

    @property
    def converged_(self) -> bool:
        return self.process_.converged_

    def _fit(self, counts, triggers):
        y = counts.to_numpy()
        if y.sum() == 0:
            raise ModelFitError("hawkes_continuous: no attacks in the training window; nothing to fit")
        self.process_ = ExpKernelHawkes(self.decay).fit_timestamps(*counts_to_timestamps(y, self.spread, self.rng_))
        self.state_ = self.process_.state_
        self._fit_counts = y.copy()
        self._spread_sensitivity = self._law = None

    def _update(self, counts, triggers):
        t, T = counts_to_timestamps(counts.to_numpy(), self.spread, self.rng_)
        self.state_ = excitation_state(t, self.decay_, T)

    def _forecast(self, index, future_triggers, n_paths):
        mu, alpha, beta = self.process_.params_
        paths, states = simulate_daily_counts(mu, alpha, beta, len(index), int(n_paths or self.n_paths),
                                              self.forecast_rng(index), state=self.state_, states=True)
        if self._law is None or self._law.horizon != len(index):  # kept across updates: same parameters
            self._law = WindowCountLaw(mu, alpha, beta, len(index))
        jump = alpha * beta  # excess intensity per unit of excitation
        return HawkesCountForecast(index, paths, self._law.mean(jump * states), self._law, jump * self.state_)

    def _summary(self) -> FitSummary:
        """The learner's summary plus how the estimates move with the within-day spread: refits with three
        other uniform-offset seeds and with ``"even"`` offsets (min/max of each parameter)."""
        if self._spread_sensitivity is None:
            process = self.process_
            fixed = process.decay_ if process.decay_fixed_ else None
            seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else 0
            self._spread_sensitivity = spread_sensitivity(
                self._fit_counts, process.params_, lambda t, T: fit_mle(t, T, fixed, process.params_)[0],
                seeds=3, base_seed=int(seed))
        summary = self.process_.summary()
        sens = self._spread_sensitivity
        summary.diagnostics.update({"spread": self.spread, "spread_sensitivity": sens})
        summary.diagnostics.update({f"spread_{name}_range": f"{sens[name]['min']:.4g} .. {sens[name]['max']:.4g}"
                                    for name in PARAM_NAMES})
        return summary
