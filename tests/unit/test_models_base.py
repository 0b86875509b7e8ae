"""The predictive-distribution objects and FitSummary (forecast.models.base)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast.distributions import negbin_pmfs, poisson_pmfs
from forecast.errors import ModelFitError
from forecast.models.base import FitSummary, IndependentCountForecast, MixtureCountForecast, SampleCountForecast

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def _index(n):
    return pd.date_range("2025-01-01", periods=n, freq="D", name="date")


def test_independent_poisson_total_is_poisson_of_the_summed_mean():
    means = np.array([0.3, 1.2, 0.05, 2.5, 0.7, 0.0, 4.0])
    fc = IndependentCountForecast(_index(len(means)), poisson_pmfs(means))
    for window in range(1, len(means) + 1):
        lam = means[:window].sum()
        pmf = fc.total_pmf(window)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(pmf, stats.poisson.pmf(np.arange(len(pmf)), lam), atol=1e-9)
        assert stats.poisson.sf(len(pmf) - 1, lam) < 1e-8  # truncated only in the far tail
        assert fc.total_mean(window) == pytest.approx(lam, rel=1e-8, abs=1e-9)
        for k in (1, 3, 6):
            assert fc.prob_at_least(k, window) == pytest.approx(stats.poisson.sf(k - 1, lam), abs=1e-9)
    np.testing.assert_allclose(fc.predicted_mean.to_numpy(), means, atol=1e-9)


def test_independent_forecast_quantiles_and_intervals_are_poisson_quantiles():
    means = np.array([0.5, 3.0, 9.0])
    fc = IndependentCountForecast(_index(3), poisson_pmfs(means))
    for q in (0.05, 0.25, 0.5, 0.9, 0.95):
        np.testing.assert_array_equal(fc.quantile(q).to_numpy(), stats.poisson.ppf(q, means))
    iv = fc.interval(0.9)
    np.testing.assert_array_equal(iv["lower"].to_numpy(), stats.poisson.ppf(0.05, means))
    np.testing.assert_array_equal(iv["upper"].to_numpy(), stats.poisson.ppf(0.95, means))
    pd.testing.assert_frame_equal(fc.conf_int(0.1), iv)
    np.testing.assert_allclose(fc.summary_frame()["p_ge1"], 1 - np.exp(-means), atol=1e-12)


def test_pmf_and_cdf_accessors_outside_the_support():
    fc = IndependentCountForecast(_index(2), poisson_pmfs([1.0, 1.0]))
    assert fc.pmf(-1) == 0.0 and fc.pmf(10_000) == 0.0
    assert fc.cdf(-1) == 0.0 and fc.cdf(10_000) == pytest.approx(1.0)
    assert fc.prob_at_least(0, 1) == 1.0
    with pytest.raises(ValueError, match="window"):
        fc.total_pmf(3)
    with pytest.raises(ValueError, match="window"):
        fc.prob_at_least(1, 0)


def test_negbin_pmfs_have_nb2_mean_and_variance():
    m, alpha = 2.5, 0.7
    pmf = negbin_pmfs([m], alpha)[0]
    k = np.arange(len(pmf))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    mean = np.dot(k, pmf)
    assert mean == pytest.approx(m, rel=1e-6)
    assert np.dot((k - mean) ** 2, pmf) == pytest.approx(m + alpha * m**2, rel=1e-5)
    np.testing.assert_allclose(negbin_pmfs([m], 0.0)[0], poisson_pmfs([m])[0])


@pytest.mark.parametrize("kind", ["poisson", "overdispersed", "outlier", "all_zero"])
def test_sample_forecast_smoothed_pmf(kind):
    rng = np.random.default_rng(0)
    n = 1000
    if kind == "poisson":
        paths = rng.poisson(2.0, (n, 3))
    elif kind == "overdispersed":
        paths = rng.poisson(rng.gamma(0.5, 4.0, (n, 3)))
    elif kind == "outlier":
        paths = rng.poisson(0.2, (n, 3))
        paths[0, 0] = 60
    else:
        paths = np.zeros((n, 3), dtype=int)
    fc = SampleCountForecast(_index(3), paths)
    for step in (1, 2, 3):
        x = paths[:, step - 1]
        for pmf, sample in ((fc.daily_pmf(step), x), (fc.total_pmf(step), paths[:, :step].sum(axis=1))):
            assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
            assert np.all(pmf > 0), "no count up to the support's end may get probability zero"
            emp = np.bincount(sample) / n
            assert len(pmf) >= len(emp)
            assert np.max(np.abs(pmf[: len(emp)] - emp)) <= 1 / (n + 1) + 1e-12
            assert np.all(pmf[len(emp):] <= 1 / (n + 1) + 1e-12)
    np.testing.assert_allclose(fc.predicted_mean.to_numpy(), paths.mean(axis=0))


def test_sample_forecast_rejects_bad_shapes():
    with pytest.raises(ValueError):
        SampleCountForecast(_index(3), np.zeros((10, 2)))
    with pytest.raises(ValueError):
        IndependentCountForecast(_index(3), poisson_pmfs([1.0, 1.0]))


def test_sample_forecast_totals_converge_to_the_sampling_distribution():
    """Paths of i.i.d. Poisson(0.8) days: the smoothed total pmf over 5 days is close to Poisson(4)."""
    rng = np.random.default_rng(1)
    n = 20000
    fc = SampleCountForecast(_index(5), rng.poisson(0.8, (n, 5)))
    pmf = fc.total_pmf(5)
    ref = stats.poisson.pmf(np.arange(len(pmf)), 4.0)
    assert np.max(np.abs(pmf - ref)) < 4 * np.sqrt(0.25 / n)
    assert fc.prob_at_least(4, 5) == pytest.approx(stats.poisson.sf(3, 4.0), abs=0.015)


def test_fit_summary_aic_table_and_text():
    s = FitSummary("m", {"a": 1.0, "b": -2.0, "dropped": float("nan")},
                   {"a": 0.5, "b": 0.1, "dropped": float("nan")}, loglik=-10.0, n_obs=50)
    assert s.n_params == 2
    assert s.aic == pytest.approx(2 * 2 + 20.0)
    t = s.table()
    assert t.loc["a", "ci_lower"] == pytest.approx(1.0 - 1.96 * 0.5)
    assert t.loc["b", "ci_upper"] == pytest.approx(-2.0 + 1.96 * 0.1)
    assert np.isnan(t.loc["dropped", "estimate"])
    assert "AIC=24.000" in str(s)
    assert np.isnan(FitSummary("m", {"a": 1.0}, {"a": 1.0}, float("nan"), 1).aic)


def test_mixture_forecast_is_exact_given_the_paths():
    """Two days, two paths: the day pmfs are Poisson mixtures and the 2-day total mixes the second day's
    conditional Poisson shifted by the first day's simulated count (checked by hand with scipy)."""
    paths = np.array([[0, 3], [2, 1]])
    means = np.array([[0.5, 1.5], [2.0, 4.0]])
    fc = MixtureCountForecast(_index(2), paths, means)
    k = np.arange(40)
    day1 = 0.5 * (stats.poisson.pmf(k, 0.5) + stats.poisson.pmf(k, 2.0))
    np.testing.assert_allclose(fc.daily_pmf(1)[:40], day1[: len(fc.daily_pmf(1))][:40], atol=1e-12)
    total2 = 0.5 * (stats.poisson.pmf(k - 0, 1.5) + stats.poisson.pmf(k - 2, 4.0))
    p = fc.total_pmf(2)
    np.testing.assert_allclose(p[:40], total2[: min(40, len(p))], atol=1e-10)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert fc.predicted_mean.tolist() == [1.25, 2.75]
    # an outcome no path reached still has its real probability (no smoothing floor)
    assert fc.total(2).pmf(12) == pytest.approx(0.5 * (stats.poisson.pmf(12, 1.5) + stats.poisson.pmf(10, 4.0)),
                                                 rel=1e-9)


