"""Poisson and negative-binomial count regression on lagged counts and trigger features.

With exponential forgetting (``forget_half_life`` = h days) the coefficients maximise the weighted
(local) log-likelihood

    l_w(theta) = sum_t w_t log p(y_t | x_t; theta),   w_t = 0.5 ** ((T - t) / h),

T the last fitted day, so a day h days old counts half as much as the last one and the fit follows a
regime change within a few half-lives; h = None gives w_t = 1 (the ordinary likelihood).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize
from scipy.special import digamma, gammaln, polygamma
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.stats.diagnostic import acorr_ljungbox

from forecast.distributions import negbin_pmfs, poisson_pmfs
from forecast.errors import ModelFitError
from forecast.models.base import FitSummary, Forecaster, IndependentCountForecast, MixtureCountForecast, Param
from forecast.models.features import (
    TRIGGER_PARAM_RULES,
    TriggerFeatures,
    calendar_design,
    history_design,
    history_features,
    history_names,
    informative,
)
from forecast.models.newton import wald_stderr

FORGET_RULE = Param(0, 3650, low_open=True, none_ok=True)  # forget_half_life of the GLMs and Hawkes


def forgetting_weights(n: int, half_life: float | None) -> np.ndarray | None:
    """w_t = 0.5 ** ((T - t) / half_life) for t = 0..T = n - 1 (None without forgetting), floored at the
    smallest positive float so that no day's weight underflows to exactly zero."""
    if half_life is None:
        return None
    return np.maximum(0.5 ** (np.arange(n - 1, -1, -1) / float(half_life)), np.finfo(float).tiny)


class WeightedNB2:
    """Weighted NB2 log-likelihood sum_t w_t log NB(y_t; mu_t = exp(x_t' b), alpha), params (b, alpha),
    with its analytic score and Hessian (statsmodels' NegativeBinomial takes no weights). With n = 1/alpha,
    d = digamma(y + n) - digamma(n), A = log(1 + alpha mu) - d and u = 1 + alpha mu, per day

        l         = log Gamma(y + n) - log Gamma(n) - log y! - n log u + y log(alpha mu / u)
        dl/deta   = (y - mu) / u
        dl/dalpha = A / alpha^2 + (y - mu) / (alpha u)
        d2l/deta2 = -mu (1 + alpha y) / u^2,   d2l/deta dalpha = -mu (y - mu) / u^2
        d2l/dalpha2 = -2 A / alpha^3 + (mu / u + (trigamma(y + n) - trigamma(n)) / alpha^2) / alpha^2
                      - (y - mu)(1 + 2 alpha mu) / (alpha u)^2
    """

    def __init__(self, endog: np.ndarray, exog: np.ndarray, weights: np.ndarray):
        self.endog, self.exog, self.weights = np.asarray(endog, float), np.asarray(exog, float), weights

    def _parts(self, params):
        eta, alpha = self.exog @ params[:-1], params[-1]
        mu = np.exp(eta)
        return eta, mu, alpha, 1.0 / alpha, 1.0 + alpha * mu

    def predict(self, params) -> np.ndarray:
        return np.exp(self.exog @ params[:-1])

    def loglikeobs(self, params) -> np.ndarray:
        y, (eta, _, alpha, n, u) = self.endog, self._parts(params)
        return gammaln(y + n) - gammaln(n) - gammaln(y + 1.0) - n * np.log(u) + y * (np.log(alpha) + eta - np.log(u))

    def loglike(self, params) -> float:
        return float(self.weights @ self.loglikeobs(params))

    def score(self, params) -> np.ndarray:
        y, (_, mu, alpha, n, u) = self.endog, self._parts(params)
        d_alpha = (np.log(u) - digamma(y + n) + digamma(n)) / alpha**2 + (y - mu) / (alpha * u)
        return np.append(self.exog.T @ (self.weights * (y - mu) / u), self.weights @ d_alpha)

    def hessian(self, params) -> np.ndarray:
        y, X, w, (_, mu, alpha, n, u) = self.endog, self.exog, self.weights, self._parts(params)
        A = np.log(u) - digamma(y + n) + digamma(n)
        h_aa = (-2 * A / alpha**3 + (mu / u + (polygamma(1, y + n) - polygamma(1, n)) / alpha**2) / alpha**2
                - (y - mu) * (1 + 2 * alpha * mu) / (alpha * u) ** 2)
        k = X.shape[1]
        H = np.empty((k + 1, k + 1))
        H[:k, :k] = -X.T @ (X * (w * mu * (1 + alpha * y) / u**2)[:, None])
        H[:k, k] = H[k, :k] = -X.T @ (w * mu * (y - mu) / u**2)
        H[k, k] = w @ h_aa
        return H


