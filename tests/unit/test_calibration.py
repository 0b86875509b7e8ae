"""Calibration diagnostics (forecast.evaluate.calibration): closed forms and simulated forecasts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast.evaluate.calibration import (
    calibration_summary,
    coverage,
    design_effect,
    jeffreys_interval,
    pit_histogram,
    pit_shape,
    pit_uniformity_test,
    reliability,
)

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def window_totals(rng, n: int, h: int, rate: float = 1.0, size: float | None = None) -> np.ndarray:
    """Totals of h consecutive days from n consecutive daily origins (overlapping windows); days i.i.d.
    Poisson(rate), or negative binomial with that mean and dispersion ``size``."""
    days = (rng.poisson(rate, n + h) if size is None
            else rng.negative_binomial(size, size / (size + rate), n + h))
    c = np.concatenate([[0], np.cumsum(days)])
    return c[h + 1: h + 1 + n] - c[1: 1 + n]


def rpit(dist, y, rng) -> np.ndarray:
    lo, hi = dist.cdf(y - 1), dist.cdf(y)
    return lo + rng.uniform(size=len(y)) * (hi - lo)


def forecast_dist(mu: float, size: float | None = None):
    return stats.poisson(mu) if size is None else stats.nbinom(size, size / (size + mu))


def synthetic_bt(seed: int, n: int = 365, horizons=(1, 7), rate: float = 1.0, fc_scale: float = 1.0,
                 fc_size: float | None = None, start: str = "2024-01-01") -> pd.DataFrame:
    """A backtest frame of daily origins: truth i.i.d. Poisson(rate) days; forecast of the h-day total
    Poisson(h rate fc_scale), or negative binomial (dispersion ``fc_size``) with that mean."""
    rng = np.random.default_rng(seed)
    days = rng.poisson(rate, n + max(horizons))
    c = np.concatenate([[0], np.cumsum(days)])
    origins = pd.date_range(start, periods=n, freq="D")
    frames = []
    for h in horizons:
        y = c[h + 1: h + 1 + n] - c[1: 1 + n]
        d = forecast_dist(h * rate * fc_scale, fc_size)
        q = {a: d.ppf(a) for a in (0.05, 0.25, 0.5, 0.75, 0.95)}
        frames.append(pd.DataFrame({
            "origin": origins.strftime("%Y-%m-%d"), "horizon": h, "observed_total": y, "mean": d.mean(),
            "q05": q[0.05], "q50": q[0.5], "q95": q[0.95], "p_zero": d.pmf(0),
            "in50": (q[0.25] <= y) & (y <= q[0.75]), "in90": (q[0.05] <= y) & (y <= q[0.95]),
            "pit": rpit(d, y, rng), "p_ge1": d.sf(0), "p_ge3": d.sf(2)}))
    return pd.concat(frames, ignore_index=True)


# ---- histogram, design effect -------------------------------------------------------------------------

def test_pit_histogram_counts_and_edges():
    counts, edges = pit_histogram([0.0, 0.05, 0.1, 0.55, 0.99, 1.0, np.nan], bins=10)
    assert edges == pytest.approx(np.linspace(0, 1, 11))
    assert counts.tolist() == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]  # NaN dropped, 1.0 in the last bin


def test_design_effect_closed_forms():
    rng = np.random.default_rng(0)
    assert design_effect(rng.normal(size=20_000), 7) == pytest.approx(1.0, abs=0.1)
    assert design_effect(rng.normal(size=50), 1) == 1.0
    assert design_effect(np.zeros(100), 7) == 7.0  # nothing to estimate from: n / h disjoint windows
    # sums of h i.i.d. terms over overlapping windows: rho_k = (h - k) / h, so 1 + 2 sum rho_k = h
    for h in (7, 14):
        assert design_effect(window_totals(rng, 40_000, h), h) == pytest.approx(h, rel=0.08)


# ---- PIT uniformity -------------------------------------------------------------------------------------

def test_chi2_without_dependence_is_pearsons_test():
    u = np.random.default_rng(1).uniform(size=200) ** 1.2
    res = pit_uniformity_test(u, bins=10, horizon=1)
    ref = stats.chisquare(np.histogram(u, bins=10, range=(0, 1))[0])
    assert res["statistic"] == pytest.approx(ref.statistic)
    assert res["p_value"] == pytest.approx(ref.pvalue)
    assert res["n"] == 200 and res["df"] == 9
    ks = pit_uniformity_test(u, method="ks", adjust="none")
    assert ks["p_value"] == pytest.approx(stats.kstest(u, "uniform").pvalue)
    thin = pit_uniformity_test(u, method="ks", adjust="thin", horizon=4)
    assert thin["n"] == 50 and thin["p_value"] == pytest.approx(stats.kstest(u[::4], "uniform").pvalue)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="method"):
        pit_uniformity_test([0.5] * 5, method="ad")
    with pytest.raises(ValueError, match="adjust"):
        pit_uniformity_test([0.5] * 5, method="ks", adjust="ess")


@pytest.mark.parametrize("h", [7, 14])
def test_overlapping_windows_need_the_adjustment(h):
    """Calibrated forecasts of overlapping h-day totals: the naive test rejects far too often, the
    Rao-Scott (ess) and thinned tests hold the 5% level (200 simulated years of daily origins)."""
    rng = np.random.default_rng(h)
    rejected = {"none": 0, "ess": 0, "thin": 0}
    for _ in range(200):
        y = window_totals(rng, 365, h)
        u = rpit(forecast_dist(h * 1.0), y, rng)
        for adjust in rejected:
            rejected[adjust] += pit_uniformity_test(u, horizon=h, adjust=adjust)["p_value"] < 0.05
    rate = {k: v / 200 for k, v in rejected.items()}
    assert rate["none"] > 0.3
    assert rate["ess"] < 0.1 and rate["thin"] < 0.1


@pytest.mark.parametrize("fc_scale, direction", [(0.6, "under-predicts"), (1.6, "over-predicts")])
def test_biased_forecasts_are_rejected_with_their_direction(fc_scale, direction):
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = window_totals(rng, 365, 7)
        u = rpit(forecast_dist(7 * fc_scale), y, rng)
        assert pit_uniformity_test(u, horizon=7)["p_value"] < 0.01
        assert direction in pit_shape(u, 7)["direction"]


def test_dispersion_errors_named_from_the_pit_shape():
    rng = np.random.default_rng(4)
    # same means, so only the spread is wrong (a skewed truth also moves the mean PIT: not checked)
    y_nb = window_totals(rng, 2000, 1, rate=3.0, size=1.0)  # overdispersed truth, Poisson forecast
    assert "too narrow" in pit_shape(rpit(forecast_dist(3.0), y_nb, rng))["direction"]
    y_p = window_totals(rng, 2000, 1, rate=3.0)  # Poisson truth, overdispersed forecast
    assert "too wide" in pit_shape(rpit(forecast_dist(3.0, size=1.0), y_p, rng))["direction"]
    u = rpit(forecast_dist(3.0), y_p, rng)  # calibrated
    assert pit_shape(u)["direction"] == [] and pit_uniformity_test(u)["p_value"] > 0.01


# ---- reliability, coverage ------------------------------------------------------------------------------

def test_jeffreys_interval_closed_form():
    lo, hi = jeffreys_interval(np.array([0, 3, 10]), np.array([10, 10, 10]), 0.9)
    assert lo[0] == 0.0 and hi[2] == 1.0
    assert lo[1] == pytest.approx(stats.beta.ppf(0.05, 3.5, 7.5))
    assert hi[1] == pytest.approx(stats.beta.ppf(0.95, 3.5, 7.5))
    assert hi[0] == pytest.approx(stats.beta.ppf(0.95, 0.5, 10.5))


def test_reliability_table_by_hand():
    prob = [0.05, 0.08, 0.15, 0.95, 1.0, np.nan]
    tab = reliability(prob, [0, 1, 0, 1, 1, 1], bins=(0, 0.1, 0.5, 1.0))
    assert list(tab.columns) == ["bin_lo", "bin_hi", "n", "mean_forecast", "observed_freq", "lo90", "hi90"]
    assert tab["n"].tolist() == [2, 1, 2]  # NaN dropped, 1.0 in the closed last bin
    assert tab["mean_forecast"].tolist() == pytest.approx([0.065, 0.15, 0.975])
    assert tab["observed_freq"].tolist() == pytest.approx([0.5, 0.0, 1.0])
    assert tab.loc[0, "lo90"] == pytest.approx(stats.beta.ppf(0.05, 1.5, 1.5))
    wide = reliability(prob, [0, 1, 0, 1, 1, 1], bins=(0, 0.1, 0.5, 1.0), deff=2.0)
    assert wide.loc[0, "hi90"] - wide.loc[0, "lo90"] > tab.loc[0, "hi90"] - tab.loc[0, "lo90"]
    empty = reliability([0.05], [1])
    assert empty["n"].sum() == 1 and np.isnan(empty.loc[5, "observed_freq"])


def test_reliability_separates_calibrated_from_overconfident():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=5000)
    calibrated = reliability(p, rng.uniform(size=5000) < p)
    inside = (calibrated["lo90"] <= calibrated["mean_forecast"]) & (calibrated["mean_forecast"] <= calibrated["hi90"])
    assert inside.sum() >= 8  # 10 bins at 90%
    over = reliability(p, rng.uniform(size=5000) < p / 2)
    assert (over["mean_forecast"] > over["hi90"]).iloc[3:].all()


def test_coverage_counts_hits_and_bands():
    bt = pd.DataFrame({"origin": pd.date_range("2024-01-01", periods=40).strftime("%Y-%m-%d"), "horizon": 1,
                       "in50": [True, False] * 20, "in90": [True] * 36 + [False] * 4})
    cov = coverage(bt).set_index("level")
    assert cov.loc[0.5, "coverage"] == 0.5 and cov.loc[0.9, "coverage"] == 0.9
    assert cov.loc[0.9, "n"] == 40 and cov.loc[0.9, "n_eff"] == 40
    lo, hi = stats.binom.interval(0.95, 40, 0.9)
    assert (cov.loc[0.9, "band_lo"], cov.loc[0.9, "band_hi"]) == pytest.approx((lo / 40, hi / 40))
    wk = coverage(synthetic_bt(7, horizons=(7,))).set_index("level")  # overlapping 7-day windows
    assert wk.loc[0.9, "n_eff"] < 365 / 3 and wk.loc[0.9, "band_hi"] - wk.loc[0.9, "band_lo"] > 0.1
    with pytest.raises(ValueError, match="in80"):
        coverage(bt, levels=(0.8,))


# ---- summary ----------------------------------------------------------------------------------------------

def _verdicts(summary, period, h):
    return " | ".join(summary["periods"][period]["horizons"][str(h)]["verdicts"])


def test_summary_of_calibrated_forecasts():
    bt = synthetic_bt(10, rate=2.0)
    s = calibration_summary(bt, [1, 3], [{"name": "2024", "start": "2024-01-01", "end": "2024-12-31"}])
    json.dumps(s, allow_nan=False)  # plain JSON, NaN as null
    for h in (1, 7):
        v = _verdicts(s, "2024", h)
        hs = s["periods"]["2024"]["horizons"][str(h)]
        assert "consistent with uniform" in v and "too narrow" not in v and "predicts" not in v
        assert hs["states"]["ge1"] == hs["states"]["ge3"] == "calibrated in the large"
        assert hs["n"] == 365 and sum(hs["pit_counts"]) == 365 and len(hs["pit_edges"]) == 11
        assert set(hs["reliability"]) == {"ge1", "ge3"}
        assert len(hs["reliability"]["ge1"]["n"]) == 10
    assert s["rules"] and all(isinstance(r, str) for r in s["rules"])
    assert s["periods"]["2024"]["horizons"]["7"]["states"]["pit"] == "uniform"
    with pytest.raises(ValueError, match="pit"):
        calibration_summary(bt.drop(columns="pit"), [1])


def test_summary_names_under_prediction_and_narrow_intervals():
    s = calibration_summary(synthetic_bt(11, rate=2.0, fc_scale=0.6), [1, 3],
                            [{"name": "all", "start": "2024-01-01", "end": "2024-12-31"}])
    v = _verdicts(s, "all", 7)
    assert "PIT of 7-day totals not uniform" in v and "under-predicts" in v
    assert s["periods"]["all"]["horizons"]["7"]["states"]["coverage_90"] == "too narrow"
    assert "90% intervals held" in v and "of 7-day totals" in v and ": too narrow" in v
    v1 = _verdicts(s, "all", 1)
    assert "P(1-day count >= 3)" in v1 and "under-predicts" in v1.split("P(1-day count >= 3)")[1]


def test_summary_names_too_wide_forecasts_and_splits_periods():
    bt = synthetic_bt(12, rate=2.0, fc_size=0.7)
    periods = [{"name": "a", "start": "2024-01-01", "end": "2024-06-30"},
               {"name": "b", "start": "2024-07-01", "end": "2024-12-31"}]
    s = calibration_summary(bt, [1], periods)
    assert s["periods"]["a"]["horizons"]["1"]["n"] + s["periods"]["b"]["horizons"]["1"]["n"] == 365
    v = _verdicts(s, "a", 1)
    assert "PIT of 1-day counts not uniform" in v and "too wide" in v