def test_mixture_forecast_negbin_rows_and_block_boundaries():
    rng = np.random.default_rng(1)
    n = MixtureCountForecast.BLOCK + 17  # crosses a block boundary
    means = rng.gamma(2.0, 1.0, (n, 3))
    paths = rng.poisson(means)
    alpha = 0.4
    fc = MixtureCountForecast(_index(3), paths, means, alpha)
    k = np.arange(len(fc.daily_pmf(2)))
    r = 1 / alpha
    ref = np.mean([stats.nbinom.pmf(k, r, r / (r + m)) for m in means[:, 1]], axis=0)
    np.testing.assert_allclose(fc.daily_pmf(2), ref / ref.sum(), atol=1e-9)


def test_mixture_memory_is_bounded_and_explosive_means_are_refused():
    """Large conditional means (an almost explosive fit) mix in blocks: peak memory stays near BLOCK_BYTES
    whatever the number of paths; a mean above MAX_TOTAL is a clear ModelFitError, not an allocation."""
    import tracemalloc

    rng = np.random.default_rng(0)
    means = rng.uniform(0, 60_000, (2000, 2))
    fc = MixtureCountForecast(_index(2), np.zeros((2000, 2), dtype=int), means)
    tracemalloc.start()
    p = fc.daily_pmf(1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert p.sum() == pytest.approx(1.0) and peak < 6 * MixtureCountForecast.BLOCK_BYTES
    huge = MixtureCountForecast(_index(1), np.zeros((10, 1), dtype=int), np.full((10, 1), 5e6))
    with pytest.raises(ModelFitError, match="explosive"):
        huge.total_pmf(1)


def test_long_totals_convolve_by_fft_and_stay_bounded():
    daily = [stats.poisson.pmf(np.arange(3000), 1500.0) for _ in range(3)]
    fc = IndependentCountForecast(_index(3), daily)
    total = fc.total_pmf(3)
    assert total.sum() == pytest.approx(1.0) and np.all(total >= 0)
    assert float(np.dot(np.arange(len(total)), total)) == pytest.approx(4500.0, rel=1e-6)
