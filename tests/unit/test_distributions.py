"""Count distributions: bounded truncation for any mean and dispersion, and the CountDistribution object."""
from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats

from forecast.distributions import MAX_SUPPORT, TAIL, CountDistribution, negbin_pmfs, poisson_pmfs
from forecast.errors import ModelFitError

MEANS = [0.0, 1e-9, 1e-3, 0.05, 0.5, 3.0, 25.0, 78.395, 1e3, 1e4, 2e5]
ALPHAS = [0.0, 1e-12, 1e-7, 4.55e-6, 1e-3, 0.1, 1.0, 5.0, 50.0]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_negbin_truncation_terminates_and_keeps_the_tail_small(alpha):
    """The cases that used to loop forever (a computed pmf summing to a hair under one) return; every
    pmf sums to one, and the mass it leaves out, by scipy's survival function, is below the stated tail."""
    for m in MEANS:
        start = time.perf_counter()
        try:
            p = negbin_pmfs([m], alpha)[0]
        except ModelFitError as e:  # allowed only where the true support is longer than the cap
            n = 1 / alpha
            assert stats.nbinom.sf(MAX_SUPPORT, n, n / (n + m)) > TAIL, (m, alpha)
            assert "support" in str(e)
            continue
        assert time.perf_counter() - start < 2.0, (m, alpha)
        assert len(p) <= MAX_SUPPORT
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        if alpha > 1e-8:
            n = 1 / alpha
            left_out = stats.nbinom.sf(len(p) - 1, n, n / (n + max(m, 1e-12)))
        else:
            left_out = stats.poisson.sf(len(p) - 1, max(m, 1e-12))
        assert left_out < 2 * TAIL, (m, alpha, left_out)


def test_poisson_pmf_matches_scipy_and_is_short():
    for m in (0.01, 2.0, 40.0, 1e5):
        p = poisson_pmfs([m])[0]
        k = np.arange(len(p))
        np.testing.assert_allclose(p, stats.poisson.pmf(k, m) / stats.poisson.cdf(len(p) - 1, m), rtol=1e-9,
                                   atol=1e-300)
        assert len(p) < m + 20 * np.sqrt(m) + 40  # no needless doubling


def test_too_heavy_a_tail_is_a_clear_model_error_not_a_hang():
    with pytest.raises(ModelFitError, match="support"):
        negbin_pmfs([2e5], 1e3)


def test_count_distribution_matches_scipy():
    n, pr = 2.0, 0.4
    p = stats.nbinom.pmf(np.arange(200), n, pr)
    d = CountDistribution(p / p.sum())
    assert d.mean == pytest.approx(stats.nbinom.mean(n, pr), rel=1e-9)
    assert d.var == pytest.approx(stats.nbinom.var(n, pr), rel=1e-6)
    for q in (0.05, 0.5, 0.9):
        assert d.quantile(q) == stats.nbinom.ppf(q, n, pr)
    assert d.interval(0.9) == (stats.nbinom.ppf(0.05, n, pr), stats.nbinom.ppf(0.95, n, pr))
    assert float(d.cdf(4)) == pytest.approx(stats.nbinom.cdf(4, n, pr), rel=1e-9)
    assert float(d.sf(4)) == pytest.approx(stats.nbinom.sf(4, n, pr), rel=1e-6)
    assert d.prob_at_least(5) == pytest.approx(stats.nbinom.sf(4, n, pr), rel=1e-6)
    assert d.prob_at_least(0) == 1.0
    assert float(d.pmf(-1)) == 0.0 and float(d.pmf(10_000)) == 0.0
    draws = d.sample(20_000, np.random.default_rng(0))
    assert draws.mean() == pytest.approx(d.mean, rel=0.05)
