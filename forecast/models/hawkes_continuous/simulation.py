"""Random event times: exact paths of the exponential-kernel Hawkes process (one path by Dassios-Zhao
sampling, many paths' daily counts by the cluster representation) and within-day times for daily counts."""
from __future__ import annotations

import logging
import math

import numpy as np

from forecast.errors import ForecastInputError

log = logging.getLogger(__name__)

SPREADS = ("uniform", "even")


def simulate_timestamps(baseline: float, adjacency: float, decay: float, end_time: float,
                        rng=None, state: float = 0.0) -> np.ndarray:
    """One exact path on (0, end_time] by Dassios-Zhao sampling (no thinning, no rejection).

    ``state`` is the excitation carried in at time 0 (see ``excitation_state``).
    """
    rng = np.random.default_rng(rng)
    mu, alpha, beta, T = float(baseline), float(adjacency), float(decay), float(end_time)
    jump = alpha * beta
    excess = jump * float(state)  # lambda(t+) - mu
    out: list[float] = []
    t = 0.0
    chunk = 256
    while True:
        chunk = min(2 * chunk, 1 << 14)
        e1 = rng.standard_exponential(chunk).tolist()
        e2 = rng.standard_exponential(chunk).tolist()
        for k in range(chunk):
            s2 = e2[k] / mu if mu > 0 else math.inf  # next immigrant
            s1 = math.inf  # next offspring of the excitation left so far
            if excess > 0:
                d = 1.0 - beta * e1[k] / excess
                if d > 0:
                    s1 = -math.log(d) / beta
            tau = min(s1, s2)
            if t + tau > T:
                return np.asarray(out)
            t += tau
            excess = excess * math.exp(-beta * tau) + jump
            out.append(t)


def _truncated_exponential(rng, beta: float, limit: np.ndarray) -> np.ndarray:
    """Exp(beta) draws conditioned on being below ``limit`` (elementwise), by inversion."""
    return -np.log1p(rng.random(len(limit)) * np.expm1(-beta * limit)) / beta


def simulate_daily_counts(baseline: float, adjacency: float, decay: float, horizon: int, n_paths: int,
                          rng=None, state: float = 0.0, max_events_per_path: int = 10_000,
                          states: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Exact daily counts of ``n_paths`` paths over ``horizon`` days, vectorised across paths.

    Uses the cluster (branching) representation: immigrants at rate mu, offspring of the history
    (Poisson with mean alpha * state * (1 - e^{-beta H})), then generation after generation of
    offspring (Poisson(alpha * (1 - e^{-beta (H - s)})) children of an event at s, at Exp(beta) lags
    truncated to the horizon). Each loop iteration advances every path by one generation. Day d
    (0-based) counts the events in (d, d + 1] after the origin. Paths with more than
    ``max_events_per_path`` events (explosive parameters) stop branching; a warning says so.
    Returns an int64 array ``n_paths x horizon`` and, with ``states``, also the excitation at the start
    of each day, S_{p,d} = state e^{-beta d} + sum over the path's events t <= d of e^{-beta (d - t)}.
    """
    rng = np.random.default_rng(rng)
    mu, alpha, beta, H = float(baseline), float(adjacency), float(decay), int(horizon)
    n_paths = int(n_paths)
    ids = np.arange(n_paths)
    n_imm = rng.poisson(mu * H, n_paths)
    n_hist = rng.poisson(alpha * float(state) * -math.expm1(-beta * H), n_paths) if state > 0 else np.zeros(
        n_paths, np.int64)
    path = np.concatenate([np.repeat(ids, n_imm), np.repeat(ids, n_hist)])
    time = np.concatenate([rng.uniform(0.0, H, int(n_imm.sum())),
                           _truncated_exponential(rng, beta, np.full(int(n_hist.sum()), float(H)))])
    counts = np.zeros(n_paths * H, np.int64)
    day_end = np.zeros(n_paths * H)  # sum over each day's events of e^{-beta (end of day - t)}
    saturated = np.zeros(n_paths, bool)
    while len(path):
        day = np.minimum(np.ceil(time).astype(np.int64) - 1, H - 1)
        np.maximum(day, 0, out=day)
        cell = path * H + day
        counts += np.bincount(cell, minlength=n_paths * H)
        if states:
            day_end += np.bincount(cell, weights=np.exp(beta * (time - day - 1.0)), minlength=n_paths * H)
        if alpha <= 0:
            break
        totals = counts.reshape(n_paths, H).sum(axis=1)
        full = totals > max_events_per_path
        if full.any():
            saturated |= full
            keep = ~full[path]
            path, time = path[keep], time[keep]
        rem = H - time
        k = rng.poisson(alpha * -np.expm1(-beta * rem))
        path = np.repeat(path, k)
        rem = np.repeat(rem, k)
        time = (H - rem) + _truncated_exponential(rng, beta, rem)
    if saturated.any():
        log.warning("hawkes_continuous: %d of %d simulated paths exceeded %d events (explosive parameters, "
                    "adjacency=%.3g); their counts are truncated", saturated.sum(), n_paths, max_events_per_path,
                    alpha)
    counts = counts.reshape(n_paths, H)
    if not states:
        return counts
    day_end = day_end.reshape(n_paths, H)
    start = np.empty((n_paths, H))
    start[:, 0] = float(state)
    for d in range(1, H):
        start[:, d] = start[:, d - 1] * math.exp(-beta) + day_end[:, d - 1]
    return counts, start


def expected_daily_counts(baseline: float, adjacency: float, decay: float, horizon: int,
                          state: float = 0.0) -> np.ndarray:
    """Closed-form E[count] of each of the ``horizon`` days after the origin.

    The mean intensity m(t) solves m' = -beta (1 - alpha) m + beta mu with m(0) = mu + alpha beta state.
    """
    mu, alpha, beta = float(baseline), float(adjacency), float(decay)
    s = np.arange(int(horizon), dtype=float)
    m0 = mu + alpha * beta * float(state)
    kappa = beta * (1.0 - alpha)
    if abs(kappa) < 1e-12:
        return m0 + beta * mu * (s + 0.5)
    level = beta * mu / kappa  # mu / (1 - alpha)
    return level + (m0 - level) * np.exp(-kappa * s) * (-math.expm1(-kappa) / kappa)


def counts_to_timestamps(counts, spread: str = "uniform", rng=None) -> tuple[np.ndarray, float]:
    """Event times from daily counts: the k events of day d (0-based) get times in (d, d + 1].

    ``spread="uniform"``: sorted U(0, 1) offsets drawn from ``rng``; ``"even"``: offsets (j + 0.5) / k.
    Returns ``(times, end_time)`` with end_time = number of days.
    """
    if spread not in SPREADS:
        raise ForecastInputError(f"must be one of {', '.join(SPREADS)}; got {spread!r}", column="spread")
    y = np.asarray(counts).astype(np.int64)
    n = int(y.sum())
    day = np.repeat(np.arange(len(y)), y)
    if spread == "even":
        first = np.repeat(np.cumsum(y) - y, y)
        k = np.repeat(y, y)
        offset = (np.arange(n) - first + 0.5) / k
    else:
        rng = np.random.default_rng(rng)
        offset = 1.0 - rng.random(n)  # in (0, 1]
        offset = offset[np.lexsort((offset, day))]  # sorted within each day
    return day + offset, float(len(y))
