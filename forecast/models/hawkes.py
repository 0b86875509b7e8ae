"""Discrete-time Hawkes (self-exciting) model of daily counts.

    y_t ~ Poisson(lambda_t),  lambda_t = mu_t + alpha * sum_{s<t} g(t - s) y_s,
    g(d) = (1 - e^{-beta}) e^{-beta (d - 1)}  (d = 1, 2, ...; sums to 1),
    mu_t = exp(gamma_0 + sum_k gamma_k x_{k,t})

Symbols and attributes: exp(gamma_0) = ``baseline_`` (events/day with no triggers), alpha =
``adjacency_`` (branching ratio: expected direct offspring per attack; stationary when < 1),
beta = ``decay_`` (per day), gamma_k = ``effects_["effect_<kind>"]`` (log-rate change per unit of the
trigger feature: > 0 backlash, < 0 deterrence).

Fit: the (weighted) log-likelihood, up to the constant -sum_t w_t log y_t!,

    l_w(theta) = sum_t w_t (y_t log lambda_t - lambda_t),   w_t = 0.5 ** ((T - t) / h)

(T the last fitted day; exponential forgetting with half-life h = ``forget_half_life``, w_t = 1 when None).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.signal import lfilter
from scipy.special import gammaln

from forecast.errors import ModelFitError
from forecast.models.base import FitSummary, Forecaster, MixtureCountForecast, Param
from forecast.models.features import TRIGGER_PARAM_RULES, TriggerFeatures, informative
from forecast.models.glm import FORGET_RULE, forgetting_weights
from forecast.models.newton import newton_maximise, wald_stderr

log = logging.getLogger(__name__)

ALPHA_MAX, BETA_BOUNDS = 5.0, (1e-3, 20.0)


def excitation_states(y: np.ndarray, beta: float, second: bool = False) -> tuple[np.ndarray, ...]:
    """R_t = sum_{s<t} e^{-beta (t-1-s)} y_s and D_t = -dR_t/dbeta (and E_t = d^2R_t/dbeta^2 when
    ``second``), by linear recursions: R_t = a R_{t-1} + y_{t-1}, D_t = a (D_{t-1} + R_{t-1}),
    E_t = a (E_{t-1} + 2 D_{t-1} + R_{t-1}) with a = e^{-beta}."""
    a = np.exp(-beta)
    R = lfilter([0.0, 1.0], [1.0, -a], y.astype(float))
    D = lfilter([0.0, a], [1.0, -a], R)
    if not second:
        return R, D
    return R, D, lfilter([0.0, a], [1.0, -a], R + 2 * D)


def _loglik_terms(theta, y, X, prior_sd=None, n_levels=1, hessian=False, weights=None):
    """(Penalised) weighted log-likelihood sum_t v_t (y_t log lambda_t - lambda_t) (day weights v, 1 when
    ``weights`` is None), its gradient and optionally its Hessian. With c = 1 - a, lambda = mu + alpha c R
    and w = v (y/lambda - 1): dl/dtheta = sum w dlambda/dtheta and
    d2l/dtheta2 = sum [w d2lambda/dtheta2 - (v y/lambda^2) dlambda/dtheta dlambda/dtheta'], where
    dlambda/dbeta = alpha (a R - c D) and d2lambda/dbeta2 = alpha (c E - a R - 2 a D). The weights enter
    only as multipliers of each day's term (v = 1.0 multiplies exactly: the unweighted values are
    reproduced bit for bit)."""
    gamma, alpha, beta = theta[:-2], theta[-2], theta[-1]
    v = 1.0 if weights is None else weights
    R, D, *E = excitation_states(y, beta, second=hessian)
    a = np.exp(-beta)
    c = 1.0 - a
    mu = np.exp(np.clip(X @ gamma, -50, 50))
    lam = mu + alpha * c * R
    vy = v * y
    w = v * (y / lam - 1.0)
    dR_beta = a * R - c * D  # d(cR)/dbeta
    ll = float(vy @ np.log(lam) - (v * lam).sum())
    grad = np.empty_like(theta)
    grad[:-2] = X.T @ (w * mu)
    grad[-2] = np.dot(w, c * R)
    grad[-1] = alpha * np.dot(w, dR_beta)
    hess = None
    k = len(gamma)
    if hessian:
        G = np.column_stack([X * mu[:, None], c * R, alpha * dR_beta])
        hess = -(G * (vy / lam**2)[:, None]).T @ G
        hess[:k, :k] += X.T @ (X * (w * mu)[:, None])
        cross = np.dot(w, dR_beta)
        hess[k, k + 1] += cross
        hess[k + 1, k] += cross
        hess[k + 1, k + 1] += alpha * np.dot(w, c * E[0] - a * R - 2 * a * D)
    if prior_sd:
        effects = theta[n_levels:-2]
        ll -= float(effects @ effects) / (2 * prior_sd**2)
        grad[n_levels:-2] -= effects / prior_sd**2
        if hessian:
            hess[np.arange(n_levels, k), np.arange(n_levels, k)] -= 1.0 / prior_sd**2
    return ll, grad, hess


def loglik_and_grad(theta: np.ndarray, y: np.ndarray, X: np.ndarray, prior_sd: float | None = None,
                    n_levels: int = 1, weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Exact Poisson log-likelihood of the discrete Hawkes model and its analytic gradient.

    ``theta = (gamma..., alpha, beta)`` with ``gamma`` matching the columns of ``X``. With ``prior_sd``
    a N(0, prior_sd^2) log-prior on the trigger effects is added, i.e. on every gamma after the first
    ``n_levels`` (background level) columns of ``X``. With ``weights`` v_t each day's log-probability is
    multiplied by v_t: sum_t v_t log Poisson(y_t; lambda_t).
    """
    ll, grad, _ = _loglik_terms(theta, y, X, prior_sd, n_levels, weights=weights)
    v = 1.0 if weights is None else weights
    return ll - float((v * gammaln(y + 1.0)).sum()), grad


