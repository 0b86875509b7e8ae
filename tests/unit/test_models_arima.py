"""ARIMA on transformed counts (forecast.models.arima) against statsmodels SARIMAX."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.arima_process import arma_generate_sample
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecast.errors import ForecastInputError
from forecast.models import Arima
from forecast.models.arima import TRANSFORMS, gaussian_paths

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
    paths = gaussian_paths(res, horizon, 40000, np.random.default_rng(0))
    assert paths.shape == (40000, horizon)
    np.testing.assert_allclose(paths.var(axis=0), var, rtol=0.03)
    # the paths are forecast errors: centred
    assert np.all(np.abs(paths.mean(axis=0)) < 4 * np.sqrt(var / 40000))


def test_gaussian_paths_step_one_variance_is_sigma2():
    rng = np.random.default_rng(2)
    res = _fit_sarimax(arma_generate_sample([1, -0.5], [1], 250, distrvs=rng.standard_normal), (1, 0, 0))
    paths = gaussian_paths(res, 3, 40000, np.random.default_rng(1))
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
