"""Goodness of fit on event times (time rescaling) and how much a fit to daily counts depends on where
the events of a day were placed inside it (spread sensitivity)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from forecast.models.hawkes_continuous.likelihood import excitation_sums
from forecast.models.hawkes_continuous.simulation import counts_to_timestamps


@dataclass
class TimeRescaling:
    """Time-rescaling check: compensator increments are i.i.d. Exp(1) under the model."""

    increments: np.ndarray
    ks_statistic: float
    ks_p_value: float
    qq: pd.DataFrame  # columns theoretical, empirical (Exp(1) quantiles)


def compensator_increments(t, end_time, baseline, adjacency, decay) -> np.ndarray:
    """Lambda(t_i) - Lambda(t_{i-1}) for each event (t_0 = 0)."""
    t = np.asarray(t, dtype=float).ravel()
    if len(t) == 0:
        return np.zeros(0)
    A = excitation_sums(t, decay, order=0)[0]
    dt = np.diff(t, prepend=0.0)
    post = np.concatenate([[0.0], A[:-1] + 1.0])  # excitation state just after the previous event
    return baseline * dt - adjacency * post * np.expm1(-decay * dt)


def time_rescaling(t, end_time, baseline, adjacency, decay, n_quantiles: int = 200) -> TimeRescaling:
    """Compensator increments, a KS test against Exp(1) and QQ data (at most ``n_quantiles`` points)."""
    inc = compensator_increments(t, end_time, baseline, adjacency, decay)
    if len(inc) == 0:
        return TimeRescaling(inc, float("nan"), float("nan"), pd.DataFrame({"theoretical": [], "empirical": []}))
    ks = stats.kstest(inc, "expon")
    m = min(len(inc), int(n_quantiles))
    p = (np.arange(1, m + 1) - 0.5) / m
    qq = pd.DataFrame({"theoretical": -np.log1p(-p), "empirical": np.quantile(inc, p)})
    return TimeRescaling(inc, float(ks.statistic), float(ks.pvalue), qq)


def spread_sensitivity(counts: np.ndarray, params: np.ndarray, refit: Callable[[np.ndarray, float], np.ndarray],
                       seeds: int = 3, base_seed: int = 0) -> dict[str, dict[str, float]]:
    """Refit (``refit(times, end_time)`` -> (mu, alpha, beta)) with ``seeds`` other uniform within-day
    spreads of ``counts`` and with the ``"even"`` spread; min/max of each parameter over these refits and
    ``params`` (the fit itself)."""
    fits = [np.asarray(params, float)]
    for k in range(int(seeds) + 1):
        spread, rng = ("even", None) if k == int(seeds) else ("uniform", np.random.default_rng([int(base_seed), k + 1]))
        fits.append(refit(*counts_to_timestamps(counts, spread, rng)))
    fits = np.array(fits)
    out = {name: {"min": float(fits[:, i].min()), "max": float(fits[:, i].max())}
           for i, name in enumerate(("baseline", "adjacency", "decay"))}
    out["n_refits"] = {"uniform_seeds": int(seeds), "even": 1}
    return out
