"""ARIMA on daily counts (statsmodels SARIMAX) with trigger features as exogenous regressors."""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import toeplitz
from scipy.special import ndtr, ndtri
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.arima_process import arma2ma
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecast.distributions import MAX_SUPPORT, TAIL
from forecast.errors import ModelFitError
from forecast.models.base import CountForecast, FitSummary, Forecaster, MixtureCountForecast, Param
from forecast.models.features import TRIGGER_PARAM_RULES, TriggerDesign

TRANSFORMS = {
    "none": (lambda y: y, lambda z: z),
    "sqrt": (np.sqrt, lambda z: np.square(np.maximum(z, 0.0))),
    "log1p": (np.log1p, np.expm1),
}


def innovation_sd(result) -> float:
    """sigma, the standard deviation of the innovations e_t of fitted SARIMAX results."""
    return float(np.sqrt(dict(zip(result.model.param_names, np.asarray(result.params)))["sigma2"]))


def gaussian_paths(result, horizon: int, n_paths: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Forecast-error paths e_{T+j} = sum_{i<j} psi_i eps_{T+j-i}, eps ~ N(0, sigma2), with psi the MA(inf)
    weights of the fitted ARIMA (differencing included; psi_0 = 1); the state at T is taken as known.
    Returns ``(errors, innovations)``, both ``n_paths x horizon``: given a path's first j - 1 days, day j's
    error is N(errors - innovations, sigma2)."""
    ar = np.r_[1.0, -np.asarray(result.arparams)] if result.model.k_ar else np.array([1.0])
    for _ in range(result.model.k_diff):
        ar = np.convolve(ar, [1.0, -1.0])
    ma = np.r_[1.0, np.asarray(result.maparams)] if result.model.k_ma else np.array([1.0])
    psi = arma2ma(ar, ma, lags=horizon)
    weights = toeplitz(psi, np.zeros(horizon))  # weights[j, i] = psi_{j-i}
    eps = rng.standard_normal((n_paths, horizon)) * innovation_sd(result)
    return eps @ weights.T, eps


def _add_shifted(out: np.ndarray, rows: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``out`` (grown as needed) plus each row placed at its shift: out[s + k] += rows[i, k] for shift[i] = s."""
    order = np.argsort(shift, kind="stable")
    values, starts = np.unique(shift[order], return_index=True)
    out = np.pad(out, (0, max(int(values[-1]) + rows.shape[1] - len(out), 0)))
    for s, row in zip(values, np.add.reduceat(rows[order], starts, axis=0)):
        out[s: s + rows.shape[1]] += row
    return out


class ArimaCountForecast(MixtureCountForecast):
    """Rao-Blackwellised ARIMA forecast: exact given the simulated paths.

    The model is Gaussian on z = f(y) and a count is y = round(f^{-1}(z)) clipped at 0, so given path p's
    first s - 1 days, day s has z ~ N(m_{p,s}, sigma^2) (``means``: the conditional means on the z scale) and

        P(y_s = k | path) = Phi((f(k + 1/2) - m) / sigma) - Phi((f(k - 1/2) - m) / sigma)   (k = 0: the lower tail)

    The pmfs of days and window totals mix these over the paths as ``MixtureCountForecast`` does with
    negative-binomial days; ``predicted_mean`` comes from the pmfs. Day 1 is exact (every path starts at
    the origin). A total over w days mixes the last day's law over the paths' sampled first w - 1 days, so
    a total far beyond every path's earlier days (a lull right after a surge) still depends on the number
    of paths (``benchmarks/bench_exact_pmf.py``: h = 14). Each path's pmf runs up to the count whose upper
    edge lies ``-ndtri(TAIL)`` sigmas above its block's largest mean; paths are taken in blocks of similar
    mean, at most ``CELLS`` pmf values at a time.
    """

    CELLS = 4_000_000

    def __init__(self, index: pd.DatetimeIndex, paths: np.ndarray, means: np.ndarray, sigma: float, transform: str):
        super().__init__(index, paths, means)
        self.sigma, self.transform = float(sigma), transform

    predicted_mean = CountForecast.predicted_mean  # from the pmfs: ``means`` are on the z scale

    def _support(self, m: float) -> int:
        """Counts 0..L-1 hold all but ``TAIL`` of N(m, sigma^2)'s mass on the count scale."""
        top = float(TRANSFORMS[self.transform][1](np.array(m - ndtri(TAIL) * self.sigma)))
        size = max(int(np.floor(top + 0.5)) + 1, 1)
        if size > MAX_SUPPORT:
            raise ModelFitError(f"arima: a day's count needs more than {MAX_SUPPORT:,} counts of support: the "
                                "fitted model is explosive on this data")
        return size

    def conditional_pmfs(self, m: np.ndarray, size: int) -> np.ndarray:
        """P(y = k | z ~ N(m_i, sigma^2)) in row i, k = 0..size-1, to full relative precision in both tails."""
        b = (TRANSFORMS[self.transform][0](np.arange(size) + 0.5)[None, :] - np.asarray(m, float)[:, None]) / self.sigma
        # Phi(b) = c + [b >= 0] with c = Phi(-|b|) for b < 0, -Phi(-|b|) for b >= 0: cell probabilities are
        # differences of the small c plus 1 in the cell that holds the mean
        c = np.copysign(ndtr(-np.abs(b)), -b)
        return np.diff(c, axis=1, prepend=0.0) + np.diff(b >= 0, axis=1, prepend=False)

    def _mixture(self, mu: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """(1/N) sum_p pmf(k - shift_p | path p) on 0..max(shift) + L, in blocks of paths of similar mean."""
        order = np.argsort(mu)
        out, lo = np.zeros(1), 0
        while lo < len(mu):
            size = self._support(float(mu[order[min(lo + self.BLOCK, len(mu)) - 1]]))
            block = order[lo: min(lo + self.BLOCK, lo + max(self.CELLS // size, 1))]
            out = _add_shifted(out, self.conditional_pmfs(mu[block], size), shift[block])
            lo += len(block)
        return out / out.sum()


@dataclass(frozen=True)
class ArmaSystem:
    """The fitted state-space form of a SARIMAX model (time-invariant parts; statsmodels' notation).

    z_t = design' a_t + x_t' exog_coef + eps_t,  eps_t ~ N(0, obs_var)
    a_{t+1} = transition a_t + state_intercept + R eta_t,  R eta_t ~ N(0, state_noise_cov)
    """

    design: np.ndarray
    transition: np.ndarray
    state_intercept: np.ndarray
    state_noise_cov: np.ndarray
    obs_var: float
    exog_coef: np.ndarray

    @classmethod
    def from_result(cls, result) -> ArmaSystem:
        """Read the system of fitted SARIMAX results (trend 'c' or 'n': the state intercept is constant)."""
        f = result.filter_results
        selection, state_cov = f.selection[:, :, 0], f.state_cov[:, :, 0]
        params = dict(zip(result.model.param_names, np.asarray(result.params)))
        return cls(design=f.design[0, :, 0].copy(), transition=f.transition[:, :, 0].copy(),
                   state_intercept=f.state_intercept[:, -1].copy(),
                   state_noise_cov=selection @ state_cov @ selection.T, obs_var=float(f.obs_cov[0, 0, 0]),
                   exog_coef=np.array([params[name] for name in result.model.exog_names or []]))

    def obs_intercept(self, x: np.ndarray | None, n: int) -> np.ndarray:
        """x_t' exog_coef for ``n`` days (zeros without regressors)."""
        return np.zeros(n) if x is None else x @ self.exog_coef


@dataclass(frozen=True)
class KalmanState:
    """Predicted state a_{T+1|T} and its covariance P_{T+1|T} after ``nobs`` observations."""

    mean: np.ndarray
    cov: np.ndarray
    nobs: int

    @classmethod
    def from_result(cls, result) -> KalmanState:
        return cls(result.predicted_state[:, -1].copy(), result.predicted_state_cov[:, :, -1].copy(),
                   int(result.nobs))


def kalman_filter(system: ArmaSystem, state: KalmanState, z: np.ndarray, x: np.ndarray | None) -> KalmanState:
    """Condition the predicted state on new observations z_{T+1..T+n} with the parameters kept.

    v = z_t - x_t' b - Z a,  F = Z P Z' + H,  K = T P Z' / F,
    a <- T a + c + K v,  P <- T P T' + R Q R' - K K' F  (statsmodels' filter, conventional timing).
    """
    Z, T, c, RQR = system.design, system.transition, system.state_intercept, system.state_noise_cov
    a, P = state.mean, state.cov
    for z_t, d_t in zip(z, system.obs_intercept(x, len(z))):
        PZ = P @ Z
        F = Z @ PZ + system.obs_var
        K = T @ PZ / F
        a = T @ a + c + K * (z_t - d_t - Z @ a)
        P = T @ P @ T.T + RQR - np.outer(K, K) * F
        P = (P + P.T) / 2
    return KalmanState(a, P, state.nobs + len(z))


def forecast_mean(system: ArmaSystem, state: KalmanState, x: np.ndarray | None, horizon: int) -> np.ndarray:
    """E[z_{T+j} | z_{1..T}] = Z a_{T+j} + x_{T+j}' b with a_{T+j+1} = T a_{T+j} + c, j = 1..horizon."""
    a, out = state.mean, np.empty(horizon)
    for j, d in enumerate(system.obs_intercept(x, horizon)):
        out[j] = system.design @ a + d
        a = system.transition @ a + system.state_intercept
    return out


class Arima(Forecaster):
    """ARIMA(p, d, q) with exogenous trigger features on a transformed count scale.

    z_t = f(y_t) (``transform``: none, sqrt or log1p), phi(L)(1 - L)^d (z_t - x_t' b) = c + theta(L) e_t,
    e_t ~ N(0, sigma2). ``order=None`` picks (p, q) in 0..``max_order`` by AIC (d = 0). Forecasts
    simulate Gaussian paths on the z scale, map them to counts y = round(f^{-1}(z)) clipped at 0, and mix
    each day's exact discretised Gaussian given the path's earlier days (``ArimaCountForecast``).

    ``result_`` holds statsmodels' results of the last fit; ``update`` runs the Kalman filter over the new
    days only (``kalman_filter``, parameters kept) and moves ``state_``, from which forecasts start.
    """

    uses_triggers = True
    param_rules = {**Forecaster.param_rules, **TRIGGER_PARAM_RULES, "order": Param(0, 5, integer=True, length=3,
                                                                                   none_ok=True),
                   "max_order": Param(0, 4, integer=True), "transform": Param(choices=tuple(TRANSFORMS))}

    def __init__(self, order: list[int] | None = (1, 0, 1), max_order: int = 2, transform: str = "sqrt",
                 trigger_kinds: list[str] | None = None, trigger_encoding: str = "decay",
                 trigger_half_life: float = 7.0, trigger_lag: int = 1, n_paths: int = 2000,
                 random_state: int | None = None):
        self.order = order
        self.max_order = max_order
        self.transform = transform
        self.trigger_kinds = trigger_kinds
        self.trigger_encoding = trigger_encoding
        self.trigger_half_life = trigger_half_life
        self.trigger_lag = trigger_lag
        self.n_paths = n_paths
        self.random_state = random_state

    def _trigger_design(self) -> TriggerDesign:
        return TriggerDesign(self.trigger_kinds, self.trigger_encoding, self.trigger_half_life, self.trigger_lag)

    def _model(self, z, exog, order):
        return SARIMAX(z, exog=exog, order=tuple(order), trend="c" if order[1] == 0 else "n",
                       enforce_stationarity=True, enforce_invertibility=True)

    def _fit(self, counts, triggers):
        y = counts.to_numpy().astype(float)
        if np.all(y == y[0]):
            raise ModelFitError("arima: the training counts are constant; nothing to fit")
        design = self._trigger_design()
        exog = design.matrix(counts.index, triggers)
        varying = exog.std(axis=0) > 1e-12
        self.exog_columns_ = [name for name, keep in zip(design.names, varying) if keep]
        z = TRANSFORMS[self.transform][0](y)
        x = exog[:, varying] if varying.any() else None
        orders = [tuple(self.order)] if self.order is not None else \
            [(p, 0, q) for p, q in itertools.product(range(self.max_order + 1), repeat=2)]
        best = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for order in orders:
                model = self._model(z, x, order)
                try:
                    res = model.fit(disp=False, maxiter=200)
                except (np.linalg.LinAlgError, ValueError):
                    continue
                if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
                    best = res
        if best is None:
            raise ModelFitError("arima: no candidate order could be fitted")
        self.result_ = best
        self.system_ = ArmaSystem.from_result(best)
        self.state_ = KalmanState.from_result(best)
        self.order_ = tuple(best.model.order)
        self.converged_ = bool(best.mle_retvals.get("converged", True)) and not any(
            issubclass(w.category, ConvergenceWarning) for w in caught)

    def _new_days(self, counts, triggers, start: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Transformed counts and regressors of the days from position ``start`` on."""
        z = TRANSFORMS[self.transform][0](counts.to_numpy()[start:].astype(float))
        return z, self._regressors(counts.index[start:], triggers)

    def _regressors(self, index, triggers) -> np.ndarray | None:
        """The fitted trigger columns on ``index`` (the decay of earlier triggers is carried in)."""
        if not self.exog_columns_:
            return None
        design = self._trigger_design()
        return design.matrix(index, triggers)[:, [design.names.index(c) for c in self.exog_columns_]]

    def _update(self, counts, triggers):
        """Filter the days after the last filtered one with the fitted parameters (no refit)."""
        n_old = self.state_.nobs
        if len(counts) < n_old:
            self._fit(counts, triggers)
        elif len(counts) > n_old:
            self.state_ = kalman_filter(self.system_, self.state_, *self._new_days(counts, triggers, n_old))

    def _forecast(self, index, future_triggers, n_paths):
        x = self._regressors(index, self._all_triggers(future_triggers))
        rng = self.forecast_rng(index)
        errors, innovations = gaussian_paths(self.result_, len(index), int(n_paths or self.n_paths), rng)
        z = forecast_mean(self.system_, self.state_, x, len(index)) + errors
        y = np.clip(np.nan_to_num(np.rint(TRANSFORMS[self.transform][1](z)), nan=0.0, posinf=1e6), 0, 1e6)
        return ArimaCountForecast(index, y, z - innovations, innovation_sd(self.result_), self.transform)

    def _history_result(self):
        """statsmodels' results over the whole history: the fit's, extended by the updated days."""
        n_fit = int(self.result_.nobs)
        if len(self.counts_) == n_fit:
            return self.result_
        z, x = self._new_days(self.counts_, self.triggers_, n_fit)
        return self.result_.append(z, exog=x, refit=False)

    def _summary(self):
        res = self._history_result()
        names = list(res.model.param_names)
        exog_map = {f"x{i + 1}": c for i, c in enumerate(self.exog_columns_)}
        params = {exog_map.get(k, k): float(v) for k, v in zip(names, np.asarray(res.params))}
        stderr = {exog_map.get(k, k): float(v) for k, v in zip(names, np.asarray(res.bse))}
        resid = np.asarray(res.resid)[1:]
        lb = acorr_ljungbox(resid, lags=[7])
        fitted = pd.Series(TRANSFORMS[self.transform][1](np.asarray(res.fittedvalues)), index=self.counts_.index)
        diag = {"order": str(self.order_), "transform": self.transform, "converged": self.converged_,
                "ljung_box_lag7_p": float(lb["lb_pvalue"].iloc[0]), "fitted": fitted,
                "residuals": pd.Series(np.asarray(res.resid), index=self.counts_.index)}
        return FitSummary("arima", params, stderr, float(res.llf), int(res.nobs), diag)