@dataclass
class PenalisedFit:
    """Estimates, standard errors (from the penalised, weighted observed information), log-likelihood
    (weighted, without the penalty) and fitted means."""

    params: np.ndarray
    bse: np.ndarray
    llf: float
    fitted: np.ndarray
    converged: bool


def penalised_mle(model, start: np.ndarray, penalty: np.ndarray, bounds) -> PenalisedFit:
    """Maximise model.loglike(b) - sum(penalty * b^2) / 2 with the model's analytic score (L-BFGS-B), then
    polish with Newton steps on the analytic Hessian; standard errors from the inverse of its negative."""
    def objective(b):
        return -model.loglike(b) + 0.5 * np.sum(penalty * b**2), -model.score(b) + penalty * b

    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-8})
    x = res.x
    for _ in range(5):  # Newton polish with the analytic Hessian: L-BFGS-B stops near 1e-5 relative
        info = -np.asarray(model.hessian(x)) + np.diag(penalty)
        try:
            candidate = x + np.linalg.solve(info, -objective(x)[1])
        except np.linalg.LinAlgError:
            break
        lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
        if np.any(candidate <= lower) or not objective(candidate)[0] <= objective(x)[0] + 1e-12:
            break
        x = candidate
    bse = wald_stderr(-np.asarray(model.hessian(x)) + np.diag(penalty))
    return PenalisedFit(x, bse, float(model.loglike(x)), np.asarray(model.predict(x)), bool(res.success))


