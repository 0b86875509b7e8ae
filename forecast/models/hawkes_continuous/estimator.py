"""Maximum-likelihood fit of the exponential-kernel Hawkes process to event times, and its learner."""
from __future__ import annotations

import functools
import logging
import math

import numpy as np
from scipy import optimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from threadpoolctl import ThreadpoolController

from forecast.errors import ForecastInputError, ModelFitError
from forecast.models.base import FitSummary
from forecast.models.hawkes_continuous import likelihood as lik
from forecast.models.hawkes_continuous.diagnostics import TimeRescaling, time_rescaling
from forecast.models.newton import newton_maximise

log = logging.getLogger(__name__)

BASELINE_BOUNDS = (1e-10, 1e4)  # events per day
ADJACENCY_MAX = 5.0  # as in the discrete Hawkes; > 1 is explosive
DECAY_BOUNDS = (1e-4, 1e4)  # per day
PARAM_NAMES = ("baseline", "adjacency", "decay")
_START_DECAYS = (0.1, 0.3, 1.0, 3.0)  # x the event rate


def _check_times(timestamps, end_time) -> tuple[np.ndarray, float]:
    """Event times as a sorted float array inside (0, end_time], and end_time as a float."""
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
    best = float(grid[np.argmax([lik.loglik((mu0, a0, b), t, T) for b in grid])])
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
        ll, g, H = lik.loglik_terms(p, t, T, order)
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
    ll = lik.loglik(params, t, T)
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
            cov = np.linalg.inv(lik.observed_information(params, t, end_time, free))
            d = np.diag(cov)
            se[free] = np.sqrt(np.where(d > 0, d, np.nan))
        except np.linalg.LinAlgError:
            pass
    return se


class ExpKernelHawkes(BaseEstimator):
    """Exponential-kernel Hawkes process fitted to event times (days) by exact maximum likelihood.

        lambda(t) = mu + sum_{t_i < t} alpha beta e^{-beta (t - t_i)}

    mu = ``baseline_`` (events per day), alpha = ``adjacency_`` (branching ratio: the kernel integrates
    to alpha, the expected number of direct offspring of an event; stationary when < 1), beta =
    ``decay_`` (per day; mean lag of an offspring 1/beta days). tick's ``HawkesExpKern`` vocabulary.

    Parameters
    ----------
    decay : float or None
        Hold beta fixed at this value (per day); None estimates it.

    Attributes
    ----------
    baseline_, adjacency_, decay_ : fitted mu, alpha, beta.
    loglik_ : maximised log-likelihood on (0, end_time_].
    stderr_ : dict of Wald standard errors (observed information; NaN when fixed or on a bound).
    converged_ : whether the optimiser converged.
    n_evaluations_ : likelihood evaluations the fit took (``fit_mle``).
    decay_fixed_ : whether beta was held fixed.
    timestamps_, end_time_ : the fitted event times and window.
    state_ : excitation at end_time_, sum_j e^{-beta (T - t_j)} (``excitation_state``).
    """

    def __init__(self, decay: float | None = None):
        self.decay = decay

    def fit_timestamps(self, timestamps, end_time: float, decay: float | None = None) -> ExpKernelHawkes:
        """Maximum-likelihood fit to event times on (0, end_time]; ``decay`` (or the ``decay`` parameter)
        holds beta fixed. Tied times (e.g. whole days) are allowed but push the decay up; spread them
        within the day (``counts_to_timestamps``). Returns self."""
        t, T = _check_times(timestamps, end_time)
        decay = self.decay if decay is None else decay
        if len(t) == 0:
            raise ModelFitError("hawkes_continuous: no events in the window (0, end_time]; nothing to fit")
        if decay is not None and not (np.isfinite(decay) and decay > 0):
            raise ForecastInputError(f"must be a number > 0 or null, got {decay!r}", column="decay")
        if len(t) > 1 and np.any(np.diff(t) == 0):
            log.warning("hawkes_continuous: %d tied event times; the fitted decay will be inflated",
                        int(np.sum(np.diff(t) == 0)))
        params, ll, ok, n_eval = fit_mle(t, T, decay)
        self.baseline_, self.adjacency_, self.decay_ = (float(p) for p in params)
        self.loglik_, self.converged_, self.n_evaluations_ = ll, ok, n_eval
        self.decay_fixed_ = decay is not None
        self.stderr_ = dict(zip(PARAM_NAMES, map(float, standard_errors(params, t, T, self.decay_fixed_))))
        self.timestamps_, self.end_time_ = t, T
        self.state_ = lik.excitation_state(t, self.decay_, T)
        if not ok:
            log.warning("hawkes_continuous: the optimiser did not converge (%d likelihood evaluations)", n_eval)
        if self.adjacency_ >= 0.9:
            log.warning("hawkes_continuous: branching ratio %.2f is near or above 1 (non-stationary)",
                        self.adjacency_)
        return self

    @property
    def params_(self) -> np.ndarray:
        """(mu, alpha, beta) as an array."""
        return np.array([self.baseline_, self.adjacency_, self.decay_])

    def _check_fitted(self) -> None:
        if not hasattr(self, "timestamps_"):
            raise NotFittedError("ExpKernelHawkes is not fitted yet; call fit_timestamps(timestamps, end_time)")

    def time_rescaling(self, n_quantiles: int = 200) -> TimeRescaling:
        """Time-rescaling diagnostic of the fitted model on the fitted event times."""
        self._check_fitted()
        return time_rescaling(self.timestamps_, self.end_time_, *self.params_, n_quantiles)

    def summary(self) -> FitSummary:
        """Parameters, standard errors, log-likelihood, AIC and the time-rescaling diagnostic."""
        tr = self.time_rescaling()
        diag = {"converged": self.converged_, "branching_ratio": self.adjacency_,
                "stationary": self.adjacency_ < 1.0, "near_critical": self.adjacency_ >= 0.9,
                "decay_fixed": self.decay_fixed_, "mean_lag_days": 1.0 / self.decay_, "end_time": self.end_time_,
                "ks_statistic": tr.ks_statistic, "ks_p_value": tr.ks_p_value, "qq": tr.qq}
        return FitSummary("hawkes_continuous", dict(zip(PARAM_NAMES, map(float, self.params_))), dict(self.stderr_),
                          self.loglik_, len(self.timestamps_), diag)
