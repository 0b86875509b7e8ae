"""Markov-switching (hidden Markov) negative-binomial model of daily attack counts, with exact forecasts.

Model (K = ``n_states`` hidden regimes, ordered by mean: lull < sporadic < campaign)::

    s_1 ~ startprob (uniform 1/K)                                  -> startprob_
    P(s_t = j | s_{t-1} = i) = A_t[i, j]                           -> transmat_ (A at x_t = 0)
    y_t | s_t = k ~ NB2(mean mu_k, variance mu_k + alpha mu_k^2)   -> means_, alpha_ (shared by the states)

Row i of A_t: stay with 1 - sigmoid(l_i + [i = 0] beta' x_t); leave with sigmoid(...), split over the other
states in fixed proportions q_i (softmax). Only leaving the lowest state (the lull) depends on the trigger
features x_t (``effect_<kind>`` columns of :class:`~forecast.models.features.TriggerDesign`, -> effects_),
with a N(0, ``effect_prior_sd``^2) penalty on beta. ``trigger_kinds=None`` gives a homogeneous chain.

Fit: penalised maximum likelihood over unconstrained parameters (log mu_1 and log gaps between ordered
log means, log alpha, leave logits l, split logits, beta) with L-BFGS-B. The maximised objective is

    log p(y_1..T) - |beta|^2 / (2 ``effect_prior_sd``^2) + c sum_{i,j} log A[i, j]     (A = ``transmat_``)

where the last term, c = ``transition_prior``, is the log density (up to a constant) of a Dirichlet(1 + c)
prior on every row of A at x = 0 (c pseudo-transitions per cell): it keeps every transition probability away
from 0, so a fit on a series with a single campaign still foresees that a lull may turn into a new one.

The log-likelihood comes from a scaled forward algorithm and its gradient from forward-backward (Fisher
identity), both evaluated as log-depth scans of batched K x K matrix products (no Python loop over days).
Forecasts are exact: the state distribution is propagated from the last filtered probabilities and totals
follow a forward recursion over (state, running total).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import digamma, expit, gammaln, log_expit

from forecast.errors import ModelFitError
from forecast.models.base import CountForecast, FitSummary, Forecaster, Param
from forecast.models.features import TRIGGER_PARAM_RULES, TriggerDesign, TriggerFeatures, informative
from forecast.models.newton import inverse_information

TAIL = 1e-10  # upper-tail mass dropped when a pmf support is truncated
MAX_SUPPORT = 100_000  # hard cap on the length of any pmf support
_MU_BOUNDS = (np.log(1e-5), np.log(1e3))  # log mean of the lowest state
_GAP_BOUNDS = (np.log(1e-3), np.log(20.0))  # log of the gap between consecutive log means
_ALPHA_BOUNDS = (np.log(1e-4), np.log(1e2))
_LOGIT_BOUNDS = (-15.0, 15.0)
_EFFECT_BOUNDS = (-20.0, 20.0)


# ---- likelihood primitives ------------------------------------------------------------------------
def nb_logpmf(y: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    """log NB2 pmf, ``len(y) x len(mu)``: with n = 1/alpha,
    log Gamma(y + n) - log Gamma(n) - log y! - n log(1 + alpha mu) + y log(alpha mu / (1 + alpha mu))."""
    y, mu, n = np.asarray(y, float)[:, None], np.asarray(mu, float)[None, :], 1.0 / alpha
    am = alpha * mu
    return gammaln(y + n) - gammaln(n) - gammaln(y + 1.0) - n * np.log1p(am) + y * (np.log(am) - np.log1p(am))


def _nb_scores(y: np.ndarray, mu: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """d log NB2 pmf / d log mu and / d log alpha, each ``len(y) x len(mu)``."""
    y, mu, n = np.asarray(y, float)[:, None], np.asarray(mu, float)[None, :], 1.0 / alpha
    am = alpha * mu
    d_mu = (y - mu) / (1.0 + am)
    d_alpha = d_mu - n * (digamma(y + n) - digamma(n) - np.log1p(am))
    return d_mu, d_alpha


def _scan(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled inclusive scan of matrix products in log2(n) batched steps (Hillis-Steele).

    ``M`` is ``K x K x b x n`` (b independent sequences of n matrices, matrix axes first so that every
    operation runs over contiguous days). Returns ``(P, logc)`` with ``exp(logc[:, t]) * P[..., t]``
    equal to ``M[..., 0] @ ... @ M[..., t]``; every ``P[..., t]`` sums to one.
    """
    s = M.sum(axis=(0, 1))
    P, logc = M / s, np.log(s)
    d, n = 1, M.shape[-1]
    while d < n:
        prod = (P[:, :, None, :, :-d] * P[None, :, :, :, d:]).sum(axis=1)
        s = prod.sum(axis=(0, 1))
        logc[:, d:] = logc[:, :-d] + logc[:, d:] + np.log(s)
        P[..., d:] = prod / s
        d *= 2
    return P, logc