class PoissonGLM(TriggerFeatures, Forecaster):
    """Poisson regression: y_t ~ Poisson(exp(x_t' beta)).

    x_t holds an intercept, log(1 + y_{t-j}) for j = 1..``n_lags``, log(1 + trailing
    ``rolling_days``-day mean), log(1 + attack-free days before t), trigger features
    (``effect_<kind>``), optional day-of-week dummies and, with ``exposure_covariate``, log(1 + number of
    sites with US forces present) (carried forward from the last fitted day into the forecast).
    ``effect_prior_sd`` puts a N(0, sd^2) prior
    on the trigger effects (penalised likelihood, as in :class:`Hawkes`; ``None`` = plain MLE) so a
    trigger kind seen a few times cannot send the forecast to extremes. Forecasts simulate ``n_paths`` paths when
    lagged counts feed back; otherwise days are independent and the distribution is exact.

    ``forget_half_life`` (days) maximises the exponentially weighted log-likelihood of the module docstring,
    sum_t w_t log p(y_t), w_t = 0.5 ** ((T - t) / h) (``None``: every w_t = 1, the ordinary fit). Standard
    errors are from the inverse weighted observed information -d2 l_w; under the model this is conservative:
    its variance exceeds the sandwich's by the factor sum w / sum w^2 (about 2 for half-lives of a week or
    more). The summary's log-likelihood and AIC are then the weighted ones, ``effective_days`` = sum w.
    Default 28: best mean log score of None/14/28/56 on the 2023-24 campaign backtest without a failed origin.
    """

    param_rules = {**Forecaster.param_rules, **TRIGGER_PARAM_RULES, "n_lags": Param(0, 60, integer=True),
                   "rolling_days": Param(0, 365, integer=True), "forget_half_life": FORGET_RULE}
    family = "poisson"

    def __init__(self, n_lags: int = 1, rolling_days: int = 7, days_since_last: bool = True,
                 day_of_week: bool = False, trigger_kinds: list[str] | None = None,
                 trigger_encoding: str = "decay", trigger_half_life: float = 7.0, trigger_lag: int = 1,
                 effect_prior_sd: float | None = 1.0, forget_half_life: float | None = 28.0,
                 exposure_covariate: bool = False, n_paths: int = 2000, random_state: int | None = None):
        self.n_lags = n_lags
        self.rolling_days = rolling_days
        self.days_since_last = days_since_last
        self.day_of_week = day_of_week
        self.trigger_kinds = trigger_kinds
        self.trigger_encoding = trigger_encoding
        self.trigger_half_life = trigger_half_life
        self.trigger_lag = trigger_lag
        self.effect_prior_sd = effect_prior_sd
        self.forget_half_life = forget_half_life
        self.exposure_covariate = exposure_covariate
        self.n_paths = n_paths
        self.random_state = random_state

    # ---- design ----------------------------------------------------------------------
    def _exog(self, index, triggers) -> pd.DataFrame:
        trig = self.trigger_design()(index, triggers)
        cal, names = calendar_design(index, self.day_of_week)
        exog = pd.concat([trig, pd.DataFrame(cal, index=index, columns=names)], axis=1)
        if self.exposure_covariate:  # log(1 + sites with US forces present): fewer targets, fewer attacks
            exog["log_exposure"] = np.log1p(self.exposure_on(index))
        return exog

    @property
    def _feedback(self) -> bool:
        return bool(self.n_lags or self.rolling_days or self.days_since_last)

    def _fit(self, counts, triggers):
        y = counts.to_numpy()
        hist, _, _ = history_design(y, self.n_lags, self.rolling_days, self.days_since_last)
        exog = self._exog(counts.index, triggers)
        X = pd.concat([pd.DataFrame({"intercept": 1.0}, index=counts.index),
                       pd.DataFrame(hist, index=counts.index,
                                    columns=history_names(self.n_lags, self.rolling_days, self.days_since_last)),
                       exog], axis=1)
        # columns that never vary in the training window (e.g. a trigger kind that has not yet
        # occurred) carry no information: drop them and report their effect as not estimated
        varying = pd.Series(informative(X.to_numpy(), X.columns == "intercept"), index=X.columns)
        self.dropped_ = [c for c in X.columns if not varying[c]]
        self.columns_ = [c for c in X.columns if varying[c]]
        if y.sum() == 0:
            raise ModelFitError(f"{self.family}: no attacks in the training window; nothing to fit")
        self.weights_ = forgetting_weights(len(y), self.forget_half_life)
        self.result_ = self._fit_statsmodels(y, X[self.columns_].to_numpy(), self.weights_)
        self._fit_counts = counts  # summary() describes the fitted data, also after update()
        self._update(counts, triggers)

    def _likelihood(self, y, X, weights):
        """The model whose (weighted) loglike/score/hessian are maximised, start values and bounds."""
        model = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=weights)
        return model, np.zeros(X.shape[1]), [(None, None)] * X.shape[1]

    def _fit_statsmodels(self, y, X, weights):
        model, start, bounds = self._likelihood(y, X, weights)
        penalty = np.zeros(len(start))
        if self.effect_prior_sd:
            effect = [c.startswith("effect_") for c in self.columns_]
            penalty[: len(effect)] = np.where(effect, 1.0 / self.effect_prior_sd**2, 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = penalised_mle(model, start, penalty, bounds)
        self.converged_ = fit.converged
        if not np.all(np.isfinite(fit.params)):
            raise ModelFitError(f"{self.family}: the fit diverged (non-finite coefficients)")
        return fit

    @property
    def _beta(self) -> np.ndarray:
        return np.asarray(self.result_.params)[: len(self.columns_)]

    def _update(self, counts, triggers):
        _, self.window_, self.quiet_ = history_design(counts.to_numpy(), self.n_lags, self.rolling_days,
                                                       self.days_since_last)

    # ---- forecast ----------------------------------------------------------------------
    def _dispersion(self) -> float:
        return 0.0

    def _draw(self, mean: np.ndarray, rng) -> np.ndarray:
        return rng.poisson(mean)

    def _forecast(self, index, future_triggers, n_paths):
        exog = self._exog(index, self._all_triggers(future_triggers))  # decay features carry over: no history needed
        hist_names = history_names(self.n_lags, self.rolling_days, self.days_since_last)
        beta = pd.Series(self._beta, index=self.columns_)
        b_exog = beta.reindex(exog.columns).fillna(0.0).to_numpy()
        fixed = beta["intercept"] + exog.to_numpy() @ b_exog  # per-day linear predictor without history
        if not self._feedback:
            means = np.exp(fixed)
            pmfs = negbin_pmfs(means, self._dispersion()) if self.family == "negbin" else poisson_pmfs(means)
            return IndependentCountForecast(index, pmfs)
        b_hist = beta.reindex(hist_names).fillna(0.0).to_numpy()
        rng = self.forecast_rng(index)
        n = int(n_paths or self.n_paths)
        window = np.tile(self.window_, (n, 1))
        quiet = np.full(n, float(self.quiet_))
        paths = np.zeros((n, len(index)), dtype=np.int64)
        means = np.zeros((n, len(index)))
        for s in range(len(index)):
            eta = fixed[s] + history_features(window, quiet, self.n_lags, self.rolling_days,
                                              self.days_since_last) @ b_hist
            means[:, s] = np.exp(np.minimum(eta, 20.0))
            y = self._draw(means[:, s], rng)
            paths[:, s] = y
            window = np.concatenate([window[:, 1:], y[:, None]], axis=1)
            quiet = np.where(y > 0, 0.0, quiet + 1)
        return MixtureCountForecast(index, paths, means, self._dispersion())

    # ---- summary -----------------------------------------------------------------------
    def _summary(self):
        res = self.result_
        names = list(self.columns_) + (["alpha"] if self.family == "negbin" else [])
        params = dict(zip(names, map(float, np.asarray(res.params))))
        stderr = dict(zip(names, map(float, np.asarray(res.bse))))
        for c in self.dropped_:
            params[c], stderr[c] = float("nan"), float("nan")
        fitted = res.fitted
        y = self._fit_counts.to_numpy()
        w = np.ones(len(y)) if self.weights_ is None else self.weights_  # days weighted as in the fit
        var = fitted + self._dispersion() * fitted**2
        pearson = (y - fitted) / np.sqrt(var)
        lb = acorr_ljungbox(pearson, lags=[7])
        diag = {"converged": self.converged_, "dropped_columns": ", ".join(self.dropped_) or "none",
                "effective_days": float(w.sum()),
                "pearson_dispersion": float(np.sum(w * pearson**2) / max(w.sum() - len(names), 1)),
                "ljung_box_lag7_p": float(lb["lb_pvalue"].iloc[0]),
                "fitted": pd.Series(fitted, index=self._fit_counts.index),
                "residuals": pd.Series(pearson, index=self._fit_counts.index)}
        notes = [f"Expected attacks tomorrow, given the last days: {self._one_day_mean():.3f}."]
        if diag["ljung_box_lag7_p"] < 0.05:
            notes.append(f"Residuals stay correlated over a week (Ljung-Box p={diag['ljung_box_lag7_p']:.2g}): the "
                         "model does not capture all of the persistence of attack tempo.")
        if self.weights_ is not None:
            notes.append(f"Recent days weigh more (half-life {self.forget_half_life:g} days; "
                         f"{diag['effective_days']:.0f} effective days).")
        return FitSummary(self.family, dict(params), stderr, float(res.llf), len(y), diag, notes,
                          effect_scale="log_rate")

    def _one_day_mean(self) -> float:
        return float(self.forecast(1).predicted_mean.iloc[0])


class NegBinGLM(PoissonGLM):
    """Negative-binomial (NB2) regression: y_t ~ NB(mean exp(x_t' beta), variance mu + alpha mu^2),
    same regressors and forgetting as :class:`PoissonGLM`; ``alpha`` is estimated by (weighted) maximum
    likelihood jointly with beta (:class:`WeightedNB2` when weighted)."""

    family = "negbin"

    def _likelihood(self, y, X, weights):
        unweighted = NegativeBinomial(y, X, loglike_method="nb2")
        poisson = sm.GLM(y, X, family=sm.families.Poisson()).fit()
        # statsmodels' own unweighted fit (alpha on the log scale) gives a start well inside alpha > 0
        start = unweighted.fit(start_params=np.append(np.clip(poisson.params, -10, 10), 0.5), method="bfgs",
                               maxiter=500, disp=0).params
        model = unweighted if weights is None else WeightedNB2(y, X, weights)
        return model, start, [(None, None)] * X.shape[1] + [(1e-8, None)]

    def _dispersion(self) -> float:
        return float(np.asarray(self.result_.params)[-1])

    def _draw(self, mean, rng):
        alpha = max(self._dispersion(), 1e-8)
        return rng.poisson(rng.gamma(1.0 / alpha, alpha * mean))