def intensity(theta: np.ndarray, y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """lambda_t for every day of ``y``."""
    gamma, alpha, beta = theta[:-2], theta[-2], theta[-1]
    R, _ = excitation_states(y, beta)
    return np.exp(np.clip(X @ gamma, -50, 50)) + alpha * (1 - np.exp(-beta)) * R


def _bounds(k: int) -> list[tuple[float, float]]:
    return [(-30.0, 30.0)] * k + [(0.0, ALPHA_MAX), BETA_BOUNDS]


def fit_mle(y: np.ndarray, X: np.ndarray, start: np.ndarray | None = None, prior_sd: float | None = None,
            n_levels: int = 1, weights: np.ndarray | None = None) -> tuple[np.ndarray, float, bool]:
    """Maximise the (penalised, weighted) log-likelihood; returns ``(theta, loglik, converged)`` where
    ``loglik`` is the unpenalised (weighted) log-likelihood at the optimum.

    Newton's method with the analytic Hessian (a handful of iterations); when the optimum lies on a
    bound of the box (e.g. no self-excitation, alpha = 0) L-BFGS-B takes over from the last iterate.
    """
    k = X.shape[1]
    if start is None:
        start = np.zeros(k + 2)
        start[0] = np.log(max(np.average(y, weights=weights), 1e-3) * 0.5)
        start[k], start[k + 1] = 0.5, 0.5
    lower, upper = np.array(_bounds(k)).T
    theta, converged, _ = newton_maximise(
        lambda th: _loglik_terms(th, y, X, prior_sd, n_levels, hessian=True, weights=weights),
        np.asarray(start, float), lower, upper)
    if not converged:
        def objective(th):
            ll, g, _ = _loglik_terms(th, y, X, prior_sd, n_levels, weights=weights)
            return -ll, -g

        res = optimize.minimize(objective, theta, jac=True, method="L-BFGS-B", bounds=_bounds(k),
                                options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-7})
        theta, converged = res.x, bool(res.success)
    if not np.all(np.isfinite(theta)) or not np.isfinite(_loglik_terms(theta, y, X)[0]):
        raise ModelFitError("hawkes: the likelihood maximisation diverged")
    return theta, loglik_and_grad(theta, y, X, weights=weights)[0], converged


