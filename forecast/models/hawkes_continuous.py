"""Continuous-time Hawkes process with an exponential kernel, fitted to event times (days).

    lambda(t) = mu + sum_{t_i < t} alpha * beta * exp(-beta * (t - t_i))

Symbols and attributes: mu = ``baseline_`` (events per day), alpha = ``adjacency_`` (branching
ratio: the kernel integrates to alpha, the expected number of direct offspring of an event;
stationary when < 1), beta = ``decay_`` (per day; mean lag of an offspring 1/beta days). Same
vocabulary and parametrisation as tick's ``HawkesExpKern``.

Exact log-likelihood on the window (0, T], T = ``end_time``, with A_i = sum_{j<i} e^{-beta (t_i - t_j)}:

    l = sum_i log(mu + alpha beta A_i) - mu T - alpha sum_i (1 - e^{-beta (T - t_i)})

The likelihood, its gradient and its Hessian are plain vectorised functions (``loglik_terms``,
``loglik_and_grad``); the fit is Newton's method on them (``fit_mle``). Simulation
(``simulate_timestamps``, ``simulate_daily_counts``) is kept apart from inference.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats
from sklearn.exceptions import NotFittedError
from threadpoolctl import ThreadpoolController

from forecast.errors import ForecastInputError, ModelFitError
from forecast.models.base import FitSummary, Forecaster, Param, SampleCountForecast
from forecast.models.newton import newton_maximise

log = logging.getLogger(__name__)

BASELINE_BOUNDS = (1e-10, 1e4)  # events per day
ADJACENCY_MAX = 5.0  # as in the discrete Hawkes; > 1 is explosive
DECAY_BOUNDS = (1e-4, 1e4)  # per day
SPREADS = ("uniform", "even")

_SPAN = 600.0  # largest decay x time span inside one row of the blocked scan (e^600 ~ 4e260)
_PARAM_NAMES = ("baseline", "adjacency", "decay")


# ---- likelihood ------------------------------------------------------------------------------
def _rows(t: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Cut sorted times into rows whose span x beta < ``_SPAN`` and that hold at most ``cap`` events.

    Returns ``(row_start, row_id, col, width)``: first event of each row, row of each event, its
    position in the row, and the longest row.
    """
    n = len(t)
    cell = np.floor(beta * (t - t[0]) / _SPAN).astype(np.int64)
    new_cell = np.empty(n, bool)
    new_cell[0] = True
    np.not_equal(cell[1:], cell[:-1], out=new_cell[1:])
    cell_start = np.flatnonzero(new_cell)
    # cap the row length so the padded layout stays ~O(n) when events cluster in a few cells
    cap = int(np.clip(2 * n // len(cell_start), 16, 2048))
    if len(cell_start) == 1:
        rank = np.arange(n)
    else:
        rank = np.arange(n) - np.repeat(cell_start, np.diff(np.append(cell_start, n)))
    new_row = new_cell | (rank % cap == 0)
    row_start = np.flatnonzero(new_row)
    lengths = np.diff(np.append(row_start, n))
    row_id = np.repeat(np.arange(len(row_start)), lengths)
    col = np.arange(n) - np.repeat(row_start, lengths)
    return row_start, row_id, col, int(lengths.max())


def _carry(ts: np.ndarray, tl: np.ndarray, beta: float, row_sums: list[np.ndarray]) -> list[np.ndarray]:
    """State P_k = sum_{j in earlier rows} (ts_r - t_j)^k e^{-beta (ts_r - t_j)}, k = 0..order, at each
    row's first event ts_r, from the rows' first and last times ``ts``, ``tl`` and the row sums
    V_k = sum_{j in row} (t_j - ts_r)^k e^{beta (t_j - ts_r)}.

    One scalar step per row. With w = tl_r - ts_r, s = e^{-beta w}, the state just after the row's
    last event is L_0 = s (P_0 + V_0), L_1 = s P_1 + w L_0 - s V_1, L_2 = s P_2 + w (2 L_1 - w L_0) + s V_2;
    across the gap g to the next row, d = e^{-beta g}: P_0 = d L_0, P_1 = d (L_1 + g L_0),
    P_2 = d (L_2 + g (2 L_1 + g L_0)). The row sums are rescaled by s first, so the state only
    underflows where it is truly below the float64 range.
    """
    order = len(row_sums) - 1
    n_rows = len(ts)
    width = tl - ts
    shrink = np.exp(-beta * width)
    gap = ts[1:] - tl[:-1]
    dec = np.exp(-beta * gap).tolist()
    V0, V1, V2 = [(V * shrink).tolist() for V in row_sums] + [[0.0] * n_rows] * (2 - order)
    width, shrink, gap = width.tolist(), shrink.tolist(), gap.tolist()
    P0, P1, P2 = [0.0] * n_rows, [0.0] * n_rows, [0.0] * n_rows
    p0 = p1 = p2 = 0.0
    second = order == 2
    for r in range(n_rows - 1):
        s, w, g, d = shrink[r], width[r], gap[r], dec[r]
        l0 = s * p0 + V0[r]
        l1 = s * p1 + w * l0 - V1[r]
        p0 = d * l0
        p1 = d * (l1 + g * l0)
        P0[r + 1], P1[r + 1] = p0, p1
        if second:
            l2 = s * p2 + w * (2.0 * l1 - w * l0) + V2[r]
            p2 = d * (l2 + g * (2.0 * l1 + g * l0))
            P2[r + 1] = p2
    return [np.asarray(P) for P in (P0, P1, P2)[:order + 1]]


def _finish(u, w, S, P) -> list[np.ndarray]:
    """M_k = sum_j (u_i - u_j)^k e^{-beta (u_i - u_j)} over the row's earlier events plus the state
    carried in from earlier rows, from w = e^{beta u}, the within-row sums S_m = sum_j u_j^m e^{beta u_j}
    and the carried state P_m at the row's first event. With Q_m = P_m + (-1)^m S_m:
    M_0 = Q_0 / w, M_1 = (u Q_0 + Q_1) / w, M_2 = (u (u Q_0 + 2 Q_1) + Q_2) / w. Overwrites w and S."""
    order = len(S) - 1
    inv_w = np.divide(1.0, w, out=w)
    q0 = np.add(S[0], P[0], out=S[0])
    M = [q0 * inv_w]
    if order == 0:
        return M
    q1 = np.subtract(P[1], S[1], out=S[1])
    m1w = np.multiply(u, q0, out=q0)  # M_1 w
    m1w += q1
    if order == 2:
        m2w = np.add(m1w, q1, out=q1)  # M_2 w
        m2w *= u
        m2w += np.add(S[2], P[2], out=S[2])
    M.append(np.multiply(m1w, inv_w, out=m1w))
    if order == 2:
        M.append(np.multiply(m2w, inv_w, out=m2w))
    return M


def _weighted_powers(u: np.ndarray, w: np.ndarray, order: int) -> list[np.ndarray]:
    """[u^k w for k = 0..order]."""
    terms = [w]
    for _ in range(order):
        terms.append(terms[-1] * u)
    return terms


def excitation_sums(t: np.ndarray, beta: float, order: int = 1) -> list[np.ndarray]:
    """M_k,i = sum_{j<i} (t_i - t_j)^k e^{-beta (t_i - t_j)} for k = 0..order (at most 2).

    A = M_0, B = M_1, E = M_2, with dA/dbeta = -B and dB/dbeta = -E. Blocked scan, no per-event
    Python loop: the events are cut into rows of consecutive events whose span x beta < 600; inside
    a row the sums are cumulative sums of u^k e^{beta u}, u = t_j - t_s relative to the row's first
    event t_s, and the state is carried from row to row (one scalar step per row, ``_carry``).
    Every term stays within float64 range for any beta x T. Expanding (u_i - u_j)^k costs accuracy
    where lags are tiny next to u: B to about eps u / lag relative, E to about eps (u / lag)^2.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
    t = np.asarray(t, float)
    n = len(t)
    if n == 0:
        return [np.zeros(0) for _ in range(order + 1)]
    span = beta * (t[-1] - t[0])
    if span < _SPAN:  # a single row
        u = t - t[0]
        w = np.exp(beta * u)
        S = []
        for term in _weighted_powers(u, w, order):
            s = np.empty(n)
            s[0] = 0.0
            np.cumsum(term[:-1], out=s[1:])
            S.append(s)
        return _finish(u, w, S, [0.0] * (order + 1))
    # rows of L consecutive events (a reshape, no scatter) when each row spans < _SPAN / beta
    L = int(min(1024, 0.5 * _SPAN * n / span))
    if L >= 16:
        n_rows = -(-n // L)
        tp = np.empty(n_rows * L)
        tp[:n] = t
        tp[n:] = t[-1]  # padding after the last event changes no earlier sum
        tp = tp.reshape(n_rows, L)
        ts, tl = tp[:, 0].copy(), tp[:, -1].copy()
        if beta * float(np.max(tl - ts)) < _SPAN:
            u = np.subtract(tp, ts[:, None], out=tp)
            w = np.exp(beta * u)
            S, V = [], []
            for term in _weighted_powers(u, w, order):
                s = np.zeros_like(w)
                np.cumsum(term[:, :-1], axis=1, out=s[:, 1:])
                S.append(s)
                V.append(s[:, -1] + term[:, -1])
            P = _carry(ts, tl, beta, V)
            return [M.reshape(-1)[:n] for M in _finish(u, w, S, [p[:, None] for p in P])]
    # general case (events bunched in time): rows cut at multiples of _SPAN / beta, padded layout
    row_start, row_id, col, width = _rows(t, beta)
    n_rows = len(row_start)
    ts = t[row_start]
    u = t - ts[row_id]  # time since the row's first event; beta * u < _SPAN
    w = np.exp(beta * u)
    # exclusive cumulative sums in a padded ((width + 1) x rows) layout, row r in column r:
    # event (r, c) sits at [c + 1, r], so the inclusive sum down to [c, r] covers the earlier
    # events of its row; summing down axis 0 adds whole contiguous lines (vectorised across rows)
    pos = (col + 1) * n_rows + row_id
    buf = np.zeros((order + 1, (width + 1) * n_rows))
    for k, term in enumerate(_weighted_powers(u, w, order)):
        buf[k, pos] = term
    cs = buf.reshape(order + 1, width + 1, n_rows)
    np.cumsum(cs, axis=1, out=cs)
    pos -= n_rows
    S = [cs[k].reshape(-1)[pos] for k in range(order + 1)]
    tl = np.append(t[row_start[1:] - 1], t[-1])
    P = _carry(ts, tl, beta, list(cs[:, -1]))
    return _finish(u, w, S, [p[row_id] for p in P])


def _as_times(t, end_time) -> tuple[np.ndarray, float]:
    t = np.asarray(t, dtype=float).ravel()
    return t, float(end_time)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum_i a_i b_i without a temporary array; einsum, not np.dot: BLAS threads stall on a busy machine."""
    return float(np.einsum("i,i->", a, b))


def loglik_terms(params, t, end_time, order: int = 2) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Exact log-likelihood on (0, end_time] and, for ``order`` >= 1, its analytic gradient, for
    ``order`` 2 also its analytic Hessian, with respect to (mu, alpha, beta).

    With lambda_i = mu + alpha beta A_i, r_i = T - t_i, e_i = e^{-beta r_i} and
    dlambda_i = (1, beta A_i, alpha (A_i - beta B_i)):

        dl = sum_i dlambda_i / lambda_i + (-T, sum_i (e_i - 1), -alpha sum_i r_i e_i)
        d2l = -sum_i dlambda_i dlambda_i' / lambda_i^2 + sum_i d2lambda_i / lambda_i + d2c

    where d2lambda/dalpha dbeta = A - beta B, d2lambda/dbeta2 = alpha (beta E - 2 B), and the
    compensator term c = alpha sum_i (e_i - 1) has d2c/dalpha dbeta = -sum r e, d2c/dbeta2 = alpha sum r^2 e
    (all other second derivatives vanish). Returns ``(loglik, gradient or None, Hessian or None)``.
    """
    mu, alpha, beta = (float(p) for p in params)
    t, T = _as_times(t, end_time)
    if len(t) == 0:
        return -mu * T, (np.array([-T, 0.0, 0.0]) if order else None), (np.zeros((3, 3)) if order > 1 else None)
    M = excitation_sums(t, beta, order=order)
    A = M[0]
    lam = A * (alpha * beta)
    lam += mu
    rem = T - t
    em1 = np.multiply(rem, -beta)
    np.expm1(em1, out=em1)  # e^{-beta (T - t_i)} - 1
    s_em1 = float(em1.sum())
    ll = float(np.log(lam).sum()) - mu * T + alpha * s_em1
    if order == 0:
        return ll, None, None
    inv = np.divide(1.0, lam, out=lam)
    r_e = em1 + 1.0
    r_e *= rem  # r_i e_i
    s_a, s_b, s_re = _dot(A, inv), _dot(M[1], inv), float(r_e.sum())
    g = np.array([float(inv.sum()) - T, beta * s_a + s_em1, alpha * (s_a - beta * s_b - s_re)])
    if order == 1:
        return ll, g, None
    x1 = np.multiply(A, inv, out=A)  # A_i / lambda_i
    x2 = np.multiply(M[1], inv, out=M[1])
    x2 *= -beta
    x2 += x1
    x2 *= alpha  # (dlambda/dbeta) / lambda = alpha (A_i - beta B_i) / lambda_i
    x1 *= beta  # (dlambda/dalpha) / lambda
    # sum_i d2lambda_i / lambda_i + d2c, alpha-beta and beta-beta entries
    ab = s_a - beta * s_b - s_re
    bb = alpha * (beta * _dot(M[2], inv) - 2.0 * s_b + _dot(rem, r_e))
    s01, s02, s12 = _dot(inv, x1), _dot(inv, x2), _dot(x1, x2)
    H = np.array([[-_dot(inv, inv), -s01, -s02],
                  [-s01, -_dot(x1, x1), ab - s12],
                  [-s02, ab - s12, bb - _dot(x2, x2)]])
    return ll, g, H


def loglik_and_grad(params, t, end_time) -> tuple[float, np.ndarray]:
    """Exact log-likelihood on (0, end_time] and its analytic gradient with respect to (mu, alpha, beta);
    mu > 0, alpha >= 0, beta > 0, ``t`` sorted event times in (0, end_time]."""
    ll, g, _ = loglik_terms(params, t, end_time, order=1)
    return ll, g


def loglik(params, t, end_time) -> float:
    """Exact log-likelihood on (0, end_time] (no derivatives; see ``loglik_terms``)."""
    return loglik_terms(params, t, end_time, order=0)[0]


def excitation_state(t, decay: float, at: float) -> float:
    """S = sum_{t_j <= at} e^{-decay (at - t_j)}: lambda(at+) = mu + alpha * decay * S."""
    t = np.asarray(t, float)
    t = t[t <= at]
    return float(np.exp(-decay * (at - t)).sum())


# ---- estimation ------------------------------------------------------------------------------
def _check_times(timestamps, end_time) -> tuple[np.ndarray, float]:
    t = np.asarray(timestamps, dtype=float).ravel()
    try:
        T = float(end_time)
    except (TypeError, ValueError):
        raise ForecastInputError(f"must be a number, got {end_time!r}", column="end_time") from None
    if not np.all(np.isfinite(t)):
        raise ForecastInputError("must be finite numbers (days)", column="timestamps")
    if not np.isfinite(T) or T <= 0:
        raise ForecastInputError(f"must be a finite number > 0, got {end_time!r}", column="end_time")
    if len(t) and (t.min() < 0 or t.max() > T):
        raise ForecastInputError(f"must lie in the window (0, end_time={T:g}]", column="timestamps")
    if len(t) > 1 and np.any(np.diff(t) < 0):
        t = np.sort(t)
    return t, T


_START_DECAYS = (0.1, 0.3, 1.0, 3.0)  # x the event rate


def _start(t: np.ndarray, T: float, decay: float | None) -> tuple[np.ndarray, int]:
    """Starting (mu, alpha, beta) and the likelihood evaluations it took: half the events to the
    background, alpha = 0.5 and, unless fixed, the best decay among 0.1, 0.3, 1 and 3 x the event rate
    (the grid guards against poor local optima). No higher decays: started there, Newton can drift onto
    the alpha -> 0 plateau; started at 3 x the rate, it climbs to higher decays by itself."""
    rate = len(t) / T
    mu0, a0 = max(0.5 * rate, 2 * BASELINE_BOUNDS[0]), 0.5
    if decay is not None:
        return np.array([mu0, a0, float(decay)]), 0
    grid = np.clip(rate * np.array(_START_DECAYS), *DECAY_BOUNDS)
    best = float(grid[np.argmax([loglik((mu0, a0, b), t, T) for b in grid])])
    return np.array([mu0, a0, best]), len(grid)


def fit_mle(t: np.ndarray, end_time: float, decay: float | None = None,
            start: np.ndarray | None = None) -> tuple[np.ndarray, float, bool, int]:
    """Maximum-likelihood (mu, alpha, beta) over z = (log mu, alpha, log beta) within bounds.

    Newton's method with the analytic Hessian (``newton_maximise``; with J = diag(mu, 1, beta),
    dl/dz = J dl/dtheta and d2l/dz2 = J H J + diag(mu dl/dmu, 0, beta dl/dbeta)). When the optimum lies
    on a bound (no self-excitation, alpha = 0) or Newton fails, L-BFGS-B with the analytic gradient
    takes over from Newton's last iterate. ``decay`` given holds beta fixed.
    Returns ``(params, loglik, converged, n_evaluations)``, counting every likelihood evaluation
    (start, Newton, L-BFGS-B and the final one).
    """
    t = np.asarray(t, float)
    T = float(end_time)
    n = len(t)
    if n == 0:
        raise ModelFitError("hawkes_continuous: no events in the window; nothing to fit")
    n_start = 0
    if start is None:
        start, n_start = _start(t, T, decay)
    k = 2 if decay is not None else 3  # free coordinates of z

    def to_z(p):
        return np.array([math.log(p[0]), p[1], math.log(p[2])])[:k]

    def unpack(z):
        return np.array([math.exp(z[0]), z[1], math.exp(z[2]) if k == 3 else float(decay)])

    lowest = np.array([BASELINE_BOUNDS[0], 0.0, DECAY_BOUNDS[0]])
    highest = np.array([BASELINE_BOUNDS[1], ADJACENCY_MAX, DECAY_BOUNDS[1]])
    lower, upper = to_z(lowest), to_z(highest)
    z0 = to_z(np.clip(start, lowest, highest))

    def terms(z, order=2):
        p = unpack(z)
        ll, g, H = loglik_terms(p, t, T, order)
        jac = np.array([p[0], 1.0, p[2]])[:k]
        gz = g[:k] * jac
        if order == 1:
            return ll, gz, None
        Hz = H[:k, :k] * np.outer(jac, jac)
        Hz[0, 0] += gz[0]
        if k == 3:
            Hz[2, 2] += gz[2]
        return ll, gz, Hz

    margin = 1e-9 * (upper - lower)  # Newton works strictly inside the box
    z, converged, n_eval = newton_maximise(terms, np.clip(z0, lower + margin, upper - margin), lower, upper,
                                       max_step=2.0)
    if not converged:
        def objective(z):
            ll, gz, _ = terms(z, order=1)
            return -ll / n, -gz / n

        bounds = list(zip(lower, upper))
        with _blas_controller().limit(limits=1, user_api="blas"):
            res = optimize.minimize(objective, z, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        z, n_eval = res.x, n_eval + int(res.nfev)
        # L-BFGS-B often stops on the relative-decrease test; a small projected gradient is convergence too
        converged = bool(res.success) or bool(np.max(np.abs(_projected(res.jac, res.x, bounds))) < 1e-6)
    params = unpack(z)
    ll = loglik(params, t, T)
    if not np.all(np.isfinite(params)) or not np.isfinite(ll):
        raise ModelFitError("hawkes_continuous: the likelihood maximisation diverged")
    return params, ll, converged, n_start + n_eval + 1


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """L-BFGS-B calls BLAS on 3-vectors: threaded BLAS only adds waits (x100 on a busy machine)."""
    return ThreadpoolController()


def _projected(g, z, bounds) -> np.ndarray:
    g = np.array(g, float)
    for i, (lo, hi) in enumerate(bounds):
        if (z[i] <= lo + 1e-12 and g[i] > 0) or (z[i] >= hi - 1e-12 and g[i] < 0):
            g[i] = 0.0
    return g


def observed_information(params, t, end_time, free=(True, True, True)) -> np.ndarray:
    """Negative analytic Hessian of the log-likelihood (``loglik_terms``) over the free parameters."""
    idx = np.flatnonzero(free)
    return -loglik_terms(params, t, end_time, order=2)[2][np.ix_(idx, idx)]


def standard_errors(params, t, end_time, fixed_decay: bool = False) -> np.ndarray:
    """Wald standard errors from the observed information; NaN for fixed parameters or ones on a bound."""
    mu, alpha, beta = params
    alpha_free = 1e-8 < alpha < ADJACENCY_MAX - 1e-8
    free = np.array([BASELINE_BOUNDS[0] * 1.01 < mu < BASELINE_BOUNDS[1] * 0.99, alpha_free,
                     # with alpha = 0 the decay is not identified
                     alpha_free and not fixed_decay and DECAY_BOUNDS[0] * 1.01 < beta < DECAY_BOUNDS[1] * 0.99])
    se = np.full(3, np.nan)
    if free.any():
        try:
            cov = np.linalg.inv(observed_information(params, t, end_time, free))
            d = np.diag(cov)
            se[free] = np.sqrt(np.where(d > 0, d, np.nan))
        except np.linalg.LinAlgError:
            pass
    return se


# ---- diagnostics -----------------------------------------------------------------------------
@dataclass
class TimeRescaling:
    """Time-rescaling check: compensator increments are i.i.d. Exp(1) under the model."""

    increments: np.ndarray
    ks_statistic: float
    ks_p_value: float
    qq: pd.DataFrame  # columns theoretical, empirical (Exp(1) quantiles)


def compensator_increments(t, end_time, baseline, adjacency, decay) -> np.ndarray:
    """Lambda(t_i) - Lambda(t_{i-1}) for each event (t_0 = 0)."""
    t, _ = _as_times(t, end_time)
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


# ---- simulation ------------------------------------------------------------------------------
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
                          rng=None, state: float = 0.0, max_events_per_path: int = 10_000) -> np.ndarray:
    """Exact daily counts of ``n_paths`` paths over ``horizon`` days, vectorised across paths.

    Uses the cluster (branching) representation: immigrants at rate mu, offspring of the history
    (Poisson with mean alpha * state * (1 - e^{-beta H})), then generation after generation of
    offspring (Poisson(alpha * (1 - e^{-beta (H - s)})) children of an event at s, at Exp(beta) lags
    truncated to the horizon). Each loop iteration advances every path by one generation. Day d
    (0-based) counts the events in (d, d + 1] after the origin. Paths with more than
    ``max_events_per_path`` events (explosive parameters) stop branching; a warning says so.
    Returns an int64 array ``n_paths x horizon``.
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
    saturated = np.zeros(n_paths, bool)
    while len(path):
        day = np.minimum(np.ceil(time).astype(np.int64) - 1, H - 1)
        np.maximum(day, 0, out=day)
        counts += np.bincount(path * H + day, minlength=n_paths * H)
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
    return counts.reshape(n_paths, H)


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


# ---- daily counts -> event times -------------------------------------------------------------
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
        # sort within each day: sort by (day, offset)
        offset = offset[np.lexsort((offset, day))]
    return day + offset, float(len(y))


# ---- the estimator ---------------------------------------------------------------------------
class HawkesContinuous(Forecaster):
    """Exponential-kernel Hawkes process on event times; see the module docstring.

    lambda(t) = mu + sum_{t_i < t} alpha beta e^{-beta (t - t_i)}, mu = ``baseline_``,
    alpha = ``adjacency_``, beta = ``decay_``.

    Parameters
    ----------
    decay : float or None
        Hold beta fixed at this value (per day); None estimates it.
    spread : {"uniform", "even"}
        How ``fit(counts)`` places the k events of a day inside the day: sorted seeded uniform
        offsets, or (j + 0.5) / k.
    n_paths : int
        Simulated paths per forecast.
    random_state : int, Generator or None
        Seed of the spreading offsets and of the forecast simulation.

    Attributes
    ----------
    baseline_, adjacency_, decay_ : fitted mu, alpha, beta.
    loglik_ : maximised log-likelihood on (0, end_time_].
    stderr_ : dict of Wald standard errors (observed information; NaN when fixed or on a bound).
    converged_ : whether the optimiser converged.
    n_evaluations_ : likelihood evaluations the fit took (``fit_mle``).
    timestamps_, end_time_ : the fitted event times and window.
    state_ : excitation at the forecast origin, sum_j e^{-beta (T - t_j)}.
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

    # ---- fitting ---------------------------------------------------------------------------
    def fit_timestamps(self, timestamps, end_time: float, decay: float | None = None) -> "HawkesContinuous":
        """Maximum-likelihood fit to event times (days) on (0, end_time].

        ``decay`` (or the ``decay`` parameter) holds beta fixed. Tied times (e.g. whole days) are
        allowed but push the decay up; spread them within the day (``counts_to_timestamps``).
        Returns self.
        """
        for attr in ("counts_", "triggers_", "_fit_counts"):
            self.__dict__.pop(attr, None)
        t, T = _check_times(timestamps, end_time)
        if len(t) > 1 and np.any(np.diff(t) == 0):
            log.warning("hawkes_continuous: %d tied event times; the fitted decay will be inflated",
                        int(np.sum(np.diff(t) == 0)))
        self._fit_times(t, T, self.decay if decay is None else decay)
        return self

    def _fit_times(self, t: np.ndarray, T: float, decay: float | None) -> None:
        if len(t) == 0:
            raise ModelFitError("hawkes_continuous: no events in the window (0, end_time]; nothing to fit")
        if decay is not None and not (np.isfinite(decay) and decay > 0):
            raise ForecastInputError(f"must be a number > 0 or null, got {decay!r}", column="decay")
        params, ll, ok, n_eval = fit_mle(t, T, decay)
        self.baseline_, self.adjacency_, self.decay_ = (float(p) for p in params)
        self.loglik_, self.converged_, self.n_evaluations_ = ll, ok, n_eval
        self.decay_fixed_ = decay is not None
        se = standard_errors(params, t, T, fixed_decay=self.decay_fixed_)
        self.stderr_ = dict(zip(_PARAM_NAMES, map(float, se)))
        self.timestamps_, self.end_time_ = t, T
        self.state_ = excitation_state(t, self.decay_, T)
        self._diagnostics = None
        if not ok:
            log.warning("hawkes_continuous: the optimiser did not converge (%d likelihood evaluations)", n_eval)
        if self.adjacency_ >= 0.9:
            log.warning("hawkes_continuous: branching ratio %.2f is near or above 1 (non-stationary)",
                        self.adjacency_)

    def _fit(self, counts, triggers):
        y = counts.to_numpy()
        if y.sum() == 0:
            raise ModelFitError("hawkes_continuous: no attacks in the training window; nothing to fit")
        t, T = counts_to_timestamps(y, self.spread, self.rng_)
        self._fit_counts = y.copy()
        self._fit_times(t, T, self.decay)

    def _update(self, counts, triggers):
        t, T = counts_to_timestamps(counts.to_numpy(), self.spread, self.rng_)
        self.state_ = excitation_state(t, self.decay_, T)

    # ---- forecasting -----------------------------------------------------------------------
    def forecast(self, horizon, future_triggers=None, n_paths=None):
        if hasattr(self, "timestamps_") and not hasattr(self, "counts_"):
            raise NotFittedError("HawkesContinuous.forecast needs fit(counts); after fit_timestamps use "
                                 "simulate_daily_counts(..., state=model.state_)")
        return super().forecast(horizon, future_triggers, n_paths)

    def _forecast(self, index, future_triggers, n_paths):
        rng = self.forecast_rng(index)
        paths = simulate_daily_counts(self.baseline_, self.adjacency_, self.decay_, len(index),
                                      int(n_paths or self.n_paths), rng, state=self.state_)
        return SampleCountForecast(index, paths)

    # ---- summary ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "timestamps_"):
            raise NotFittedError("HawkesContinuous is not fitted yet; call fit(counts) or fit_timestamps(...)")

    def time_rescaling(self, n_quantiles: int = 200) -> TimeRescaling:
        """Time-rescaling diagnostic of the fitted model on the fitted event times."""
        self._check_fitted()
        return time_rescaling(self.timestamps_, self.end_time_, self.baseline_, self.adjacency_, self.decay_,
                              n_quantiles)

    def spread_sensitivity(self, seeds: int = 3) -> dict[str, dict[str, float]] | None:
        """Refit with ``seeds`` other uniform-offset seeds and with ``"even"`` offsets; min/max of each
        parameter over these refits and the fit itself. None after ``fit_timestamps``."""
        self._check_fitted()
        if getattr(self, "_fit_counts", None) is None:
            return None
        base = self.random_state if isinstance(self.random_state, (int, np.integer)) else 0
        start = np.array([self.baseline_, self.adjacency_, self.decay_])
        fixed = self.decay_ if self.decay_fixed_ else None
        fits = [start]
        for k in range(int(seeds) + 1):
            spread, rng = ("even", None) if k == int(seeds) else ("uniform", np.random.default_rng([int(base), k + 1]))
            t, T = counts_to_timestamps(self._fit_counts, spread, rng)
            fits.append(fit_mle(t, T, fixed, start)[0])
        fits = np.array(fits)
        out = {name: {"min": float(fits[:, i].min()), "max": float(fits[:, i].max())}
               for i, name in enumerate(_PARAM_NAMES)}
        out["n_refits"] = {"uniform_seeds": int(seeds), "even": 1}
        return out

    def _summary(self) -> FitSummary:
        if self._diagnostics is None:
            tr = self.time_rescaling()
            sens = self.spread_sensitivity()
            diag: dict[str, object] = {
                "converged": self.converged_, "branching_ratio": self.adjacency_,
                "stationary": self.adjacency_ < 1.0, "near_critical": self.adjacency_ >= 0.9,
                "decay_fixed": self.decay_fixed_, "mean_lag_days": 1.0 / self.decay_,
                "end_time": self.end_time_, "spread": self.spread if sens is not None else "none (event times)",
                "ks_statistic": tr.ks_statistic, "ks_p_value": tr.ks_p_value, "qq": tr.qq,
                "spread_sensitivity": sens,
            }
            if sens is not None:
                for name in _PARAM_NAMES:
                    diag[f"spread_{name}_range"] = f"{sens[name]['min']:.4g} .. {sens[name]['max']:.4g}"
            self._diagnostics = diag
        params = {"baseline": self.baseline_, "adjacency": self.adjacency_, "decay": self.decay_}
        return FitSummary("hawkes_continuous", params, dict(self.stderr_), self.loglik_, len(self.timestamps_),
                          dict(self._diagnostics))
