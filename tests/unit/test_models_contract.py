"""Contract test over every forecaster: the scikit-learn estimator conventions and the one
predictive-distribution object (GUIDE section 3 and 6)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecast.models import FitSummary
from forecast.models.hawkes import Hawkes
from tests.conftest import registered_models

pytestmark = pytest.mark.usefixtures("single_blas_thread")

N_PATHS = 500
HORIZON = 14

# (class, constructor kwargs, simulates paths): every option of configs/model/
SPECS = [(cls, kwargs, "n_paths" in kwargs) for _, cls, kwargs in registered_models(N_PATHS)]

IDS = [name for name, _, _ in registered_models(N_PATHS)]


def make(cls, kwargs, seed=None):
    kw = dict(kwargs)
    if "random_state" in cls().get_params():
        kw["random_state"] = seed
    return cls(**kw)


@pytest.fixture(params=SPECS, ids=IDS)
def spec(request):
    return request.param


def test_clone_gives_unfitted_estimator_with_equal_params(spec, synthetic_counts, synthetic_triggers):
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=3).fit(synthetic_counts, synthetic_triggers)
    twin = clone(model)
    assert type(twin) is cls and twin is not model
    assert twin.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        twin.forecast(3)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(twin))


def test_fit_returns_self(spec, synthetic_counts, synthetic_triggers):
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=0)
    assert model.fit(synthetic_counts, synthetic_triggers) is model


def test_not_fitted_errors(spec):
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=0)
    with pytest.raises(NotFittedError):
        model.forecast(HORIZON)
    with pytest.raises(NotFittedError):
        model.summary()


def test_forecast_distribution_shape_and_coherence(spec, synthetic_counts, synthetic_triggers):
    cls, kwargs, _ = spec
    fc = make(cls, kwargs, seed=0).fit(synthetic_counts, synthetic_triggers).forecast(HORIZON)
    expected_index = pd.date_range(synthetic_counts.index[-1] + pd.Timedelta(days=1), periods=HORIZON, freq="D")
    mean = fc.predicted_mean
    assert len(mean) == HORIZON
    assert mean.index.equals(expected_index)
    assert np.all(np.isfinite(mean.to_numpy())) and np.all(mean.to_numpy() >= 0)

    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    quantiles = np.column_stack([fc.quantile(q).to_numpy() for q in qs])
    assert quantiles.shape == (HORIZON, len(qs))
    assert np.all(np.diff(quantiles, axis=1) >= 0), "quantiles must be non-decreasing in q"

    for window in range(1, HORIZON + 1):
        pmf = fc.total_pmf(window)
        assert np.all(pmf >= 0)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    for window in (1, 7, 14):
        p = np.array([fc.prob_at_least(k, window) for k in range(0, 40)])
        assert p[0] == 1.0
        assert np.all(np.diff(p) <= 1e-12), "P(total >= k) must decrease in k"
    for k in (1, 2, 3, 5, 10):
        p = np.array([fc.prob_at_least(k, w) for w in range(1, HORIZON + 1)])
        assert np.all(np.diff(p) >= -1e-12), "P(total >= k) must increase with the window"
    # the per-day pmf agrees with the one-day total
    day, total = fc.daily_pmf(1), fc.total_pmf(1)
    n = max(len(day), len(total))
    np.testing.assert_allclose(np.pad(day, (0, n - len(day))), np.pad(total, (0, n - len(total))), atol=1e-9)
    frame = fc.summary_frame()
    assert list(frame.columns) == ["date", "step", "mean", "q05", "q25", "q50", "q75", "q95", "p_ge1"]
    assert len(frame) == HORIZON


def _numbers(model, counts, triggers):
    fc = model.fit(counts, triggers).forecast(HORIZON)
    out = {"frame": fc.summary_frame(), "totals": [fc.total_pmf(w) for w in (1, 7, 14)],
           "params": model.summary().params}
    if hasattr(fc, "paths"):
        out["paths"] = fc.paths
    return out


def test_same_seed_same_numbers_different_seed_different_paths(spec, synthetic_counts, synthetic_triggers):
    cls, kwargs, simulates = spec
    a = _numbers(make(cls, kwargs, seed=11), synthetic_counts, synthetic_triggers)
    b = _numbers(make(cls, kwargs, seed=11), synthetic_counts, synthetic_triggers)
    pd.testing.assert_frame_equal(a["frame"], b["frame"])
    for x, y in zip(a["totals"], b["totals"]):
        np.testing.assert_array_equal(x, y)
    assert a["params"].keys() == b["params"].keys()
    np.testing.assert_array_equal(list(a["params"].values()), list(b["params"].values()))
    if simulates and "paths" in a:
        np.testing.assert_array_equal(a["paths"], b["paths"])
        c = _numbers(make(cls, kwargs, seed=12), synthetic_counts, synthetic_triggers)
        assert c["paths"].shape == a["paths"].shape
        assert np.any(c["paths"] != a["paths"]), "a different seed must give different simulated paths"


def test_inputs_are_not_mutated(spec, synthetic_counts, synthetic_triggers):
    cls, kwargs, _ = spec
    counts, triggers = synthetic_counts.copy(deep=True), synthetic_triggers.copy(deep=True)
    model = make(cls, kwargs, seed=0).fit(synthetic_counts, synthetic_triggers)
    model.forecast(HORIZON)
    model.summary()
    model.update(synthetic_counts, synthetic_triggers)
    pd.testing.assert_series_equal(synthetic_counts, counts)
    pd.testing.assert_frame_equal(synthetic_triggers, triggers)


def test_summary_shape(spec, synthetic_counts, synthetic_triggers):
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=0).fit(synthetic_counts, synthetic_triggers)
    s = model.summary()
    assert isinstance(s, FitSummary)
    assert set(s.params) == set(s.stderr)
    assert len(s.params) >= 1
    assert np.isfinite(s.loglik)
    k = sum(np.isfinite(v) for v in s.params.values())
    assert s.aic == pytest.approx(2 * k - 2 * s.loglik, rel=1e-12)
    assert s.n_obs > 0
    table = s.table()
    assert list(table.index) == list(s.params)
    assert isinstance(str(s), str) and s.model in str(s)


# ---- the real event set ------------------------------------------------------------------------
def test_every_model_fits_and_forecasts_the_real_data(spec, real_counts, real_triggers):
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=0).fit(real_counts, real_triggers)
    fc = model.forecast(HORIZON)
    mean = fc.predicted_mean
    assert mean.index[0] == real_counts.index[-1] + pd.Timedelta(days=1) and len(mean) == HORIZON
    assert np.all(np.isfinite(mean.to_numpy()))
    assert 0.0 <= fc.prob_at_least(1, HORIZON) <= 1.0
    s = model.summary()
    assert np.isfinite(s.loglik)
    assert s.n_obs > 0


def test_hawkes_real_data_summary_reports_branching_ratio_and_us_strike_effect(real_counts, real_triggers):
    s = Hawkes(n_paths=N_PATHS, random_state=0).fit(real_counts, real_triggers).summary()
    assert 0.0 <= s.params["adjacency"] <= 5.0
    assert np.isfinite(s.stderr["adjacency"]) and s.stderr["adjacency"] > 0
    assert s.diagnostics["branching_ratio"] == s.params["adjacency"]
    row = s.table().loc["effect_us_strike"]
    assert np.isfinite(row["estimate"])
    assert np.isfinite(row["ci_lower"]) and np.isfinite(row["ci_upper"]) and row["ci_lower"] < row["ci_upper"]
    for name in ("baseline", "decay"):
        assert np.isfinite(s.params[name]) and s.params[name] > 0


def test_update_then_summary_and_forecast(spec, synthetic_counts, synthetic_triggers):
    """update() conditions on a longer history; summary() still works and is self-consistent, and the
    forecast starts the day after the new last day."""
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=0).fit(synthetic_counts.iloc[:150], synthetic_triggers)
    before = model.summary()
    assert model.update(synthetic_counts, synthetic_triggers) is model
    after = model.summary()
    assert set(after.params) == set(before.params) == set(after.stderr)
    assert np.isfinite(after.loglik)
    assert after.aic == pytest.approx(2 * after.n_params - 2 * after.loglik)
    assert model.forecast(3).index[0] == synthetic_counts.index[-1] + pd.Timedelta(days=1)


def test_forecasts_are_functions_and_a_model_without_triggers_ignores_a_scenario(spec, synthetic_counts,
                                                                                synthetic_triggers):
    """Forecasting twice gives the same distribution; with no trigger features a scenario's hypothetical
    trigger changes nothing at all (the scenario and its baseline share their random numbers)."""
    cls, kwargs, _ = spec
    model = make(cls, kwargs, seed=4).fit(synthetic_counts, synthetic_triggers)
    first, again = model.forecast(HORIZON), model.forecast(HORIZON)
    for w in (1, 7, 14):
        np.testing.assert_array_equal(first.total_pmf(w), again.total_pmf(w))
    if not model.uses_triggers:
        future = pd.DataFrame({"date": [first.index[2]], "kind": ["us_strike"], "name": ["hypothetical"]})
        scenario = model.forecast(HORIZON, future_triggers=future)
        for w in (1, 7, 14):
            np.testing.assert_array_equal(scenario.total_pmf(w), first.total_pmf(w))