def _fb(logf: np.ndarray, trans: np.ndarray, startprob: np.ndarray
        ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`forward_backward` on days-last arrays: logf (K, T), trans (K, K, T - 1); returns filtered and
    smoothed (K, T) and xi (K, K, T - 1)."""
    K, T = logf.shape
    shift = logf.max(axis=0)
    f = np.exp(logf - shift)
    v = startprob * f[:, 0]
    loglik = float(shift.sum() + np.log(v.sum()))
    v = v / v.sum()
    if T == 1:
        return loglik, v[:, None], v[:, None], np.zeros((K, K, 0))
    M = trans * f[None, :, 1:]  # alpha_t = alpha_{t-1} @ M[..., t - 1] (unnormalised)
    # forward products M_1 M_2 ... and, transposed, the backward products ... M_{T-2} M_{T-1}
    P, logc = _scan(np.stack([M, M[:, :, ::-1].transpose(1, 0, 2)], axis=2))
    a = (v[:, None, None] * P[:, :, 0]).sum(axis=0)
    loglik += float(logc[0, -1] + np.log(a[:, -1].sum()))
    filtered = np.column_stack([v, a / a.sum(axis=0)])
    b = P[:, :, 1].sum(axis=0)[:, ::-1]  # b[:, t] ~ beta_t = M_{t+1} ... M_{T-1} 1
    beta = np.column_stack([b / b.sum(axis=0), np.full(K, 1.0 / K)])
    smoothed = filtered * beta
    smoothed /= smoothed.sum(axis=0)
    xi = filtered[:, None, :-1] * M * beta[None, :, 1:]
    xi /= xi.sum(axis=(0, 1))
    return loglik, filtered, smoothed, xi


def forward_backward(logf: np.ndarray, trans: np.ndarray, startprob: np.ndarray
                     ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, filtered and smoothed state probabilities and pairwise posteriors of an HMM.

    Parameters
    ----------
    logf : (T, K) log emission probabilities log p(y_t | s_t = k).
    trans : (T - 1, K, K) transition matrices; ``trans[t - 1]`` takes day t - 1 to day t.
    startprob : (K,) distribution of s_1.

    Returns
    -------
    loglik, filtered (T, K) P(s_t | y_1..t), smoothed (T, K) P(s_t | y_1..T),
    xi (T - 1, K, K) P(s_{t-1} = i, s_t = j | y_1..T).
    """
    ll, filtered, smoothed, xi = _fb(np.asarray(logf, float).T, np.asarray(trans, float).transpose(1, 2, 0),
                                     np.asarray(startprob, float))
    return ll, filtered.T, smoothed.T, xi.transpose(2, 0, 1)


# ---- parametrisation ------------------------------------------------------------------------------
class _Params:
    """Unconstrained vector theta = [log mu_1, log gaps (K-1), log alpha, leave logits (K),
    split logits (K x (K-2)), beta (P)] and the quantities derived from it."""

    def __init__(self, theta: np.ndarray, K: int, P: int):
        self.K, self.P = K, P
        self.log_mu = theta[0] + np.concatenate([[0.0], np.cumsum(np.exp(theta[1:K]))])
        self.mu = np.exp(self.log_mu)
        self.alpha = float(np.exp(theta[K]))
        self.leave = theta[K + 1: 2 * K + 1]
        split = theta[2 * K + 1: 2 * K + 1 + K * (K - 2)].reshape(K, K - 2)
        e = np.exp(np.column_stack([np.zeros(K), split]))
        self.q = e / e.sum(axis=1, keepdims=True)  # q[i, m]: share of leaves from i going to dest(i)[m]
        self.beta = theta[len(theta) - P:] if P else np.zeros(0)
        self.dest = np.array([[j for j in range(K) if j != i] for i in range(K)], dtype=int).reshape(K, K - 1)

    def leave_prob(self, X: np.ndarray) -> np.ndarray:
        """sigma[i, t] = P(leave state i) into the days of X, ``K x len(X)``."""
        z = np.repeat(self.leave[:, None], len(X), axis=1)
        if self.P:
            z[0] += X @ self.beta
        return expit(z)

    def transitions(self, X: np.ndarray) -> np.ndarray:
        """Transition matrices into the days of X, ``K x K x len(X)`` (from, to, day)."""
        sig = self.leave_prob(X)
        A = np.zeros((self.K, self.K, len(X)))
        rows = np.arange(self.K)
        A[rows, rows] = 1.0 - sig
        A[rows[:, None], self.dest] = sig[:, None, :] * self.q[:, :, None]
        return A


def _gradient(p: _Params, theta: np.ndarray, y: np.ndarray, X: np.ndarray, smoothed: np.ndarray,
              xi: np.ndarray) -> np.ndarray:
    """Score of the log-likelihood in theta (Fisher identity: expected complete-data score)."""
    K = p.K
    d_mu, d_alpha = _nb_scores(y, p.mu, p.alpha)
    g_logmu = (smoothed * d_mu.T).sum(axis=1)
    tail = np.cumsum(g_logmu[::-1])[::-1]  # sum_{k >= m} g_logmu[k]
    g = np.zeros_like(theta)
    g[0] = tail[0]
    g[1:K] = np.exp(theta[1:K]) * tail[1:]
    g[K] = float((smoothed * d_alpha.T).sum())
    if xi.shape[-1]:
        sig = p.leave_prob(X[1:])
        N = xi.sum(axis=1)  # (K, T - 1): expected occupation of i on the day before
        rows = np.arange(K)
        resid = N - xi[rows, rows] - N * sig  # expected leaves minus their expectation
        g[K + 1: 2 * K + 1] = resid.sum(axis=1)
        E = xi.sum(axis=2)[rows[:, None], p.dest]  # expected moves i -> dest(i)[m]
        g[2 * K + 1: 2 * K + 1 + K * (K - 2)] = (E - E.sum(axis=1, keepdims=True) * p.q)[:, 1:].ravel()
        if p.P:
            g[len(theta) - p.P:] = X[1:].T @ resid[0]
    return g


def _bounded_support(mu: float, alpha: float) -> int:
    """Length of the NB2 support 0..k with upper tail P(Y > k) <= TAIL, capped at MAX_SUPPORT."""
    n = 1.0 / alpha
    k = stats.nbinom.isf(TAIL, n, n / (n + mu))
    return int(min(k + 1, MAX_SUPPORT)) if np.isfinite(k) else MAX_SUPPORT


def nb_pmf(mu: float, alpha: float) -> np.ndarray:
    """NB2 pmf (mean mu, variance mu + alpha mu^2) on 0..k, k from :func:`_bounded_support`."""
    n = 1.0 / alpha
    return stats.nbinom.pmf(np.arange(_bounded_support(mu, alpha)), n, n / (n + mu))


def _state_names(K: int) -> list[str]:
    return {2: ["lull", "campaign"], 3: ["lull", "sporadic", "campaign"]}.get(
        K, ["lull"] + [f"state{k}" for k in range(1, K - 1)] + ["campaign"])


# ---- forecast ---------------------------------------------------------------------------------------
class RegimeCountForecast(CountForecast):
    """Exact predictive distribution of a hidden Markov NB2 chain.

    With pi_0 the filtered state distribution at the origin and A_h the transition matrix into day h,
    pi_h = pi_{h-1} A_h; day h's count has pmf sum_j pi_h[j] NB(k; mu_j, alpha). Totals follow
    J_h[j, :] = (sum_i J_{h-1}[i, :] A_h[i, j]) * NB(mu_j, alpha) (convolution), J_0 = pi_0 x delta_0,
    and P(total over h days = k) = sum_j J_h[j, k]. Supports are truncated where the upper-tail mass
    falls to 1e-10 (and at 100,000 counts at most), then renormalised.
    """

    def __init__(self, index: pd.DatetimeIndex, start: np.ndarray, trans: np.ndarray, means: np.ndarray,
                 alpha: float, state_names: list[str] | None = None):
        super().__init__(index)
        if len(trans) != len(index):
            raise ValueError("one transition matrix per forecast day is needed")
        self._trans = np.asarray(trans, float)
        self._comps = [nb_pmf(m, alpha) for m in means]
        width = max(len(c) for c in self._comps)
        self._comp_matrix = np.array([np.pad(c, (0, width - len(c))) for c in self._comps])
        probs = [np.asarray(start, float)]
        for A in self._trans:
            probs.append(probs[-1] @ A)
        names = state_names or [f"state{k}" for k in range(len(means))]
        self.state_probabilities = pd.DataFrame(np.array(probs[1:]), index=index, columns=names)
        self._J = probs[0][:, None]  # joint (state, running total) after self._done days
        self._done = 0
        self._totals: dict[int, np.ndarray] = {}

    def daily_pmf(self, step: int) -> np.ndarray:
        p = self.state_probabilities.to_numpy()[int(step) - 1] @ self._comp_matrix
        return p / p.sum()

    def total_pmf(self, window: int) -> np.ndarray:
        window = self._window(window)
        while self._done < window:  # at most `horizon` steps
            J = self._trans[self._done].T @ self._J
            J = _pad_rows([np.convolve(J[j], c) for j, c in enumerate(self._comps)])
            total = J.sum(axis=0)
            keep = np.flatnonzero(np.cumsum(total[::-1]) > TAIL)
            size = len(total) - (keep[0] if len(keep) else 0)
            self._J = J[:, : min(max(size, 1), MAX_SUPPORT)]
            self._done += 1
            total = self._J.sum(axis=0)
            self._totals[self._done] = total / total.sum()
        return self._totals[window]


def _pad_rows(rows: list[np.ndarray]) -> np.ndarray:
    width = max(len(r) for r in rows)
    return np.array([np.pad(r, (0, width - len(r))) for r in rows])


# ---- estimator ---------------------------------------------------------------------------------------
class RegimeHMM(TriggerFeatures, Forecaster):
    """Hidden Markov (Markov-switching) NB2 count model with K regimes ordered by mean.

    y_t | s_t = k ~ NB2(mu_k, alpha) (``means_``, ``alpha_``, one dispersion shared by the states);
    s_t is a Markov chain with transition matrix ``transmat_`` (rows: from, columns: to) started from the
    uniform ``startprob_``. Row i stays with probability 1 - sigmoid(l_i + [i = 0] beta' x_t), i.e.
    the trigger features x_t of day t (``effect_<kind>`` -> ``effects_``) shift the logit of leaving
    the lull (state 0) on day t; ``transmat_`` is A at x_t = 0. beta has a N(0, ``effect_prior_sd``^2)
    penalty (``None`` = plain MLE); ``trigger_kinds=None`` gives a homogeneous chain. ``transition_prior`` c
    adds c sum_ij log A[i, j] (a Dirichlet(1 + c) prior per row of ``transmat_``; 0 = plain MLE).

    Parameters
    ----------
    n_states : number of regimes K >= 2 (3: lull, sporadic, campaign).
    trigger_kinds, trigger_encoding, trigger_half_life, trigger_lag : trigger features, as in
        :class:`~forecast.models.glm.PoissonGLM` (but ``None`` means no triggers, not all kinds).
    effect_prior_sd : prior sd of the trigger effects.
    transition_prior : pseudo-count c per transition cell (0 = none). Default 1: the weakest c within 1% of the
        best mean log score on the 2023-24 campaign backtest over c in 0, 0.5, 1, ..., 32 (flat above 1).
    max_iter, tol : L-BFGS-B iteration cap and tolerance (relative objective decrease and projected
        gradient) of each start.
    n_starts : optimiser starts: a data-driven one, then random perturbations of it from ``random_state``.
    random_state : seed of the perturbed starts (forecasts use no randomness).

    Learned: ``means_``, ``alpha_``, ``transmat_``, ``startprob_``, ``effects_`` (Series, NaN for
    a kind that never varies in the training window), ``loglik_`` (without the penalty), ``converged_``,
    ``filtered_`` / ``smoothed_`` (days x states DataFrames of P(s_t | y_1..t) and P(s_t | y_1..T), over
    the latest history: ``update`` re-runs them with the parameters kept), ``loglik_history_``,
    ``state_names_``. ``summary()`` reports ``mean_<state>``, ``alpha``, ``p_stay_<state>``,
    ``p_<i>_to_<j>`` for every destination of row i but the last (implied by the row sum) and
    ``effect_<kind>``.
    """

    param_rules = {**Forecaster.param_rules, **TRIGGER_PARAM_RULES, "n_states": Param(2, 10, integer=True),
                   "max_iter": Param(1, 100_000, integer=True), "tol": Param(0, 1, low_open=True),
                   "n_starts": Param(1, 100, integer=True), "transition_prior": Param(0, 1e4)}

    def __init__(self, *, n_states: int = 3, trigger_kinds: list[str] | None = None,
                 trigger_encoding: str = "decay", trigger_half_life: float = 7.0, trigger_lag: int = 1,
                 effect_prior_sd: float | None = 1.0, transition_prior: float = 1.0, max_iter: int = 200,
                 tol: float = 1e-6, n_starts: int = 3, random_state: int | None = None):
        self.n_states = n_states
        self.trigger_kinds = trigger_kinds
        self.trigger_encoding = trigger_encoding
        self.trigger_half_life = trigger_half_life
        self.trigger_lag = trigger_lag
        self.effect_prior_sd = effect_prior_sd
        self.transition_prior = transition_prior
        self.max_iter = max_iter
        self.tol = tol
        self.n_starts = n_starts
        self.random_state = random_state

    @property
    def uses_triggers(self) -> bool:  # type: ignore[override]
        return bool(self.trigger_kinds)

    # ---- design --------------------------------------------------------------------------------------
    def _design(self) -> TriggerDesign | None:
        return self.trigger_design() if self.trigger_kinds else None

    def _features(self, index: pd.DatetimeIndex, triggers: pd.DataFrame | None) -> np.ndarray:
        """Trigger features of the kept kinds, ``len(index) x P``."""
        design = self._design()
        if design is None:
            return np.zeros((len(index), 0))
        return design.matrix(index, triggers)[:, self._kept]

    # ---- likelihood --------------------------------------------------------------------------------
    def _objective(self, theta: np.ndarray, y: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
        """Penalised negative log-likelihood and its gradient.

        The transition prior c sum_ij log A[i, j] at x = 0, with log A[i, i] = log sigmoid(-l_i) and
        log A[i, dest(i)_m] = log sigmoid(l_i) + log q_im, has gradient c ((K - 1) - K sigmoid(l_i)) in the
        leave logit l_i and c (1 - (K - 1) q_im) in the split logit of destination m >= 1."""
        K = int(self.n_states)
        p = _Params(theta, K, X.shape[1])
        ll, _, smoothed, xi = _fb(nb_logpmf(y, p.mu, p.alpha).T, p.transitions(X[1:]), np.full(K, 1.0 / K))
        g = _gradient(p, theta, y, X, smoothed, xi)
        if p.P and self.effect_prior_sd:
            w = 1.0 / self.effect_prior_sd**2
            ll -= 0.5 * w * float(p.beta @ p.beta)
            g[len(theta) - p.P:] -= w * p.beta
        if self.transition_prior:
            c = float(self.transition_prior)
            ll += c * float(np.sum(log_expit(-p.leave) + (K - 1) * log_expit(p.leave)) + np.log(p.q).sum())
            g[K + 1: 2 * K + 1] += c * ((K - 1) - K * expit(p.leave))
            g[2 * K + 1: 2 * K + 1 + K * (K - 2)] += c * (1.0 - (K - 1) * p.q[:, 1:]).ravel()
        if not np.isfinite(ll):
            return 1e300, np.zeros_like(theta)
        return -ll, -g

    def _starts(self, y: np.ndarray, P: int) -> list[np.ndarray]:
        K = int(self.n_states)
        smooth = pd.Series(y.astype(float)).rolling(7, center=True, min_periods=1).mean().to_numpy()
        lo = max(0.5 * float(np.quantile(smooth, 0.1)), 0.02)
        hi = max(float(np.quantile(smooth, 0.95)), 10 * lo)
        gaps = np.full(K - 1, np.log((np.log(hi) - np.log(lo)) / (K - 1)))
        base = np.concatenate([[np.log(lo)], gaps, [np.log(0.5)], np.full(K, np.log(0.05 / 0.95)),
                               np.zeros(K * (K - 2)), np.zeros(P)])
        starts = [base]
        for _ in range(int(self.n_starts) - 1):
            jitter = np.concatenate([self.rng_.normal(0, 0.5, K + 1), self.rng_.normal(0, 1.0, K),
                                     self.rng_.normal(0, 0.5, K * (K - 2)), np.zeros(P)])
            starts.append(base + jitter)
        lower, upper = np.array(self._bounds(P)).T
        return [np.clip(s, lower, upper) for s in starts]

    def _bounds(self, P: int) -> list[tuple[float, float]]:
        K = int(self.n_states)
        return [_MU_BOUNDS] + [_GAP_BOUNDS] * (K - 1) + [_ALPHA_BOUNDS] + [_LOGIT_BOUNDS] * (K + K * (K - 2)) \
            + [_EFFECT_BOUNDS] * P

    # ---- fit / update --------------------------------------------------------------------------------
    def _fit(self, counts: pd.Series, triggers: pd.DataFrame | None) -> None:
        y = counts.to_numpy()
        if y.sum() == 0:
            raise ModelFitError("regime: no attacks in the training window; nothing to fit")
        design = self._design()
        names = [] if design is None else design.names
        full = np.zeros((len(y), 0)) if design is None else design.matrix(counts.index, triggers)
        varying = informative(full[1:]) if len(y) > 1 else np.zeros(full.shape[1], bool)
        self._kept = np.flatnonzero(varying)
        self.dropped_ = [n for n, v in zip(names, varying) if not v]
        X = full[:, self._kept]
        bounds = self._bounds(X.shape[1])
        best = None
        for start in self._starts(y, X.shape[1]):
            res = optimize.minimize(self._objective, start, args=(y, X), jac=True, method="L-BFGS-B",
                                    bounds=bounds, options={"maxiter": int(self.max_iter),
                                                            "ftol": float(self.tol), "gtol": float(self.tol)})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
        if best is None or best.fun >= 1e299:
            raise ModelFitError("regime: the likelihood is not finite at any start; nothing to fit")
        self._theta, self._fit_y, self._fit_X = best.x.copy(), y.copy(), X
        K = int(self.n_states)
        p = _Params(best.x, K, X.shape[1])
        self.state_names_ = _state_names(K)
        self.means_ = p.mu
        self.alpha_ = p.alpha
        self.transmat_ = p.transitions(np.zeros((1, X.shape[1])))[..., 0]
        self.startprob_ = np.full(K, 1.0 / K)
        effects = pd.Series(np.nan, index=names, dtype=float)
        effects.iloc[self._kept] = p.beta
        self.effects_ = effects
        self.converged_ = bool(best.success)
        self.n_iter_ = int(best.nit)
        self.loglik_ = _fb(nb_logpmf(y, p.mu, p.alpha).T, p.transitions(X[1:]), self.startprob_)[0]
        self._stderr = None  # computed on the first summary()
        self._update(counts, triggers)

    def _update(self, counts: pd.Series, triggers: pd.DataFrame | None) -> None:
        X = self._features(counts.index, triggers)
        p = _Params(self._theta, int(self.n_states), X.shape[1])
        ll, filtered, smoothed, _ = _fb(nb_logpmf(counts.to_numpy(), p.mu, p.alpha).T, p.transitions(X[1:]),
                                        self.startprob_)
        self.loglik_history_ = ll
        self.filtered_ = pd.DataFrame(filtered.T, index=counts.index, columns=self.state_names_)
        self.smoothed_ = pd.DataFrame(smoothed.T, index=counts.index, columns=self.state_names_)

    # ---- forecast ------------------------------------------------------------------------------------
    def _forecast(self, index, future_triggers, n_paths) -> RegimeCountForecast:
        X = self._features(index, self._all_triggers(future_triggers))
        trans = _Params(self._theta, int(self.n_states), X.shape[1]).transitions(X).transpose(2, 0, 1)
        return RegimeCountForecast(index, self.filtered_.to_numpy()[-1], trans, self.means_, self.alpha_,
                                   self.state_names_)

    def loglikelihood(self, counts: pd.Series, triggers: pd.DataFrame | None = None) -> float:
        """Log-likelihood of ``counts`` under the fitted parameters (forward algorithm)."""
        self._check_fitted()
        X = self._features(counts.index, triggers)
        p = _Params(self._theta, int(self.n_states), X.shape[1])
        return _fb(nb_logpmf(counts.to_numpy(), p.mu, p.alpha).T, p.transitions(X[1:]), self.startprob_)[0]

    # ---- summary -------------------------------------------------------------------------------------
    def _natural(self, theta: np.ndarray) -> np.ndarray:
        """Reported parameters (order of :meth:`_param_names`) from theta."""
        K, P = int(self.n_states), len(self._kept)
        p = _Params(theta, K, P)
        A = p.transitions(np.zeros((1, P)))[..., 0]
        moves = [A[i, p.dest[i, :-1]] for i in range(K)]
        return np.concatenate([p.mu, [p.alpha], np.diag(A), *moves, p.beta])

    def _param_names(self) -> list[str]:
        K, names = int(self.n_states), self.state_names_
        moves = [f"p_{names[i]}_to_{names[j]}" for i in range(K) for j in [j for j in range(K) if j != i][:-1]]
        return ([f"mean_{n}" for n in names] + ["alpha"] + [f"p_stay_{n}" for n in names] + moves
                + [self.effects_.index[k] for k in self._kept])

    def _standard_errors(self) -> np.ndarray:
        """Delta-method standard errors of the reported parameters from a central-difference Hessian of the
        penalised negative log-likelihood in theta; NaN where it is not invertible or a bound is active."""
        theta, y, X = self._theta, self._fit_y, self._fit_X
        lower, upper = np.array(self._bounds(X.shape[1])).T
        free = (theta - lower > 1e-6) & (upper - theta > 1e-6)
        eps = 1e-4 * np.maximum(1.0, np.abs(theta))
        H = np.zeros((len(theta), len(theta)))
        J = np.zeros((len(self._natural(theta)), len(theta)))
        for i, e in enumerate(np.diag(eps)):
            H[i] = (self._objective(theta + e, y, X)[1] - self._objective(theta - e, y, X)[1]) / (2 * eps[i])
            J[:, i] = (self._natural(theta + e) - self._natural(theta - e)) / (2 * eps[i])
        H = 0.5 * (H + H.T)[np.ix_(free, free)]
        out = np.full(J.shape[0], np.nan)
        cov = inverse_information(H)
        if cov is None or np.any(np.diag(cov) <= 0):
            return out
        var = np.einsum("ij,jk,ik->i", J[:, free], cov, J[:, free])
        ok = (np.abs(J[:, ~free]).sum(axis=1) < 1e-8) & (var > 0)  # not moved by a parameter held at a bound
        out[ok] = np.sqrt(var[ok])
        return out

    def _summary(self) -> FitSummary:
        names = self._param_names()
        if self._stderr is None:
            self._stderr = dict(zip(names, map(float, self._standard_errors())))
        params = dict(zip(names, map(float, self._natural(self._theta))))
        stderr = dict(self._stderr)
        for name in self.dropped_:
            params[name], stderr[name] = float("nan"), float("nan")
        A, last = self.transmat_, self.filtered_.iloc[-1]
        w, v = np.linalg.eig(A.T)
        stationary = np.abs(np.real(v[:, np.argmin(np.abs(w - 1.0))]))
        diag: dict[str, object] = {"converged": self.converged_, "n_iter": self.n_iter_,
                                   "dropped_columns": ", ".join(self.dropped_) or "none",
                                   "last_day": str(self.filtered_.index[-1].date())}
        states = self.state_names_
        diag.update({f"p_state_{n}": float(last[n]) for n in states})
        diag.update({f"expected_duration_{n}": float(1.0 / max(1.0 - A[k, k], 1e-300))
                     for k, n in enumerate(states)})
        diag.update({f"stationary_{n}": float(stationary[k] / stationary.sum()) for k, n in enumerate(states)})
        diag["transmat"] = pd.DataFrame(A, index=states, columns=states)
        diag["filtered"] = self.filtered_
        diag["smoothed"] = self.smoothed_
        current = max(states, key=lambda n: last[n])
        notes = [f"On {diag['last_day']} the series is most likely in the '{current}' regime "
                 f"({last[current]:.0%}); " + ", ".join(f"{n}: {last[n]:.0%}" for n in states if n != current) + ".",
                 "Regimes: " + "; ".join(f"{n} about {self.means_[k]:.2f} attacks a day, lasting "
                                         f"{diag[f'expected_duration_{n}']:.0f} days on average"
                                         for k, n in enumerate(states)) + "."]
        return FitSummary("regime", params, stderr, self.loglik_, len(self._fit_y), diag, notes,
                          effect_scale="log_odds")
