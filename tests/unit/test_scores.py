"""Proper scores for count forecasts (forecast.evaluate.scores)."""
from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from forecast.distributions import central_interval, pmf_quantile
from forecast.evaluate.scores import LOG_SCORE_FLOOR, brier, diebold_mariano, log_score, randomized_pit, rps

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def rps_loop(pmf, y, kmax=None):
    """sum_{k >= 0} (F(k) - 1{y <= k})^2 by a plain loop well past both supports."""
    kmax = kmax or (len(pmf) + y + 10)
    total, F = 0.0, 0.0
    for k in range(kmax):
        F += pmf[k] if k < len(pmf) else 0.0
        total += (F - (1.0 if y <= k else 0.0)) ** 2
    return total


def poisson_pmf(lam, kmax=60):
    return stats.poisson.pmf(np.arange(kmax + 1), lam)


def test_log_score():
    pmf = np.array([0.5, 0.25, 0.25])
    assert log_score(pmf, 0) == pytest.approx(np.log(2))
    assert log_score(pmf, 2) == pytest.approx(np.log(4))
    assert log_score(pmf, 3) == pytest.approx(-np.log(LOG_SCORE_FLOOR))  # outside the support: floored
    assert log_score(np.array([1.0, 0.0]), 1) == pytest.approx(-np.log(LOG_SCORE_FLOOR))
    assert log_score(poisson_pmf(2.0), 3) == pytest.approx(-stats.poisson.logpmf(3, 2.0), rel=1e-12)


@pytest.mark.parametrize("m, y", [(0, 0), (0, 5), (3, 0), (4, 4), (2, 9), (7, 1)])
def test_rps_of_a_point_mass_is_the_absolute_error(m, y):
    pmf = np.zeros(m + 1)
    pmf[m] = 1.0
    assert rps(pmf, y) == pytest.approx(abs(m - y), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_rps_equals_its_definition(seed):
    rng = np.random.default_rng(seed)
    pmf = rng.dirichlet(np.ones(rng.integers(1, 12)))
    for y in range(0, len(pmf) + 5):
        assert rps(pmf, y) == pytest.approx(rps_loop(pmf, y), abs=1e-12)


def test_rps_equals_crps_identity_for_poisson():
    """CRPS = E|X - y| - E|X - X'|/2 for X, X' i.i.d. from the forecast (Gneiting & Raftery 2007)."""
    lam = 2.3
    k = np.arange(80)
    p = stats.poisson.pmf(k, lam)
    for y in (0, 2, 6):
        e1 = np.sum(p * np.abs(k - y))
        e2 = np.sum(p[:, None] * p[None, :] * np.abs(k[:, None] - k[None, :]))
        assert rps(p, y) == pytest.approx(e1 - e2 / 2, abs=1e-9)


def test_rps_is_proper():
    """The expected RPS under the true law is smallest when the forecast is the true law."""
    truth = poisson_pmf(3.0)
    k = np.arange(len(truth))

    def expected(forecast):
        return sum(truth[y] * rps(forecast, y) for y in k)

    best = expected(truth)
    for lam in (2.0, 2.7, 3.3, 4.5):
        assert expected(poisson_pmf(lam)) > best


def test_brier():
    assert brier(0.7, True) == pytest.approx(0.09)
    assert brier(0.7, False) == pytest.approx(0.49)
    assert brier(1.0, True) == 0.0 and brier(0.0, True) == 1.0


def test_quantile_and_central_interval_match_scipy():
    lam = 4.2
    pmf = poisson_pmf(lam)
    for q in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99):
        assert pmf_quantile(pmf, q) == stats.poisson.ppf(q, lam)
    assert central_interval(pmf, 0.9) == (stats.poisson.ppf(0.05, lam), stats.poisson.ppf(0.95, lam))
    assert central_interval(pmf, 0.5) == (stats.poisson.ppf(0.25, lam), stats.poisson.ppf(0.75, lam))
    # exact cumulative probabilities: F(k) = q exactly gives k (smallest k with F(k) >= q)
    assert pmf_quantile(np.array([0.25, 0.25, 0.5]), 0.5) == 1
    assert pmf_quantile(np.array([0.25, 0.25, 0.5]), 0.51) == 2


