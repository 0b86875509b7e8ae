"""ARIMA on transformed counts (forecast.models.arima) against statsmodels SARIMAX."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.arima_process import arma_generate_sample
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecast.data.annotate import trigger_features
from forecast.errors import ForecastInputError
from forecast.models import Arima
from forecast.models.arima import TRANSFORMS, ArimaCountForecast, forecast_mean, gaussian_paths

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def _fit_sarimax(z, order):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SARIMAX(z, order=order, trend="c" if order[1] == 0 else "n", enforce_stationarity=True,
                       enforce_invertibility=True).fit(disp=False, maxiter=200)


@pytest.mark.parametrize("order", [(1, 0, 1), (2, 0, 0), (0, 1, 1), (1, 1, 0)])
def test_gaussian_paths_variance_matches_statsmodels(order):
    rng = np.random.default_rng(1)
    z = 2 + arma_generate_sample([1, -0.6], [1, 0.3], 300, distrvs=rng.standard_normal)
    res = _fit_sarimax(z, order)
    horizon = 10
    var = np.asarray(res.get_forecast(horizon).var_pred_mean)
    paths, innovations = gaussian_paths(res, horizon, 40000, np.random.default_rng(0))
    assert paths.shape == innovations.shape == (40000, horizon)
    np.testing.assert_allclose(paths.var(axis=0), var, rtol=0.03)
    # the paths are forecast errors: centred
    assert np.all(np.abs(paths.mean(axis=0)) < 4 * np.sqrt(var / 40000))
    # the innovation is what the day adds to its conditional mean: psi_0 = 1 and day 1's error is its innovation
    np.testing.assert_array_equal(paths[:, 0], innovations[:, 0])
    sigma2 = dict(zip(res.model.param_names, res.params))["sigma2"]
    np.testing.assert_allclose(innovations.var(axis=0), sigma2, rtol=0.03)


def test_gaussian_paths_step_one_variance_is_sigma2():
    rng = np.random.default_rng(2)
    res = _fit_sarimax(arma_generate_sample([1, -0.5], [1], 250, distrvs=rng.standard_normal), (1, 0, 0))
    paths, _ = gaussian_paths(res, 3, 40000, np.random.default_rng(1))
    sigma2 = dict(zip(res.model.param_names, res.params))["sigma2"]
    phi = res.arparams[0]
    np.testing.assert_allclose(paths.var(axis=0), sigma2 * np.array([1, 1 + phi**2, 1 + phi**2 + phi**4]),
                               rtol=0.03)


@pytest.mark.parametrize("name", ["none", "sqrt", "log1p"])
def test_transforms_round_trip(name):
    forward, backward = TRANSFORMS[name]
    y = np.array([0, 1, 2, 3, 7, 20, 150], dtype=float)
    np.testing.assert_allclose(backward(forward(y)), y, rtol=1e-12, atol=1e-12)
    # forward is increasing (so quantiles map to quantiles)
    assert np.all(np.diff(forward(y)) > 0)


def test_sqrt_inverse_clips_negative_values_at_zero():
    assert TRANSFORMS["sqrt"][1](np.array([-1.5]))[0] == 0.0


def test_model_fits_the_transformed_series(synthetic_counts):
    model = Arima(order=(1, 0, 1), transform="log1p", random_state=0).fit(synthetic_counts)
    ref = _fit_sarimax(np.log1p(synthetic_counts.to_numpy().astype(float)), (1, 0, 1))
    s = model.summary()
    assert s.loglik == pytest.approx(ref.llf, rel=1e-6)
    np.testing.assert_allclose([s.params[k] for k in ref.model.param_names], ref.params, rtol=1e-4, atol=1e-6)


def test_order_none_picks_the_aic_best_candidate(synthetic_counts):
    counts = synthetic_counts.iloc[:150]
    model = Arima(order=None, max_order=1, transform="sqrt", random_state=0).fit(counts)
    z = np.sqrt(counts.to_numpy().astype(float))
    fits = {(p, 0, q): _fit_sarimax(z, (p, 0, q)) for p, q in itertools.product(range(2), repeat=2)}
    best = min(fits, key=lambda o: fits[o].aic)
    assert model.order_ == best
    assert model.result_.aic == pytest.approx(fits[best].aic, rel=1e-8)
    assert model.summary().diagnostics["order"] == str(best)


def test_unknown_transform_is_a_input_error(synthetic_counts):
    with pytest.raises(ForecastInputError, match="transform"):
        Arima(transform="cube").fit(synthetic_counts)


def test_forecast_counts_are_rounded_back_transformed_gaussians(synthetic_counts):
    """With transform none and many paths, P(y = 0) equals P(z < 0.5) under the Gaussian forecast
    (rounding and clipping at zero)."""
    from scipy import stats

    model = Arima(order=(1, 0, 0), transform="none", n_paths=20000, random_state=3).fit(synthetic_counts)
    fc = model.forecast(2)
    pred = model.result_.get_forecast(2)
    mean, sd = np.asarray(pred.predicted_mean), np.sqrt(np.asarray(pred.var_pred_mean))
    p0 = stats.norm.cdf((0.5 - mean[0]) / sd[0])
    emp = np.mean(fc.paths[:, 0] == 0)
    assert abs(emp - p0) < 4 * np.sqrt(p0 * (1 - p0) / 20000)
    assert fc.paths.min() >= 0
    assert isinstance(fc.index, pd.DatetimeIndex)


@pytest.mark.parametrize("order", [(1, 0, 1), (2, 0, 0), (0, 1, 1)])
def test_update_and_forecast_mean_equal_statsmodels_append(order, synthetic_counts, synthetic_triggers):
    """The numpy Kalman update (new days only) and mean forecast equal statsmodels' filter over the
    whole history with the fitted parameters (``append(refit=False)``) and its ``get_forecast``; the
    regressors come from ``trigger_features`` on the full calendar (past triggers' decay carried in)."""
    model = Arima(order=order, transform="sqrt", random_state=0).fit(synthetic_counts.iloc[:120], synthetic_triggers)
    for end in (121, 150, 186):  # one day, then several days at once
        model.update(synthetic_counts.iloc[:end], synthetic_triggers)
    horizon = 14
    full = synthetic_counts.index[:186].append(pd.date_range(synthetic_counts.index[186], periods=horizon))
    known = synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[185]]
    x = trigger_features(full, known).add_prefix("effect_")[model.exog_columns_].to_numpy()
    z = np.sqrt(synthetic_counts.to_numpy()[120:186].astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = model.result_.append(z, exog=x[120:186], refit=False)
    assert model.state_.nobs == ref.nobs == 186
    np.testing.assert_allclose(model.state_.mean, ref.predicted_state[:, -1], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(model.state_.cov, ref.predicted_state_cov[:, :, -1], rtol=1e-10, atol=1e-10)
    expected = np.asarray(ref.get_forecast(horizon, exog=x[186:]).predicted_mean)
    np.testing.assert_allclose(forecast_mean(model.system_, model.state_, x[186:], horizon), expected,
                               rtol=1e-10, atol=1e-10)
    s = model.summary()
    assert s.n_obs == 186 and s.loglik == pytest.approx(ref.llf, rel=1e-10)


def test_forecast_after_update_is_the_rounded_statsmodels_forecast(synthetic_counts):
    """After an update, each day's simulated counts follow round(N(mean, var)) clipped at 0, with mean and
    variance from statsmodels' forecast over the whole history."""
    from scipy import stats

    n = 20000
    model = Arima(order=(1, 0, 0), transform="none", n_paths=n, random_state=0).fit(synthetic_counts.iloc[:150])
    model.update(synthetic_counts.iloc[:170])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = model.result_.append(synthetic_counts.to_numpy()[150:170].astype(float), refit=False)
    pred = ref.get_forecast(2)
    paths = model.forecast(2).paths
    for day, (mean, var) in enumerate(zip(np.asarray(pred.predicted_mean), np.asarray(pred.var_pred_mean))):
        upper = stats.norm.cdf((np.arange(4) + 0.5 - mean) / np.sqrt(var))
        expected = np.diff(upper, prepend=0.0)  # P(y = 0), P(y = 1), ...
        observed = np.bincount(paths[:, day], minlength=4)[:4] / n
        np.testing.assert_allclose(observed, expected, atol=4 * np.sqrt(0.25 / n))


def test_update_to_a_shorter_history_refits_and_to_the_same_is_a_no_op(synthetic_counts):
    model = Arima(order=(1, 0, 0), random_state=0).fit(synthetic_counts.iloc[:150])
    state = model.state_
    model.update(synthetic_counts.iloc[:150])
    assert model.state_ is state
    model.update(synthetic_counts.iloc[:120])
    assert model.state_.nobs == model.result_.nobs == 120


def test_forecast_uses_the_trigger_features_of_the_forecast_days(synthetic_triggers):
    """Counts driven by a strong us_strike effect: y = round(20 + 8 x_t + N(0, 1)). The simulated paths
    after an update, with a hypothetical strike inside the horizon, average statsmodels' forecast with
    the regressors of the full calendar."""
    index = pd.date_range("2024-01-01", periods=200, freq="D", name="date")
    strikes = synthetic_triggers[synthetic_triggers["kind"] == "us_strike"]
    x = trigger_features(index, strikes, kinds=["us_strike"])["us_strike"].to_numpy()
    y = np.rint(20 + 8 * x + np.random.default_rng(0).normal(0, 1, len(index))).astype(np.int64)
    counts = pd.Series(y, index=index)
    model = Arima(order=(1, 0, 0), transform="none", trigger_kinds=["us_strike"], n_paths=20000, random_state=0)
    model.fit(counts.iloc[:130], strikes).update(counts.iloc[:138], strikes)
    scenario = pd.DataFrame({"date": [index[140]], "kind": ["us_strike"], "name": ["hypothetical"]})
    fc = model.forecast(7, future_triggers=scenario)
    full = index[:145]
    known = pd.concat([strikes[strikes["date"] <= index[137]], scenario])
    exog = trigger_features(full, known, kinds=["us_strike"]).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = model.result_.append(y[130:138].astype(float), exog=exog[130:138], refit=False)
    pred = ref.get_forecast(7, exog=exog[138:])
    sd = np.sqrt(np.asarray(pred.var_pred_mean))
    assert np.ptp(exog[138:]) > 0.5  # the strike on day 3 moves the regressor inside the horizon
    np.testing.assert_allclose(fc.paths.mean(axis=0), np.asarray(pred.predicted_mean),
                               atol=float(4 * sd.max() / np.sqrt(20000)))


# ---- exact-given-the-paths predictive pmfs (ArimaCountForecast) --------------------------------------
def _forecast_of(model: Arima, horizon: int, n_paths: int) -> ArimaCountForecast:
    fc = model.forecast(horizon, n_paths=n_paths)
    assert isinstance(fc, ArimaCountForecast)
    return fc


@pytest.mark.parametrize("transform", ["sqrt", "log1p", "none"])
def test_conditional_pmf_matches_monte_carlo(synthetic_counts, transform):
    """Given one path's first days, day s's count is round(f^{-1}(z)) clipped at 0 with z ~ N(m, sigma^2): the
    closed-form pmf equals the frequencies of that rounding over many draws of z."""
    from scipy import stats

    fc = _forecast_of(Arima(order=(1, 0, 1), transform=transform, random_state=0).fit(synthetic_counts), 5, 200)
    m, sigma = fc.means[[0, 7], 3], fc.sigma
    z = m[:, None] + sigma * np.random.default_rng(5).standard_normal((2, 200_000))
    y = np.clip(np.rint(TRANSFORMS[transform][1](z)), 0, None).astype(int)
    size = fc._support(float(m.max()))
    pmf = fc.conditional_pmfs(m, size)
    for row, draws in zip(pmf, y):
        freq = np.bincount(draws, minlength=size)[:size] / draws.size
        np.testing.assert_allclose(freq, row, atol=5 * np.sqrt(0.25 / draws.size))
    # a cell far in the upper tail keeps its probability (differences of upper tails, no cancellation)
    far = size + 40
    edges = TRANSFORMS[transform][0](np.array([far - 0.5, far + 0.5]))
    exact = np.diff(-stats.norm.sf((edges - m[0]) / sigma))[0]
    assert fc.conditional_pmfs(m[:1], far + 1)[0, far] == pytest.approx(exact, rel=1e-6)


def test_pmfs_sum_to_one_and_mix_the_conditionals(synthetic_counts):
    fc = _forecast_of(Arima(order=(2, 0, 1), transform="sqrt", random_state=1).fit(synthetic_counts), 14, 500)
    for step in (1, 5, 14):
        assert fc.daily_pmf(step).sum() == pytest.approx(1.0, abs=1e-12)
        assert fc.total_pmf(step).sum() == pytest.approx(1.0, abs=1e-12)
    # day 1 conditions on the origin only: every path has the same conditional mean, the pmf is that of one Gaussian
    assert np.ptp(fc.means[:, 0]) < 1e-9
    np.testing.assert_allclose(fc.daily_pmf(1)[:5], fc.conditional_pmfs(fc.means[:1, 0], 5)[0], rtol=1e-9)
    # the total over two days mixes day 2's conditional pmf shifted by each path's day-1 count
    size = fc._support(float(fc.means[:, 1].max()))
    rows = fc.conditional_pmfs(fc.means[:, 1], size)
    expected = np.zeros(fc.paths[:, 0].max() + size)
    for shift, row in zip(fc.paths[:, 0], rows):
        expected[shift: shift + size] += row
    total = fc.total_pmf(2)
    np.testing.assert_allclose(total[: len(expected)], expected[: len(total)] / len(rows), atol=1e-12)
    # the mean comes from the pmfs (the conditional means are on the sqrt scale)
    assert fc.predicted_mean.iloc[4] == pytest.approx(fc.day(5).mean, rel=1e-12)
    assert fc.predicted_mean.iloc[4] == pytest.approx(fc.paths[:, 4].mean(), rel=0.15)


def test_rao_blackwellised_pmf_does_not_depend_on_luck(synthetic_counts):
    """An outcome no path reached keeps its conditional probability; the day's pmf agrees across path counts
    far better than empirical frequencies could."""
    model = Arima(order=(1, 0, 1), transform="sqrt", random_state=2).fit(synthetic_counts)
    small, large = _forecast_of(model, 3, 500), _forecast_of(model, 3, 20_000)
    k = int(small.paths[:, 2].max()) + 3
    assert small.daily_pmf(3)[k] > 0
    np.testing.assert_allclose(small.daily_pmf(3)[:k], large.daily_pmf(3)[:k], rtol=0.1, atol=1e-3)


def test_exact_forecast_is_deterministic(synthetic_counts, synthetic_triggers):
    model = Arima(order=(1, 0, 1), transform="sqrt", trigger_kinds=["us_strike"], n_paths=300, random_state=4)
    model.fit(synthetic_counts, synthetic_triggers)
    a, b = model.forecast(7), model.forecast(7)
    np.testing.assert_array_equal(a.paths, b.paths)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.total_pmf(7), b.total_pmf(7))
    other = Arima(order=(1, 0, 1), transform="sqrt", trigger_kinds=["us_strike"], n_paths=300, random_state=5)
    assert not np.array_equal(other.fit(synthetic_counts, synthetic_triggers).forecast(7).total_pmf(7), a.total_pmf(7))
