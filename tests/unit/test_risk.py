"""Escalation-risk tables and lull status (forecast.risk)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast.distributions import central_interval, poisson_pmfs
from forecast.models import Hawkes
from forecast.models.base import IndependentCountForecast
from forecast.risk import lull_status, risk_table

pytestmark = pytest.mark.usefixtures("single_blas_thread")

HORIZONS = [1, 7, 14]
THRESHOLDS = [1, 3, 5, 10]


def _poisson_fc(rate=0.4, days=14, start="2025-01-01"):
    index = pd.date_range(start, periods=days, freq="D", name="date")
    return IndependentCountForecast(index, poisson_pmfs(np.full(days, rate)))


def test_risk_table_is_the_forecasts_probabilities_and_closed_form():
    rate = 0.4
    fc = _poisson_fc(rate)
    table = risk_table(fc, HORIZONS, THRESHOLDS)
    assert len(table) == len(HORIZONS) * len(THRESHOLDS)
    for col in ["horizon_days", "threshold", "probability", "expected_total", "lo90", "hi90"]:
        assert col in table.columns
    for row in table.itertuples():
        h, k = row.horizon_days, row.threshold
        assert row.probability == fc.prob_at_least(k, h)
        assert row.probability == pytest.approx(stats.poisson.sf(k - 1, rate * h), abs=1e-9)
        assert row.expected_total == pytest.approx(rate * h, rel=1e-8)
        assert (row.lo90, row.hi90) == central_interval(fc.total_pmf(h), 0.9)
        assert (row.lo90, row.hi90) == (stats.poisson.ppf(0.05, rate * h), stats.poisson.ppf(0.95, rate * h))
        assert (row.lo50, row.hi50) == (stats.poisson.ppf(0.25, rate * h), stats.poisson.ppf(0.75, rate * h))
    # monotone: more days -> more risk; higher threshold -> less
    wide = table.pivot(index="horizon_days", columns="threshold", values="probability")
    assert np.all(np.diff(wide.to_numpy(), axis=0) > 0)
    assert np.all(np.diff(wide.to_numpy(), axis=1) < 0)


def test_risk_table_from_a_simulated_forecast(synthetic_counts, synthetic_triggers):
    fc = Hawkes(n_paths=1000, random_state=0).fit(synthetic_counts, synthetic_triggers).forecast(14)
    table = risk_table(fc, HORIZONS, THRESHOLDS)
    for row in table.itertuples():
        assert row.probability == fc.prob_at_least(row.threshold, row.horizon_days)
        assert row.expected_total == pytest.approx(fc.total_mean(row.horizon_days))
        totals = fc.paths[:, : row.horizon_days].sum(axis=1)
        # the Rao-Blackwellised probability agrees with the paths' frequency within Monte Carlo error
        freq = np.mean(totals >= row.threshold)
        assert abs(row.probability - freq) <= 4 * np.sqrt(max(freq * (1 - freq), 1e-3) / len(totals))


def test_lull_status_in_a_lull():
    index = pd.date_range("2024-06-01", periods=60, freq="D")
    y = np.zeros(60, dtype=int)
    y[[3, 10, 39]] = [1, 2, 1]  # last attack on day 39: 20 attack-free days after it
    counts = pd.Series(y, index=index)
    fc = _poisson_fc(0.1, 30, start="2024-07-31")
    status = lull_status(counts, fc, [1, 7, 30], min_days=14)
    assert status["quiet_days"] == 20
    assert status["in_lull"] is True
    assert status["last_attack"] == index[39].strftime("%Y-%m-%d")
    assert set(status["p_lull_ends"]) == {"1", "7", "30"}
    for h in (1, 7, 30):
        assert status["p_lull_ends"][str(h)] == fc.prob_at_least(1, h)
        assert status["p_lull_ends"][str(h)] == pytest.approx(1 - np.exp(-0.1 * h), abs=1e-9)


def test_lull_status_not_in_a_lull_and_never_attacked():
    index = pd.date_range("2024-06-01", periods=30, freq="D")
    y = np.zeros(30, dtype=int)
    y[[20, 29]] = 1
    fc = _poisson_fc(0.1, 7)
    status = lull_status(pd.Series(y, index=index), fc, [1, 7], min_days=14)
    assert status == {"quiet_days": 0, "in_lull": False, "last_attack": "2024-06-30"}
    y[29] = 0
    y[20] = 0
    y[2] = 3
    status = lull_status(pd.Series(y, index=index), fc, [1, 7], min_days=14)
    assert status["quiet_days"] == 27 and status["in_lull"]
    status = lull_status(pd.Series(np.zeros(30, dtype=int), index=index), fc, [1, 7], min_days=14)
    assert status["quiet_days"] == 30 and status["in_lull"] and status["last_attack"] is None
    # exactly min_days quiet days is a lull, one fewer is not
    y = np.zeros(30, dtype=int)
    y[15] = 1
    assert lull_status(pd.Series(y, index=index), fc, [1], min_days=14)["in_lull"]
    assert not lull_status(pd.Series(y, index=index), fc, [1], min_days=15)["in_lull"]