def test_randomized_pit_is_uniform_for_draws_from_the_forecast():
    rng = np.random.default_rng(42)
    n_mean, alpha = 1.5, 0.8
    size = 1 / alpha
    k = np.arange(80)
    pmf = stats.nbinom.pmf(k, size, size / (size + n_mean))
    ys = rng.negative_binomial(size, size / (size + n_mean), 5000)
    pit = np.array([randomized_pit(pmf, int(y), u) for y, u in zip(ys, rng.uniform(size=5000))])
    assert np.all((pit >= 0) & (pit <= 1))
    assert stats.kstest(pit, "uniform").pvalue > 0.01
    # a miscalibrated (too narrow) forecast is detected by the same test
    narrow = stats.poisson.pmf(k, n_mean)
    pit_bad = np.array([randomized_pit(narrow, int(y), u) for y, u in zip(ys, rng.uniform(size=5000))])
    assert stats.kstest(pit_bad, "uniform").pvalue < 1e-6


def test_randomized_pit_formula():
    pmf = np.array([0.2, 0.5, 0.3])
    assert randomized_pit(pmf, 0, 0.5) == pytest.approx(0.1)
    assert randomized_pit(pmf, 1, 0.0) == pytest.approx(0.2)
    assert randomized_pit(pmf, 1, 1.0) == pytest.approx(0.7)
    assert randomized_pit(pmf, 2, 0.5) == pytest.approx(0.85)
    assert randomized_pit(pmf, 5, 0.3) == pytest.approx(1.0)


def test_diebold_mariano_h1_is_the_one_sample_t_test():
    """With h = 1 the Newey-West variance is the plain variance (divisor n) and the Harvey-Leybourne-Newbold
    factor sqrt((n - 1) / n) turns the statistic into the one-sample t statistic, referred to t(n - 1)."""
    rng = np.random.default_rng(0)
    d = rng.normal(0.1, 1.0, 120)
    stat, p = diebold_mariano(d, horizon=1)
    t = stats.ttest_1samp(d, 0.0)
    assert stat == pytest.approx(t.statistic, rel=1e-12)
    assert p == pytest.approx(t.pvalue, rel=1e-10)


@pytest.mark.parametrize("h", [2, 4, 7])
def test_diebold_mariano_is_statsmodels_hac_with_the_small_sample_factor(h):
    """Bartlett-kernel HAC variance with lag h - 1 (the t value of a constant-only OLS with cov_type='HAC',
    maxlags=h-1, no correction), scaled by sqrt((n + 1 - 2h + h(h-1)/n) / n), against t(n - 1)."""
    rng = np.random.default_rng(h)
    e = rng.normal(size=300)
    d = 0.15 + e + 0.6 * np.r_[0, e[:-1]]  # MA(1) differences, as h-step score differences are
    stat, p = diebold_mariano(d, horizon=h)
    n = len(d)
    ols = sm.OLS(d, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": h - 1, "use_correction": False})
    expected = ols.tvalues[0] * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    assert stat == pytest.approx(expected, rel=1e-10)
    assert p == pytest.approx(2 * stats.t.sf(abs(expected), n - 1), rel=1e-8)


def test_diebold_mariano_rejects_a_shifted_series_and_not_a_centred_one():
    rng = np.random.default_rng(3)
    shifted = rng.normal(0.5, 1.0, 300)
    stat, p = diebold_mariano(shifted, horizon=7)
    assert stat > 0 and p < 1e-4
    stat, p = diebold_mariano(-shifted, horizon=7)
    assert stat < 0 and p < 1e-4
    _, p0 = diebold_mariano(rng.normal(0.0, 1.0, 300), horizon=1)
    assert p0 > 0.01


def test_diebold_mariano_degenerate_inputs():
    assert all(np.isnan(diebold_mariano([1.0, 2.0])))
    assert all(np.isnan(diebold_mariano([1.0, 1.0, 1.0, 1.0])))  # zero variance
    stat, _ = diebold_mariano([1.0, np.nan, 2.0, 0.5, np.inf, 1.5])
    assert stat == pytest.approx(diebold_mariano([1.0, 2.0, 0.5, 1.5])[0])
