"""Poisson and negative-binomial count regressions (forecast.models.glm) against statsmodels and
closed forms, with and without exponential forgetting."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats
from statsmodels.discrete.discrete_model import NegativeBinomial

from forecast import trigger_features
from forecast.errors import ForecastInputError
from forecast.models import NegBinGLM, PoissonGLM
from forecast.models.base import IndependentCountForecast, MixtureCountForecast
from forecast.models.features import history_design, history_names
from forecast.models.glm import WeightedNB2, penalised_mle

pytestmark = pytest.mark.usefixtures("single_blas_thread")

KINDS = ["us_strike", "regional"]


def design(counts, triggers, n_lags, rolling_days, days_since_last, kinds=KINDS):
    """intercept, history features, trigger features (decay, half-life 7, lag 1): the GLM design."""
    hist, _, _ = history_design(counts.to_numpy(), n_lags, rolling_days, days_since_last)
    trig = trigger_features(counts.index, triggers, kinds=kinds, encoding="decay", half_life=7.0, lag=1)
    X = pd.concat([pd.DataFrame({"intercept": 1.0}, index=counts.index),
                   pd.DataFrame(hist, index=counts.index,
                                columns=history_names(n_lags, rolling_days, days_since_last)),
                   trig.add_prefix("effect_")], axis=1)
    return X


def nb_series(n=500, alpha=0.8, seed=3):
    """Counts with an over-dispersed NB2 law whose mean responds to the trigger feature."""
    index = pd.date_range("2022-01-01", periods=n, freq="D", name="date")
    rng = np.random.default_rng(seed)
    days = np.sort(rng.choice(n - 1, size=25, replace=False))
    triggers = pd.DataFrame({"date": index[days], "kind": rng.choice(KINDS, size=len(days)), "name": "t"})
    x = trigger_features(index, triggers, kinds=KINDS, encoding="decay", half_life=7.0, lag=1).to_numpy()
    mean = np.exp(-0.2 + 0.5 * x[:, 0] - 0.4 * x[:, 1])
    y = rng.poisson(rng.gamma(1 / alpha, alpha * mean))
    return pd.Series(y, index=index, name="count"), triggers


def test_poisson_glm_coefficients_equal_statsmodels(synthetic_counts, synthetic_triggers):
    model = PoissonGLM(n_lags=2, rolling_days=7, days_since_last=True, trigger_kinds=KINDS,
                       effect_prior_sd=None, forget_half_life=None, random_state=0)
    s = model.fit(synthetic_counts, synthetic_triggers).summary()
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    X = design(synthetic_counts, known, 2, 7, True)
    ref = sm.GLM(synthetic_counts.to_numpy(), X.to_numpy(), family=sm.families.Poisson()).fit()
    assert list(s.params) == list(X.columns)
    np.testing.assert_allclose([s.params[c] for c in X.columns], ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose([s.stderr[c] for c in X.columns], ref.bse, rtol=1e-5)
    assert s.loglik == pytest.approx(ref.llf, rel=1e-10)
    assert s.aic == pytest.approx(ref.aic, rel=1e-10)


def test_negbin_glm_matches_statsmodels_negative_binomial():
    counts, triggers = nb_series()
    model = NegBinGLM(n_lags=1, rolling_days=7, days_since_last=True, trigger_kinds=KINDS,
                      effect_prior_sd=None, forget_half_life=None, random_state=0)
    s = model.fit(counts, triggers).summary()
    X = design(counts, triggers, 1, 7, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = NegativeBinomial(counts.to_numpy(), X.to_numpy(), loglike_method="nb2").fit(method="newton",
                                                                                          maxiter=200, disp=0)
    assert s.params["alpha"] == pytest.approx(ref.params[-1], rel=1e-3)
    np.testing.assert_allclose([s.params[c] for c in X.columns], ref.params[:-1], rtol=1e-3, atol=1e-3)
    assert s.loglik == pytest.approx(ref.llf, rel=1e-6)
    # the simulated over-dispersion is recovered (true alpha 0.8)
    assert abs(s.params["alpha"] - 0.8) < 3 * s.stderr["alpha"]


def test_exact_forecast_without_feedback_is_poisson_with_closed_form_totals(synthetic_counts, synthetic_triggers):
    model = PoissonGLM(n_lags=0, rolling_days=0, days_since_last=False, trigger_kinds=KINDS, random_state=0)
    fc = model.fit(synthetic_counts, synthetic_triggers).forecast(14)
    assert isinstance(fc, IndependentCountForecast)
    s = model.summary()
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    full = synthetic_counts.index.append(fc.index)
    x = trigger_features(full, known, kinds=KINDS, encoding="decay", half_life=7.0, lag=1).iloc[-14:]
    means = np.exp(s.params["intercept"] + sum(s.params[f"effect_{k}"] * x[k].to_numpy() for k in KINDS))
    np.testing.assert_allclose(fc.predicted_mean.to_numpy(), means, rtol=1e-8)
    for window in (1, 5, 14):
        lam = means[:window].sum()
        for k in (1, 2, 4, 8):
            assert fc.prob_at_least(k, window) == pytest.approx(stats.poisson.sf(k - 1, lam), abs=1e-9)
    # with no triggers and no history the forecast is the fitted constant rate: the sample mean
    plain = PoissonGLM(n_lags=0, rolling_days=0, days_since_last=False, forget_half_life=None).fit(
        synthetic_counts).forecast(3)
    np.testing.assert_allclose(plain.predicted_mean.to_numpy(), synthetic_counts.mean(), rtol=1e-8)


def test_exact_negbin_forecast_daily_pmf_is_nb2():
    counts, triggers = nb_series()
    model = NegBinGLM(n_lags=0, rolling_days=0, days_since_last=False, trigger_kinds=KINDS).fit(counts, triggers)
    fc = model.forecast(7)
    assert isinstance(fc, IndependentCountForecast)
    alpha = model.summary().params["alpha"]
    for step in (1, 7):
        m = fc.predicted_mean.iloc[step - 1]
        pmf = fc.daily_pmf(step)
        ref = stats.nbinom.pmf(np.arange(len(pmf)), 1 / alpha, 1 / (1 + alpha * m))
        np.testing.assert_allclose(pmf, ref, atol=1e-9)


@pytest.mark.parametrize("cls", [PoissonGLM, NegBinGLM])
def test_simulated_day_one_mean_equals_linear_predictor(cls, synthetic_counts, synthetic_triggers):
    """Day 1 depends only on the observed history: its mean is exp(x'beta) with x built from the data
    (the design of the series extended by one day is the design of day T+1)."""
    n_paths = 4000
    model = cls(n_lags=2, rolling_days=7, days_since_last=True, trigger_kinds=KINDS, n_paths=n_paths,
                random_state=5).fit(synthetic_counts, synthetic_triggers)
    fc = model.forecast(5)
    assert isinstance(fc, MixtureCountForecast)
    s = model.summary()
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    extended = pd.concat([synthetic_counts, pd.Series([0], index=fc.index[:1])])
    X = design(extended, known, 2, 7, True)
    x_next = X.iloc[-1]
    mean = float(np.exp(sum(s.params[c] * x_next[c] for c in X.columns)))
    np.testing.assert_allclose(fc.means[:, 0], mean, rtol=1e-9)  # every path shares the observed history
    day1 = fc.paths[:, 0]
    sd = np.sqrt(mean * (1 + s.params.get("alpha", 0.0) * mean) / n_paths)
    assert abs(day1.mean() - mean) < 4 * sd, (day1.mean(), mean)


def test_constant_trigger_column_is_dropped_and_not_counted(synthetic_counts):
    """A trigger kind that never occurs carries no information: reported as NaN, not in the AIC."""
    model = PoissonGLM(n_lags=1, rolling_days=0, days_since_last=False, trigger_kinds=["diplomatic"]).fit(
        synthetic_counts, None)
    s = model.summary()
    assert model.dropped_ == ["effect_diplomatic"]
    assert np.isnan(s.params["effect_diplomatic"]) and np.isnan(s.stderr["effect_diplomatic"])
    assert s.aic == pytest.approx(2 * 2 - 2 * s.loglik)


@pytest.mark.parametrize("cls", [PoissonGLM, NegBinGLM])
def test_summary_after_update_describes_the_fitted_data(cls, synthetic_counts, synthetic_triggers):
    model = cls(trigger_kinds=KINDS, random_state=0).fit(synthetic_counts.iloc[:150], synthetic_triggers)
    before = model.summary()
    model.update(synthetic_counts, synthetic_triggers)
    after = model.summary()
    assert after.n_obs == before.n_obs == 150
    assert after.loglik == before.loglik and after.params == before.params
    assert len(after.diagnostics["fitted"]) == 150
    assert after.diagnostics["pearson_dispersion"] == before.diagnostics["pearson_dispersion"]


@pytest.mark.parametrize("half_life", [None, 14.0])
def test_effect_prior_zeroes_the_penalised_score(half_life, synthetic_counts, synthetic_triggers):
    """With a N(0, sd^2) prior the estimate solves X'W(y - mu) = beta_effects / sd^2 (the penalised, weighted
    score is zero; W = diag(w_t), the identity without forgetting), shrinks the trigger effects toward 0 and
    leaves the loglik below the MLE's."""
    sd = 0.5
    model = PoissonGLM(n_lags=1, rolling_days=0, days_since_last=False, trigger_kinds=KINDS,
                       effect_prior_sd=sd, forget_half_life=half_life).fit(synthetic_counts, synthetic_triggers)
    mle = PoissonGLM(n_lags=1, rolling_days=0, days_since_last=False, trigger_kinds=KINDS,
                     effect_prior_sd=None, forget_half_life=half_life).fit(synthetic_counts, synthetic_triggers)
    beta = np.asarray(model.result_.params)
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    full = design(synthetic_counts, known, 1, 0, False)[model.columns_].to_numpy()
    y = synthetic_counts.to_numpy()
    mu = np.exp(full @ beta)
    w = np.ones(len(y)) if half_life is None else 0.5 ** ((len(y) - 1 - np.arange(len(y))) / half_life)
    penalty = np.array([1 / sd**2 if c.startswith("effect_") else 0.0 for c in model.columns_])
    np.testing.assert_allclose(full.T @ (w * (y - mu)), penalty * beta, atol=1e-6)
    effects = [i for i, c in enumerate(model.columns_) if c.startswith("effect_")]
    assert np.sum(beta[effects] ** 2) < np.sum(np.asarray(mle.result_.params)[effects] ** 2)
    assert model.summary().loglik <= mle.summary().loglik + 1e-9


