"""ARIMA on daily counts (statsmodels SARIMAX) with trigger features as exogenous regressors."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy.linalg import toeplitz
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tsa.arima_process import arma2ma
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecast.errors import ForecastInputError, ModelFitError
from forecast.models.base import FitSummary, Forecaster, SampleCountForecast
from forecast.models.features import TriggerDesign

TRANSFORMS = {
    "none": (lambda y: y, lambda z: z),
    "sqrt": (np.sqrt, lambda z: np.square(np.maximum(z, 0.0))),
    "log1p": (np.log1p, np.expm1),
}


def gaussian_paths(result, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Forecast-error paths e_{T+j} = sum_{i<j} psi_i eps_{T+j-i}, eps ~ N(0, sigma2), with psi the MA(inf)
    weights of the fitted ARIMA (differencing included); the state at T is taken as known."""
    params = dict(zip(result.model.param_names, np.asarray(result.params)))
    ar = np.r_[1.0, -np.asarray(result.arparams)] if result.model.k_ar else np.array([1.0])
    for _ in range(result.model.k_diff):
        ar = np.convolve(ar, [1.0, -1.0])
    ma = np.r_[1.0, np.asarray(result.maparams)] if result.model.k_ma else np.array([1.0])
    psi = arma2ma(ar, ma, lags=horizon)
    weights = toeplitz(psi, np.zeros(horizon))  # weights[j, i] = psi_{j-i}
    return rng.standard_normal((n_paths, horizon)) @ weights.T * np.sqrt(params["sigma2"])


class Arima(Forecaster):
    """ARIMA(p, d, q) with exogenous trigger features on a transformed count scale.

    z_t = f(y_t) (``transform``: none, sqrt or log1p), phi(L)(1 - L)^d (z_t - x_t' b - c) = theta(L) e_t,
    e_t ~ N(0, sigma2). ``order=None`` picks (p, q) in 0..``max_order`` by AIC (d = 0). Forecasts
    simulate Gaussian paths on the z scale and map them back to counts: y = round(f^{-1}(z)), clipped at
    0 (so the count distribution is discretised and truncated at zero and scored like every model).
    """

    uses_triggers = True

    def __init__(self, order: list[int] | None = (1, 0, 1), max_order: int = 2, transform: str = "sqrt",
                 trigger_kinds: list[str] | None = None, trigger_encoding: str = "decay",
                 trigger_half_life: float = 7.0, trigger_lag: int = 1, n_paths: int = 2000,
                 warm_start: bool = False, random_state: int | None = None):
        self.order = order
        self.max_order = max_order
        self.transform = transform
        self.trigger_kinds = trigger_kinds
        self.trigger_encoding = trigger_encoding
        self.trigger_half_life = trigger_half_life
        self.trigger_lag = trigger_lag
        self.n_paths = n_paths
        self.warm_start = warm_start
        self.random_state = random_state

    def _exog(self, index, triggers) -> pd.DataFrame:
        return TriggerDesign(self.trigger_kinds, self.trigger_encoding, self.trigger_half_life,
                             self.trigger_lag)(index, triggers)

    def _model(self, z, exog, order):
        return SARIMAX(z, exog=exog, order=tuple(order), trend="c" if order[1] == 0 else "n",
                       enforce_stationarity=True, enforce_invertibility=True)

    def _fit(self, counts, triggers):
        if self.transform not in TRANSFORMS:
            raise ForecastInputError(f"unknown transform '{self.transform}'", column="model.transform",
                                     hint=f"use one of {', '.join(TRANSFORMS)}")
        y = counts.to_numpy().astype(float)
        if np.all(y == y[0]):
            raise ModelFitError("arima: the training counts are constant; nothing to fit")
        exog = self._exog(counts.index, triggers)
        self.exog_columns_ = [c for c in exog.columns if exog[c].std() > 1e-12]
        z = TRANSFORMS[self.transform][0](y)
        x = exog[self.exog_columns_].to_numpy() if self.exog_columns_ else None
        orders = [tuple(self.order)] if self.order is not None else \
            [(p, 0, q) for p, q in itertools.product(range(self.max_order + 1), repeat=2)]
        previous = getattr(self, "result_", None) if self.warm_start else None
        best = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for order in orders:
                model = self._model(z, x, order)
                start = None
                if previous is not None and list(previous.model.param_names) == list(model.param_names):
                    start = previous.params
                try:
                    res = model.fit(start_params=start, disp=False, maxiter=200)
                except (np.linalg.LinAlgError, ValueError):
                    continue
                if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
                    best = res
        if best is None:
            raise ModelFitError("arima: no candidate order could be fitted")
        self.result_ = best
        self.order_ = tuple(best.model.order)
        self.converged_ = bool(best.mle_retvals.get("converged", True)) and not any(
            issubclass(w.category, ConvergenceWarning) for w in caught)

    def _update(self, counts, triggers):
        """Extend the fitted state to a longer history with the same parameters (no refit)."""
        n_old = int(self.result_.nobs)
        y = counts.to_numpy().astype(float)
        if len(y) == n_old:
            return None
        if len(y) < n_old:
            return self._fit(counts, triggers)
        exog = self._exog(counts.index, triggers)
        z = TRANSFORMS[self.transform][0](y[n_old:])
        x = exog[self.exog_columns_].to_numpy()[n_old:] if self.exog_columns_ else None
        self.result_ = self.result_.append(z, exog=x, refit=False)

    def _forecast(self, index, future_triggers, n_paths):
        full = self.counts_.index.append(index)
        x = None
        if self.exog_columns_:
            x = self._exog(full, self._all_triggers(future_triggers))[self.exog_columns_].to_numpy()[
                len(self.counts_):]
        n = int(n_paths or self.n_paths)
        rng = np.random.default_rng(self.rng_.integers(2**63))
        mean = np.asarray(self.result_.get_forecast(len(index), exog=x).predicted_mean)
        z = mean + gaussian_paths(self.result_, len(index), n, rng)
        y = np.rint(TRANSFORMS[self.transform][1](z))
        return SampleCountForecast(index, np.clip(np.nan_to_num(y, nan=0.0, posinf=1e6), 0, 1e6))

    def _summary(self):
        res = self.result_
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
