"""Poisson and negative-binomial count regression on lagged counts and trigger features."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.stats.diagnostic import acorr_ljungbox

from forecast.distributions import negbin_pmfs, poisson_pmfs
from forecast.errors import ModelFitError
from forecast.models.base import FitSummary, Forecaster, IndependentCountForecast, MixtureCountForecast, Param
from forecast.models.features import TRIGGER_PARAM_RULES, TriggerDesign, calendar_design, history_design, history_features, \
    history_names


@dataclass
class PenalisedFit:
    """Estimates, standard errors (from the penalised observed information), log-likelihood (without
    the penalty) and fitted means."""

    params: np.ndarray
    bse: np.ndarray
    llf: float
    fitted: np.ndarray
    converged: bool


def penalised_mle(model, start: np.ndarray, penalty: np.ndarray, bounds) -> PenalisedFit:
    """Maximise model.loglike(b) - sum(penalty * b^2) / 2 with the model's analytic score (L-BFGS-B)."""
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
    info = -np.asarray(model.hessian(x)) + np.diag(penalty)
    try:
        cov = np.linalg.inv(info)
        bse = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        bse = np.full(len(res.x), np.nan)
    return PenalisedFit(x, bse, float(model.loglike(x)), np.asarray(model.predict(x)), bool(res.success))


class PoissonGLM(Forecaster):
    """Poisson regression: y_t ~ Poisson(exp(x_t' beta)).

    x_t holds an intercept, log(1 + y_{t-j}) for j = 1..``n_lags``, log(1 + trailing
    ``rolling_days``-day mean), log(1 + attack-free days before t), trigger features
    (``effect_<kind>``) and optional day-of-week dummies. ``effect_prior_sd`` puts a N(0, sd^2) prior
    on the trigger effects (penalised likelihood, as in :class:`Hawkes`; ``None`` = plain MLE) so a
    trigger kind seen a few times cannot send the forecast to extremes. Forecasts simulate ``n_paths`` paths when
    lagged counts feed back; otherwise days are independent and the distribution is exact.
    """

    uses_triggers = True
    param_rules = {**Forecaster.param_rules, **TRIGGER_PARAM_RULES, "n_lags": Param(0, 60, integer=True),
                   "rolling_days": Param(0, 365, integer=True)}
    family = "poisson"

    def __init__(self, n_lags: int = 1, rolling_days: int = 7, days_since_last: bool = True,
                 day_of_week: bool = False, trigger_kinds: list[str] | None = None,
                 trigger_encoding: str = "decay", trigger_half_life: float = 7.0, trigger_lag: int = 1,
                 effect_prior_sd: float | None = 1.0, n_paths: int = 2000, random_state: int | None = None):
        self.n_lags = n_lags
        self.rolling_days = rolling_days
        self.days_since_last = days_since_last
        self.day_of_week = day_of_week
        self.trigger_kinds = trigger_kinds
        self.trigger_encoding = trigger_encoding
        self.trigger_half_life = trigger_half_life
        self.trigger_lag = trigger_lag
        self.effect_prior_sd = effect_prior_sd
        self.n_paths = n_paths
        self.random_state = random_state

    # ---- design ----------------------------------------------------------------------
    def _triggers(self):
        return TriggerDesign(self.trigger_kinds, self.trigger_encoding, self.trigger_half_life, self.trigger_lag)

    def _exog(self, index, triggers) -> pd.DataFrame:
        trig = self._triggers()(index, triggers)
        cal, names = calendar_design(index, self.day_of_week)
        return pd.concat([trig, pd.DataFrame(cal, index=index, columns=names)], axis=1)

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
        varying = (X.std(axis=0) > 1e-12) | (X.columns == "intercept")
        self.dropped_ = [c for c in X.columns if not varying[c]]
        self.columns_ = [c for c in X.columns if varying[c]]
        if y.sum() == 0:
            raise ModelFitError(f"{self.family}: no attacks in the training window; nothing to fit")
        self.result_ = self._fit_statsmodels(y, X[self.columns_].to_numpy())
        self._fit_counts = counts  # summary() describes the fitted data, also after update()
        self._update(counts, triggers)

    def _likelihood(self, y, X):
        """The statsmodels model whose loglike/score/hessian are maximised, and start values."""
        model = sm.GLM(y, X, family=sm.families.Poisson())
        return model, np.zeros(X.shape[1]), [(None, None)] * X.shape[1]

    def _fit_statsmodels(self, y, X):
        model, start, bounds = self._likelihood(y, X)
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
        var = fitted + self._dispersion() * fitted**2
        pearson = (y - fitted) / np.sqrt(var)
        lb = acorr_ljungbox(pearson, lags=[7])
        diag = {"converged": self.converged_, "dropped_columns": ", ".join(self.dropped_) or "none",
                "pearson_dispersion": float(np.sum(pearson**2) / max(len(y) - len(names), 1)),
                "ljung_box_lag7_p": float(lb["lb_pvalue"].iloc[0]),
                "fitted": pd.Series(fitted, index=self._fit_counts.index),
                "residuals": pd.Series(pearson, index=self._fit_counts.index)}
        loglik = float(res.llf)
        return FitSummary(self.family, {k: v for k, v in params.items()},
                          stderr, loglik, len(y), diag)


class NegBinGLM(PoissonGLM):
    """Negative-binomial (NB2) regression: y_t ~ NB(mean exp(x_t' beta), variance mu + alpha mu^2),
    same regressors as :class:`PoissonGLM`; ``alpha`` is estimated by maximum likelihood."""

    family = "negbin"

    def _likelihood(self, y, X):
        model = NegativeBinomial(y, X, loglike_method="nb2")
        poisson = sm.GLM(y, X, family=sm.families.Poisson()).fit()
        # statsmodels' own fit (alpha on the log scale) gives a start well inside alpha > 0
        start = model.fit(start_params=np.append(np.clip(poisson.params, -10, 10), 0.5), method="bfgs",
                          maxiter=500, disp=0).params
        return model, start, [(None, None)] * X.shape[1] + [(1e-8, None)]

    def _dispersion(self) -> float:
        return float(np.asarray(self.result_.params)[-1])

    def _draw(self, mean, rng):
        alpha = max(self._dispersion(), 1e-8)
        return rng.poisson(rng.gamma(1.0 / alpha, alpha * mean))