def observed_information(theta: np.ndarray, y: np.ndarray, X: np.ndarray, prior_sd: float | None = None,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Negative analytic Hessian of the (penalised, weighted) log-likelihood."""
    return -_loglik_terms(theta, y, X, prior_sd, hessian=True, weights=weights)[2]


def standard_errors(theta: np.ndarray, y: np.ndarray, X: np.ndarray, prior_sd: float | None = None,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Wald standard errors from the (weighted) observed information; NaN for parameters on a bound."""
    on_bound = np.zeros(len(theta), bool)
    on_bound[-2] = theta[-2] <= 1e-8 or theta[-2] >= ALPHA_MAX - 1e-8
    on_bound[-1] = theta[-1] <= BETA_BOUNDS[0] + 1e-8 or theta[-1] >= BETA_BOUNDS[1] - 1e-8
    return wald_stderr(observed_information(theta, y, X, prior_sd, weights), ~on_bound)


def simulate(theta: np.ndarray, X: np.ndarray, R0: float, y_last: float, n_paths: int,
             rng: np.random.Generator, intensities: bool = False):
    """Simulate ``n_paths`` continuations over the rows of ``X`` given the last state.

    ``R0`` is R_T of the last observed day T and ``y_last`` = y_T, so R_{T+1} = e^{-beta} R_T + y_T.
    Returns the counts, and with ``intensities`` also each day's conditional intensity lambda_{p,s}
    (the Poisson mean of day s given the path's earlier days).
    """
    gamma, alpha, beta = theta[:-2], theta[-2], theta[-1]
    a = np.exp(-beta)
    mu = np.exp(np.clip(X @ gamma, -50, 50))
    R = np.full(n_paths, a * R0 + y_last)
    paths = np.empty((n_paths, len(mu)), dtype=np.int64)
    lam = np.empty((n_paths, len(mu)))
    for s in range(len(mu)):
        lam[:, s] = np.minimum(mu[s] + alpha * (1 - a) * R, 1e6)
        y = rng.poisson(lam[:, s])
        paths[:, s] = y
        R = a * R + y
    return (paths, lam) if intensities else paths


class Hawkes(TriggerFeatures, Forecaster):
    """Discrete-time self-exciting count model (exponential kernel); see the module docstring.

    Fitted by exact maximum likelihood (Newton's method with the analytic Hessian); standard errors
    from the observed information. ``effect_prior_sd`` puts a weak N(0, sd^2) prior on the trigger effects
    (penalised likelihood; ``None`` for plain MLE) so an effect whose trigger days hold no attacks stays
    finite. Forecasts simulate ``n_paths`` paths conditioned on the observed history.
    ``background_segments`` sets the piecewise-constant alternative used to test a constant vs a
    time-varying background (reported by ``summary()``; always on the unweighted likelihood).

    ``forget_half_life`` h (days) maximises instead the exponentially weighted log-likelihood
    sum_t w_t (y_t log lambda_t - lambda_t), w_t = 0.5 ** ((T - t) / h) (``None``: w_t = 1), so the fit
    follows a regime change within a few half-lives. Standard errors are then from the inverse weighted
    observed information, conservative under the model (its variance exceeds the sandwich's by the factor
    sum w / sum w^2, about 2 for h of a week or more); the summary's log-likelihood and AIC are the
    weighted ones and ``effective_days`` = sum w.
    Default 28: best mean log score (horizons 1, 7, 14) of None/14/28/56 days in the 2023-24 campaign backtest.
    """

    param_rules = {**Forecaster.param_rules, **TRIGGER_PARAM_RULES,
                   "background_segments": Param(1, 100, integer=True), "forget_half_life": FORGET_RULE}

    def __init__(self, trigger_kinds: list[str] | None = None, trigger_encoding: str = "decay",
                 trigger_half_life: float = 7.0, trigger_lag: int = 1, effect_prior_sd: float | None = 1.0,
                 n_paths: int = 2000, background_segments: int = 6, forget_half_life: float | None = 28.0,
                 random_state: int | None = None):
        self.trigger_kinds = trigger_kinds
        self.trigger_encoding = trigger_encoding
        self.trigger_half_life = trigger_half_life
        self.trigger_lag = trigger_lag
        self.effect_prior_sd = effect_prior_sd
        self.n_paths = n_paths
        self.background_segments = background_segments
        self.forget_half_life = forget_half_life
        self.random_state = random_state

    def _design(self, index, triggers) -> tuple[np.ndarray, list[str]]:
        """Columns of mu_t's regression: the intercept ``log_baseline`` and ``effect_<kind>``."""
        trig = self.trigger_design()
        return np.column_stack([np.ones(len(index)), trig.matrix(index, triggers)]), ["log_baseline", *trig.names]

    def _fit(self, counts, triggers):
        y = counts.to_numpy().astype(float)
        if y.sum() == 0:
            raise ModelFitError("hawkes: no attacks in the training window; nothing to fit")
        X, names = self._design(counts.index, triggers)
        varying = informative(X, np.arange(X.shape[1]) == 0)  # the intercept is always estimated
        columns = [c for c, v in zip(names, varying) if v]
        self.columns_ = columns
        self.dropped_ = [c for c, v in zip(names, varying) if not v]
        self._used = varying
        X = X[:, varying]
        self.weights_ = forgetting_weights(len(y), self.forget_half_life)
        self.theta_, self.loglik_, self.converged_ = fit_mle(y, X, None, self.effect_prior_sd,
                                                             weights=self.weights_)
        self._fit_data = (counts.index, y, X)  # summary() and background_test() describe the fitted data
        self._update(counts, triggers)
        self.stderr_ = None  # computed on demand by summary()
        self._background_test = None

    def _update(self, counts, triggers):
        y = counts.to_numpy().astype(float)
        R, _ = excitation_states(y, self.theta_[-1])
        self.state_ = (float(R[-1]), float(y[-1]))

    @property
    def baseline_(self) -> float:
        return float(np.exp(self.theta_[0]))

    @property
    def adjacency_(self) -> float:
        return float(self.theta_[-2])

    @property
    def decay_(self) -> float:
        return float(self.theta_[-1])

    @property
    def effects_(self) -> dict[str, float]:
        out = dict(zip(self.columns_[1:], map(float, self.theta_[1:-2])))
        out.update({c: float("nan") for c in self.dropped_})
        return out

    def _forecast(self, index, future_triggers, n_paths):
        # features on the forecast days alone equal those of the full history (decay carries over)
        X = self._design(index, self._all_triggers(future_triggers))[0][:, self._used]
        rng = self.forecast_rng(index)
        paths, lam = simulate(self.theta_, X, *self.state_, int(n_paths or self.n_paths), rng, intensities=True)
        return MixtureCountForecast(index, paths, lam)

    def background_test(self) -> dict[str, float]:
        """Likelihood-ratio test of a constant vs a piecewise-constant background.

        The alternative replaces the intercept by ``background_segments`` equal-length segment
        levels. A large LR with a much smaller branching ratio under the alternative means that
        shifts of the background, not self-excitation, drive the clustering. Both fits are unweighted
        (with forgetting the constant-background model is refitted without weights, from the default start).
        """
        if self._background_test is None:
            _, y, X = self._fit_data
            theta, loglik = (self.theta_, self.loglik_) if self.weights_ is None else \
                fit_mle(y, X, None, self.effect_prior_sd)[:2]
            k = max(int(self.background_segments), 2)
            seg = np.minimum((np.arange(len(y)) * k) // len(y), k - 1)
            dummies = (seg[:, None] == np.arange(k)[None, :]).astype(float)
            X_alt = np.hstack([dummies, X[:, 1:]])
            start = np.concatenate([np.full(k, theta[0]), theta[1:]])
            theta_alt, ll_alt, _ = fit_mle(y, X_alt, start, self.effect_prior_sd, n_levels=k)
            lr = max(2 * (ll_alt - loglik), 0.0)
            df = k - 1
            self._background_test = {"segments": k, "lr_stat": float(lr), "df": df,
                                     "p_value": float(stats.chi2.sf(lr, df)),
                                     "adjacency_constant": float(theta[-2]),
                                     "adjacency_time_varying": float(theta_alt[-2])}
        return self._background_test

    def _summary(self):
        index, y, X = self._fit_data
        if self.stderr_ is None:
            self.stderr_ = standard_errors(self.theta_, y, X, self.effect_prior_sd, self.weights_)
        se = self.stderr_
        # delta method for baseline = exp(gamma_0)
        params = {"baseline": self.baseline_, "adjacency": self.adjacency_, "decay": self.decay_}
        stderr = {"baseline": self.baseline_ * se[0], "adjacency": float(se[-2]), "decay": float(se[-1])}
        for i, name in enumerate(self.columns_[1:], start=1):
            params[name], stderr[name] = float(self.theta_[i]), float(se[i])
        for name in self.dropped_:
            params[name], stderr[name] = float("nan"), float("nan")
        bt = self.background_test()
        diag = {"converged": self.converged_, "branching_ratio": self.adjacency_,
                "stationary": self.adjacency_ < 1.0,
                "near_critical": self.adjacency_ >= 0.9,
                "dropped_columns": ", ".join(self.dropped_) or "none",
                "effective_days": float(len(y) if self.weights_ is None else self.weights_.sum()),
                "background_lr_stat": bt["lr_stat"], "background_df": bt["df"],
                "background_p_value": bt["p_value"],
                "adjacency_time_varying_background": bt["adjacency_time_varying"],
                "fitted": pd.Series(intensity(self.theta_, y, X), index=index)}
        if self.adjacency_ >= 0.9:
            log.warning("hawkes: branching ratio %.2f is near or above 1 (non-stationary); with a time-varying "
                        "background it is %.2f (LR test p=%.3g)", self.adjacency_, bt["adjacency_time_varying"],
                        bt["p_value"])
        notes = [f"Each attack is followed, on average, by {self.adjacency_:.2f} further attacks it triggers "
                 f"(branching ratio; 95% interval {max(self.adjacency_ - 1.96 * se[-2], 0):.2f} to "
                 f"{self.adjacency_ + 1.96 * se[-2]:.2f}), spread over about {1 / (1 - np.exp(-self.decay_)):.1f} days."
                 + (" At or near 1, the process is close to self-sustaining: bursts can run on for weeks."
                    if self.adjacency_ >= 0.9 else ""),
                 f"With no triggers and no recent attacks, the model expects {self.baseline_:.3f} attacks a day."]
        if bt["p_value"] < 0.05:
            notes.append(f"A background rate that changes over time fits better (p={bt['p_value']:.2g}); with it the "
                         f"branching ratio is {bt['adjacency_time_varying']:.2f}, so part of the apparent "
                         "self-excitation is a shifting background.")
        if self.weights_ is not None:
            notes.append(f"Recent days weigh more (half-life {self.forget_half_life:g} days; "
                         f"{diag['effective_days']:.0f} effective days).")
        return FitSummary("hawkes", params, stderr, self.loglik_, len(y), diag, notes, effect_scale="log_rate")
