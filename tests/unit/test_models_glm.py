"""Poisson and negative-binomial count regressions (forecast.models.glm) against statsmodels and
closed forms."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.discrete.discrete_model import NegativeBinomial

from forecast import trigger_features
from forecast.models import NegBinGLM, PoissonGLM
from forecast.models.base import IndependentCountForecast, MixtureCountForecast
from forecast.models.features import history_design, history_names

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
                       effect_prior_sd=None, random_state=0)
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
                       effect_prior_sd=None, random_state=0)
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
    plain = PoissonGLM(n_lags=0, rolling_days=0, days_since_last=False).fit(synthetic_counts).forecast(3)
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


def test_effect_prior_zeroes_the_penalised_score(synthetic_counts, synthetic_triggers):
    """With a N(0, sd^2) prior the estimate solves X'(y - mu) = beta_effects / sd^2 (the penalised
    score is zero), shrinks the trigger effects toward 0 and leaves the loglik below the MLE's."""
    sd = 0.5
    model = PoissonGLM(n_lags=1, rolling_days=0, days_since_last=False, trigger_kinds=KINDS,
                       effect_prior_sd=sd).fit(synthetic_counts, synthetic_triggers)
    mle = PoissonGLM(n_lags=1, rolling_days=0, days_since_last=False, trigger_kinds=KINDS,
                     effect_prior_sd=None).fit(synthetic_counts, synthetic_triggers)
    beta = np.asarray(model.result_.params)
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]]
    full = design(synthetic_counts, known, 1, 0, False)[model.columns_].to_numpy()
    y = synthetic_counts.to_numpy()
    mu = np.exp(full @ beta)
    penalty = np.array([1 / sd**2 if c.startswith("effect_") else 0.0 for c in model.columns_])
    np.testing.assert_allclose(full.T @ (y - mu), penalty * beta, atol=1e-6)
    effects = [i for i, c in enumerate(model.columns_) if c.startswith("effect_")]
    assert np.sum(beta[effects] ** 2) < np.sum(np.asarray(mle.result_.params)[effects] ** 2)
    assert model.summary().loglik <= mle.summary().loglik + 1e-9