# ---- exponential forgetting (weighted likelihood) -----------------------------------------------------
def forgetting(n: int, half_life: float) -> np.ndarray:
    """w_t = 0.5 ** ((T - t) / half_life), T the last day."""
    return 0.5 ** ((n - 1 - np.arange(n)) / half_life)


def step_counts(seed: int = 0) -> pd.Series:
    """A regime change: Poisson 0.2 attacks/day for 300 days, then 2.0/day for 30 days."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.poisson(0.2, 300), rng.poisson(2.0, 30)])
    return pd.Series(y, index=pd.date_range("2022-01-01", periods=len(y), freq="D", name="date"), name="count")


def test_without_forgetting_the_fit_is_the_unweighted_fit_bit_for_bit(synthetic_counts, synthetic_triggers):
    """forget_half_life=None is the fit as it was before forgetting: penalised_mle on statsmodels' unweighted
    Poisson GLM, the same numbers to the last bit."""
    model = PoissonGLM(n_lags=2, trigger_kinds=KINDS, forget_half_life=None).fit(synthetic_counts, synthetic_triggers)
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    X = design(synthetic_counts, known, 2, 7, True)[model.columns_].to_numpy()
    penalty = np.array([1.0 if c.startswith("effect_") else 0.0 for c in model.columns_])  # effect_prior_sd = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = penalised_mle(sm.GLM(synthetic_counts.to_numpy(), X, family=sm.families.Poisson()),
                            np.zeros(X.shape[1]), penalty, [(None, None)] * X.shape[1])
    assert model.weights_ is None and model.summary().diagnostics["effective_days"] == len(synthetic_counts)
    np.testing.assert_array_equal(model.result_.params, ref.params)
    np.testing.assert_array_equal(model.result_.bse, ref.bse)
    assert model.result_.llf == ref.llf


def test_weighted_poisson_glm_equals_statsmodels_with_var_weights(synthetic_counts, synthetic_triggers):
    """The weighted fit is statsmodels' GLM with var_weights w_t: estimates, standard errors (the inverse
    weighted information) and weighted log-likelihood."""
    model = PoissonGLM(n_lags=2, trigger_kinds=KINDS, effect_prior_sd=None, forget_half_life=21.0).fit(
        synthetic_counts, synthetic_triggers)
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    X = design(synthetic_counts, known, 2, 7, True)[model.columns_].to_numpy()
    w = forgetting(len(synthetic_counts), 21.0)
    ref = sm.GLM(synthetic_counts.to_numpy(), X, family=sm.families.Poisson(), var_weights=w).fit()
    np.testing.assert_allclose(model.weights_, w, rtol=1e-14)
    np.testing.assert_allclose(model.result_.params, ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.result_.bse, ref.bse, rtol=1e-5)
    s = model.summary()
    assert s.loglik == pytest.approx(ref.llf, rel=1e-10)
    assert s.diagnostics["effective_days"] == pytest.approx(w.sum())


def test_weighted_nb2_likelihood_equals_statsmodels_on_replicated_rows():
    """Whole-number weights are replicated rows: WeightedNB2's log-likelihood, score and Hessian equal
    statsmodels' NegativeBinomial on the data with row t repeated w_t times; for fractional weights the score
    and Hessian are the finite differences of the log-likelihood."""
    counts, triggers = nb_series(n=120)
    X = design(counts, triggers, 1, 7, True).to_numpy()
    y = counts.to_numpy()
    reps = np.random.default_rng(0).integers(1, 4, len(y))
    ref = NegativeBinomial(np.repeat(y, reps), np.repeat(X, reps, axis=0), loglike_method="nb2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(method="newton", maxiter=50, disp=0)  # afterwards the model takes alpha itself, not log alpha
    params = np.r_[np.random.default_rng(1).normal(0, 0.3, X.shape[1]), 0.6]
    weighted = WeightedNB2(y, X, reps.astype(float))
    assert weighted.loglike(params) == pytest.approx(ref.loglike(params), rel=1e-12)
    np.testing.assert_allclose(weighted.score(params), ref.score(params), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(weighted.hessian(params), ref.hessian(params), rtol=1e-9, atol=1e-9)

    fractional = WeightedNB2(y, X, forgetting(len(y), 10.0))
    eye = np.eye(len(params)) * 1e-6
    grad = [(fractional.loglike(params + e) - fractional.loglike(params - e)) / 2e-6 for e in eye]
    hess = [(fractional.score(params + e) - fractional.score(params - e)) / 2e-6 for e in eye]
    np.testing.assert_allclose(fractional.score(params), grad, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fractional.hessian(params), hess, rtol=1e-6, atol=1e-6)


def test_weighted_negbin_glm_maximises_the_weighted_nb_loglik():
    """Reference: scipy's own optimiser on -sum_t w_t log NB(y_t; exp(x_t'b), alpha) written with
    scipy.stats.nbinom."""
    counts, triggers = nb_series()
    model = NegBinGLM(n_lags=1, rolling_days=7, days_since_last=True, trigger_kinds=KINDS, effect_prior_sd=None,
                      forget_half_life=60.0).fit(counts, triggers)
    X = design(counts, triggers, 1, 7, True)[model.columns_].to_numpy()
    y, w = counts.to_numpy(), forgetting(len(counts), 60.0)

    def objective(p):
        mu, alpha = np.exp(X @ p[:-1]), np.exp(p[-1])
        return -w @ stats.nbinom.logpmf(y, 1 / alpha, 1 / (1 + alpha * mu))

    start = np.r_[np.zeros(X.shape[1]), 0.0]
    ref = optimize.minimize(objective, start, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000}).x
    fitted = np.asarray(model.result_.params)
    np.testing.assert_allclose(fitted[:-1], ref[:-1], atol=1e-4)
    assert fitted[-1] == pytest.approx(np.exp(ref[-1]), rel=1e-4)
    assert model.summary().loglik == pytest.approx(-objective(ref), rel=1e-9)


@pytest.mark.parametrize("cls", [PoissonGLM, NegBinGLM])
def test_forgetting_follows_a_regime_change(cls):
    """0.2/day for 300 days then 2.0/day for 30 (constant-rate model: intercept only). With a 14-day
    half-life the 7-day forecast mean is within 0.5 of 2.0: the fitted rate is the weighted mean
    sum w y / sum w, whose expectation is 1.59 (23% of the weight still lies on the quiet days); without
    forgetting it is the whole-history mean, about 0.36."""
    counts = step_counts(seed=0)
    y = counts.to_numpy()
    kwargs = dict(n_lags=0, rolling_days=0, days_since_last=False)
    forget = cls(**kwargs, forget_half_life=14.0).fit(counts).forecast(7).predicted_mean.mean()
    plain = cls(**kwargs, forget_half_life=None).fit(counts).forecast(7).predicted_mean.mean()
    w = forgetting(len(y), 14.0)
    assert forget == pytest.approx(w @ y / w.sum(), rel=1e-6)  # the weighted MLE of a constant rate
    assert plain == pytest.approx(y.mean(), rel=1e-6)
    assert abs(forget - 2.0) < 0.5 and plain < 0.5


@pytest.mark.parametrize("cls", [PoissonGLM, NegBinGLM])
def test_forgetting_tends_to_the_unweighted_fit_as_the_half_life_grows(cls, synthetic_counts, synthetic_triggers):
    """|beta(h) - beta(None)| = O(1/h): ten times the half-life, a tenth of the distance."""
    kwargs = dict(n_lags=1, trigger_kinds=KINDS)
    base = np.asarray(cls(**kwargs, forget_half_life=None).fit(synthetic_counts, synthetic_triggers).result_.params)
    dist = [np.max(np.abs(np.asarray(cls(**kwargs, forget_half_life=h).fit(
        synthetic_counts, synthetic_triggers).result_.params) - base)) for h in (36.5, 365.0, 3650.0)]
    assert dist[0] > dist[1] > dist[2] and dist[2] < 5e-3
    assert dist[2] / dist[1] == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize("bad", [0, -3.0, 4000.0, "14"])
def test_bad_forget_half_life_names_the_key(bad, synthetic_counts):
    with pytest.raises(ForecastInputError, match="model.forget_half_life"):
        NegBinGLM(forget_half_life=bad).fit(synthetic_counts)


def test_exposure_covariate_is_known_only_up_to_the_fit_and_carried_forward(synthetic_counts):
    """log(1 + exposure) enters as a regressor; the forecast days carry the last fitted day's exposure
    forward (a later drawdown cannot leak in), and a fit without exposure is a clear error."""
    index = synthetic_counts.index
    exposure = pd.Series(np.where(np.arange(len(index)) < 120, 10, 3), index=index, dtype=float)
    counts = synthetic_counts.iloc[:150]
    model = PoissonGLM(exposure_covariate=True, random_state=0).fit(counts, None, exposure)
    assert "log_exposure" in model.columns_
    later = exposure.copy()
    later.iloc[150:] = 0.0  # a future drawdown the model must not see
    again = PoissonGLM(exposure_covariate=True, random_state=0).fit(counts, None, later)
    np.testing.assert_array_equal(model.forecast(7).total_pmf(7), again.forecast(7).total_pmf(7))
    np.testing.assert_array_equal(model.exposure_on(pd.date_range(index[149], periods=3, freq="D")), [3.0] * 3)
    with pytest.raises(ForecastInputError, match="data.sites"):
        PoissonGLM(exposure_covariate=True).fit(counts)
