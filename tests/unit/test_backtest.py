"""Rolling-origin backtest (forecast.evaluate.backtest): no leakage, scoring, refits, summaries."""
from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from forecast.distributions import poisson_pmfs
from forecast.errors import ForecastInputError, ModelFitError
from forecast.evaluate.backtest import (
    RefitPolicy,
    SurpriseCusum,
    backtest_origins,
    run_backtest,
    skill,
    summarise_scores,
)
from forecast.models import Arima, Hawkes, NaivePoisson, PoissonGLM
from forecast.models.base import IndependentCountForecast

pytestmark = pytest.mark.usefixtures("single_blas_thread")

HORIZONS = [1, 7, 14]
THRESHOLDS = [1, 3]


def _altered_after(counts, triggers, cut, rate=2.0):
    """The same data up to ``cut``; different counts (``rate`` more a day) and extra triggers after it."""
    counts2 = counts.copy()
    after = counts2.index > cut
    counts2[after] = counts2[after] + np.random.default_rng(99).poisson(rate, after.sum())
    extra = pd.DataFrame({"date": [cut + pd.Timedelta(days=d) for d in (1, 3, 9)],
                          "kind": ["us_strike", "regional", "militia_statement"], "name": "after the cut"})
    triggers2 = pd.concat([triggers, extra], ignore_index=True)
    return counts2, triggers2


@pytest.mark.parametrize("model, refit_every, surprise",
                         [(NaivePoisson(), 5, False), (PoissonGLM(n_paths=300, random_state=0), 5, False),
                          (Hawkes(n_paths=300, random_state=0), 5, False),
                          (Arima(order=(1, 0, 0), n_paths=300, random_state=0), 5, False),
                          (Arima(order=(1, 0, 0), n_paths=300, random_state=0), 100, True)],
                         ids=["naive", "poisson", "hawkes", "arima", "arima-refit-on-surprise"])
def test_no_leakage_rows_before_the_cut_do_not_depend_on_later_data(model, refit_every, surprise, synthetic_counts,
                                                                     synthetic_triggers):
    cut = synthetic_counts.index[150]
    # with refit_on_surprise, a jump so large that a single day after the cut would raise the alarm
    counts2, triggers2 = _altered_after(synthetic_counts, synthetic_triggers, cut, rate=30.0 if surprise else 2.0)
    assert (counts2[:cut] == synthetic_counts[:cut]).all() and (counts2 != synthetic_counts).any()
    origins = synthetic_counts.index[125:170]
    kw = dict(policy=RefitPolicy(refit_every, surprise), n_paths=300, seed=3, progress=False)
    bt1, info1 = run_backtest(model, synthetic_counts, synthetic_triggers, origins, HORIZONS, THRESHOLDS, **kw)
    bt2, info2 = run_backtest(model, counts2, triggers2, origins, HORIZONS, THRESHOLDS, **kw)
    assert info1.failed_origins == info2.failed_origins == 0
    if surprise:  # the altered days after the cut are surprising: they (and only they) trigger refits
        assert info2.surprise_refits > info1.surprise_refits
    else:
        assert info1.fits == info2.fits
    assert len(bt1) == len(bt2)

    end = pd.to_datetime(bt1["origin"]) + pd.to_timedelta(bt1["horizon"], unit="D")
    before = (end <= cut).to_numpy()
    assert before.sum() > 20 and (~before).sum() > 20
    pd.testing.assert_frame_equal(bt1[before].reset_index(drop=True), bt2[before].reset_index(drop=True))
    # a forecast made on or before the cut is the same whatever happens after it (only its scores differ)
    made = (pd.to_datetime(bt1["origin"]) <= cut).to_numpy()
    forecast_columns = ["origin", "horizon", "mean", "q05", "q50", "q95", "p_zero", "p_ge1", "p_ge3"]
    pd.testing.assert_frame_equal(bt1.loc[made, forecast_columns].reset_index(drop=True),
                                  bt2.loc[made, forecast_columns].reset_index(drop=True))
    # and the test can see a difference when the data do differ
    assert not bt1[~before]["observed_total"].equals(bt2[~before]["observed_total"])
    later = (pd.to_datetime(bt1["origin"]) > cut).to_numpy()
    assert not np.allclose(bt1.loc[later, "mean"], bt2.loc[later, "mean"])


@pytest.mark.parametrize("model", [PoissonGLM(n_paths=300, random_state=0), Hawkes(n_paths=300, random_state=0),
                                   Arima(order=(1, 0, 0), n_paths=300, random_state=0)],
                         ids=["poisson", "hawkes", "arima"])
def test_no_leakage_of_future_triggers(model, synthetic_counts, synthetic_triggers):
    """Same counts, extra triggers after the cut: every origin on or before the cut gives the same
    rows, whatever the horizon (a forecast made then cannot know those triggers)."""
    cut = synthetic_counts.index[150]
    _, triggers2 = _altered_after(synthetic_counts, synthetic_triggers, cut)
    origins = synthetic_counts.index[140:160]
    kw = dict(policy=RefitPolicy(4), n_paths=300, seed=1, progress=False)
    bt1, _ = run_backtest(model, synthetic_counts, synthetic_triggers, origins, HORIZONS, THRESHOLDS, **kw)
    bt2, _ = run_backtest(model, synthetic_counts, triggers2, origins, HORIZONS, THRESHOLDS, **kw)
    early = (pd.to_datetime(bt1["origin"]) <= cut).to_numpy()
    pd.testing.assert_frame_equal(bt1[early].reset_index(drop=True), bt2[early].reset_index(drop=True))
    # the extra triggers do reach the models fitted after the cut (the comparison is not vacuous)
    assert not np.allclose(bt1.loc[~early, "mean"], bt2.loc[~early, "mean"])


def test_rows_are_scored_totals_of_the_days_after_the_origin(synthetic_counts):
    """NaivePoisson is exact: the total over h days is Poisson(h * rate), rate the trailing 7-day mean."""
    counts = synthetic_counts
    origins = counts.index[100:110].append(counts.index[-3:])  # the last origins lack long horizons
    bt, info = run_backtest(NaivePoisson(window_days=7), counts, None, origins, HORIZONS, THRESHOLDS,
                            policy=RefitPolicy(3), seed=0, progress=False)
    for col in ["origin", "horizon", "observed_total", "mean", "q05", "q50", "q95", "p_zero", "log_score", "rps",
                "p_ge1", "p_ge3", "brier_ge1", "brier_ge3", "abs_error", "in50", "in90", "pit"]:
        assert col in bt.columns
    y = counts.to_numpy()
    for row in bt.itertuples():
        origin = pd.Timestamp(row.origin)
        t = counts.index.get_loc(origin)
        h = row.horizon
        observed = int(counts[origin + pd.Timedelta(days=1): origin + pd.Timedelta(days=h)].sum())
        assert row.observed_total == observed
        assert t + h < len(y)
        lam = h * max(y[t - 6: t + 1].mean(), 0.02)
        assert row.mean == pytest.approx(lam, rel=1e-8)
        assert row.p_zero == pytest.approx(math.exp(-lam), rel=1e-8)
        # the pmf of the total is exact up to the 1e-10 tail mass dropped at each convolution step
        assert math.exp(-row.log_score) == pytest.approx(stats.poisson.pmf(observed, lam), rel=1e-8, abs=h * 1e-10)
        if stats.poisson.pmf(observed, lam) > 1e-4:
            assert row.log_score == pytest.approx(-stats.poisson.logpmf(observed, lam), rel=1e-6)
        assert row.p_ge3 == pytest.approx(stats.poisson.sf(2, lam), abs=1e-9)
        assert row.brier_ge3 == pytest.approx((stats.poisson.sf(2, lam) - (observed >= 3)) ** 2, abs=1e-9)
        assert row.q50 == stats.poisson.ppf(0.5, lam) and row.q05 == stats.poisson.ppf(0.05, lam)
        assert row.q95 == stats.poisson.ppf(0.95, lam)
        k = np.arange(200)
        crps = np.sum((stats.poisson.cdf(k, lam) - (k >= observed)) ** 2)
        assert row.rps == pytest.approx(crps, abs=1e-7)
        assert row.abs_error == pytest.approx(abs(lam - observed), abs=1e-7)
    # horizons that run past the data are skipped, not scored against a partial window
    last = bt[bt["origin"] == counts.index[-2].strftime("%Y-%m-%d")]
    assert list(last["horizon"]) == [1]
    assert not (bt["origin"] == counts.index[-1].strftime("%Y-%m-%d")).any()  # nothing observed after it
    assert info.origins == len(origins)


class CountingNaive(NaivePoisson):
    n_fits = 0

    def _fit(self, counts, triggers):
        type(self).n_fits += 1
        super()._fit(counts, triggers)


@pytest.mark.parametrize("refit_every, expected", [(1, 20), (3, 7), (7, 3), (20, 1), (50, 1)])
def test_refit_every_sets_the_number_of_fits(refit_every, expected, synthetic_counts):
    CountingNaive.n_fits = 0
    origins = synthetic_counts.index[100:120]
    bt, info = run_backtest(CountingNaive(), synthetic_counts, None, origins, [1], [1], policy=RefitPolicy(refit_every),
                            progress=False)
    assert CountingNaive.n_fits == expected == info.fits
    assert len(bt) == 20


@pytest.mark.parametrize("model", [Hawkes(n_paths=200, random_state=3), Arima(n_paths=200, random_state=3)])
def test_a_refit_equals_a_fresh_fit_on_the_same_data(model, synthetic_counts, synthetic_triggers):
    """Refits do not start from the previous fit (no warm start is imposed): each origin's forecast is
    what a fresh model fitted on the data up to that origin gives."""
    origins = synthetic_counts.index[150:154]
    bt, _ = run_backtest(model, synthetic_counts, synthetic_triggers, origins, [7], [1], policy=RefitPolicy(1),
                         progress=False)
    for origin, row in zip(origins, bt.itertuples()):
        train = synthetic_counts.loc[:origin]
        fresh = clone(model).fit(train, synthetic_triggers).forecast(7, n_paths=1000)
        assert row.mean == pytest.approx(fresh.total_mean(7), rel=1e-9)


def test_refit_every_must_be_positive(synthetic_counts):
    with pytest.raises(ForecastInputError, match="refit_every"):
        run_backtest(NaivePoisson(), synthetic_counts, None, synthetic_counts.index[50:60], [1], [1],
                     policy=RefitPolicy(0))


def test_between_refits_parameters_are_kept_and_the_state_moves(synthetic_counts):
    """refit_every > 1: a Hawkes model fitted at the first origin keeps (baseline, adjacency, decay)
    at the next origins, so its day-1 forecast mean follows the closed form with those parameters."""
    origins = synthetic_counts.index[[120, 121]]
    bt, info = run_backtest(Hawkes(n_paths=20000, random_state=0), synthetic_counts, None, origins, [1], [1],
                            policy=RefitPolicy(10), n_paths=20000, progress=False)
    assert info.fits == 1
    first = Hawkes(random_state=0).fit(synthetic_counts.iloc[:121])
    y = synthetic_counts.to_numpy().astype(float)[:122]
    a = math.exp(-first.decay_)
    R = 0.0
    for v in y[:-1]:
        R = a * R + v
    expected = first.baseline_ + first.adjacency_ * (1 - a) * (a * R + y[-1])
    # R is now R_T of day 121 (the second origin); the smoothed pmf mean is within MC error of it
    assert bt["mean"].iloc[1] == pytest.approx(expected, abs=4 * math.sqrt(expected / 20000) + 2 * expected / 20001)


def _calibrated_poisson_days(rate: float, n_days: int, rng) -> tuple[IndependentCountForecast, np.ndarray]:
    return IndependentCountForecast(pd.date_range("2024-01-01", periods=1), poisson_pmfs([rate])), \
        rng.poisson(rate, n_days)


def _first_alarm(fc, observed) -> int | None:
    cusum = SurpriseCusum()
    for day, y in enumerate(observed, start=1):
        cusum.observe(fc, np.array([y]))
        if cusum.alarm:
            return day
    return None


def test_surprise_cusum_rarely_alarms_under_calibrated_forecasts_and_soon_after_a_shift():
    """Poisson(2) forecasts. Counts from Poisson(2): few series of 100 days raise a false alarm (about 10%
    expected; a two-sided normal CUSUM with k = 0.5, h = 5 has ARL about 465). Counts from Poisson(6) or
    Poisson(0.4): the alarm comes within days."""
    rng = np.random.default_rng(0)
    fc, _ = _calibrated_poisson_days(2.0, 0, rng)
    false = [_first_alarm(fc, rng.poisson(2.0, 100)) is not None for _ in range(200)]
    assert np.mean(false) < 0.2
    up = [_first_alarm(fc, rng.poisson(6.0, 30)) for _ in range(50)]
    down = [_first_alarm(fc, rng.poisson(0.4, 30)) for _ in range(50)]
    assert all(d is not None and d <= 10 for d in up)
    assert sum(d is not None and d <= 14 for d in down) >= 45


def test_surprise_cusum_days_beyond_the_horizon_alarm_and_reset_clears():
    fc, _ = _calibrated_poisson_days(2.0, 0, np.random.default_rng(0))
    cusum = SurpriseCusum()
    cusum.observe(fc, np.array([2]))
    assert not cusum.alarm
    cusum.observe(fc, np.array([2, 2]))  # the forecast covers one day only
    assert cusum.alarm
    cusum.reset()
    assert not cusum.alarm and cusum.upper == cusum.lower == 0.0


class RecordingArima(Arima):
    fit_days: ClassVar[list[int]] = []  # the last training day of every fit

    def _fit(self, counts, triggers):
        type(self).fit_days.append(len(counts) - 1)
        super()._fit(counts, triggers)


def _sqrt_ar1_counts(n_days: int, seed: int, shift_at: int | None) -> pd.Series:
    """y_t = round(max(z_t, 0)^2) with z_t = mu_t + u_t, u_t = 0.3 u_{t-1} + N(0, 0.5^2): the ARIMA model's
    own family. mu is 1.5 (about 2.5 attacks a day), 2.5 from day ``shift_at`` on (about 6.5)."""
    rng = np.random.default_rng(seed)
    e, u = rng.normal(0.0, 0.5, n_days), np.zeros(n_days)
    for t in range(1, n_days):
        u[t] = 0.3 * u[t - 1] + e[t]
    mu = np.where(np.arange(n_days) >= (shift_at if shift_at is not None else n_days), 2.5, 1.5)
    y = np.rint(np.maximum(mu + u, 0.0) ** 2).astype(np.int64)
    return pd.Series(y, index=pd.date_range("2024-01-01", periods=n_days, freq="D", name="date"))


def test_refit_on_surprise_refits_after_a_regime_shift_and_rarely_on_a_stationary_series():
    """ARIMA fitted once (refit_every beyond the backtest), origins on days 120..229, the level of the
    simulated series steps up on day 200 in the shifted version. Every shifted series is refitted
    within 14 days of the step; the same series without the step is refitted about once per 500
    origins by chance (a false alarm), so at most 2 times over these 5 x 110 origins."""
    shift, false_alarms = 200, 0
    for seed in range(5):
        fits = {}
        for name, at in (("stationary", None), ("shifted", shift)):
            counts = _sqrt_ar1_counts(240, seed, at)
            RecordingArima.fit_days = []
            _, info = run_backtest(RecordingArima(order=(1, 0, 0), random_state=0), counts, None, counts.index[120:230],
                                   [1], [1], policy=RefitPolicy(1000, on_surprise=True), n_paths=500, progress=False)
            fits[name] = RecordingArima.fit_days
            assert info.fits == len(fits[name]) and info.surprise_refits == len(fits[name]) - 1
        assert fits["stationary"][0] == fits["shifted"][0] == 120
        false_alarms += len(fits["stationary"]) - 1
        assert [d for d in fits["shifted"] if d < shift] == [d for d in fits["stationary"] if d < shift]
        assert any(shift < d <= shift + 14 for d in fits["shifted"]), (seed, fits)
    assert false_alarms <= 2


def test_failed_origins_are_counted_and_skipped(synthetic_counts):
    counts = synthetic_counts.copy()
    first_attack = 40
    counts.iloc[:first_attack] = 0
    counts.iloc[first_attack] = 2
    origins = counts.index[30:50]
    bt, info = run_backtest(Hawkes(n_paths=200, random_state=0), counts, None, origins, [1], [1],
                            policy=RefitPolicy(100), progress=False)
    assert info.failed_origins == first_attack - 30
    assert set(bt["origin"]) == {d.strftime("%Y-%m-%d") for d in counts.index[first_attack:50]}
    assert info.fits == 1  # successful fits only; each failed origin is retried at the next one


def test_summarise_scores_and_skill_arithmetic():
    bt = pd.DataFrame({
        "horizon": [1, 1, 1, 7, 7],
        "log_score": [1.0, 2.0, 3.0, 4.0, 6.0],
        "rps": [0.1, 0.2, 0.3, 1.0, 2.0],
        "abs_error": [0.0, 1.0, 2.0, 3.0, 5.0],
        "in50": [True, False, True, False, False],
        "in90": [True, True, True, True, False],
        "brier_ge1": [0.04, 0.16, 0.25, 0.0, 1.0],
    })
    s = summarise_scores(bt, [1])
    assert set(s) == {"1", "7"}
    assert s["1"] == pytest.approx({"log_score": 2.0, "rps": 0.2, "mae": 1.0, "coverage_50": 2 / 3,
                                    "coverage_90": 1.0, "n_origins": 3, "brier_ge1": 0.15})
    assert s["7"] == pytest.approx({"log_score": 5.0, "rps": 1.5, "mae": 4.0, "coverage_50": 0.0,
                                    "coverage_90": 0.5, "n_origins": 2, "brier_ge1": 0.5})
    assert all(isinstance(v, float) for v in s["1"].values())

    ref = {"1": {"log_score": 2.5, "rps": 0.4, "mae": 0.0, "coverage_50": 0.5, "coverage_90": 0.9,
                 "n_origins": 3, "brier_ge1": 0.3}}
    sk = skill(s, ref, [1])
    assert set(sk) == {"1"}  # no reference for horizon 7
    assert sk["1"]["log_score_diff"] == pytest.approx(-0.5)
    assert sk["1"]["rps_skill"] == pytest.approx(0.5)
    assert sk["1"]["brier_ge1_skill"] == pytest.approx(0.5)
    assert math.isnan(sk["1"]["mae_skill"])  # reference score 0
    assert not any(k.startswith("coverage") or k.startswith("n_origins") for k in sk["1"])


def test_backtest_origins_respect_min_train_days_and_periods():
    index = pd.date_range("2024-01-01", periods=100, freq="D")  # ..2024-04-09
    periods = [{"name": "a", "start": "2023-12-01", "end": "2024-01-20"},
               {"name": "b", "start": "2024-03-01", "end": "2024-05-01"},
               {"name": "c", "start": "2024-01-15", "end": "2024-01-16"}]  # overlaps a
    origins = backtest_origins(index, periods, min_train_days=10)
    expected = pd.date_range("2024-01-10", "2024-01-20").append(pd.date_range("2024-03-01", "2024-04-08"))
    assert origins.equals(expected)
    assert origins.is_monotonic_increasing and origins.is_unique
    first = index.get_loc(origins[0])
    assert first + 1 == 10  # exactly min_train_days days of history up to and including the origin
    assert origins[-1] < index[-1]


def test_backtest_origins_errors():
    index = pd.date_range("2024-01-01", periods=30, freq="D")
    with pytest.raises(ForecastInputError, match="ends before it starts"):
        backtest_origins(index, [{"name": "x", "start": "2024-01-10", "end": "2024-01-05"}], 5)
    with pytest.raises(ForecastInputError, match="no backtest origin"):
        backtest_origins(index, [{"name": "x", "start": "2024-01-02", "end": "2024-01-04"}], 10)
    with pytest.raises(ForecastInputError, match="no backtest origin"):
        backtest_origins(index, [{"name": "x", "start": "2024-01-30", "end": "2024-03-01"}], 5)


class ExplosiveAtSomeOrigins(NaivePoisson):
    """A forecast that only fails when its total pmf is computed (as a too-heavy-tailed one does)."""

    def _forecast(self, index, future_triggers, n_paths):
        fc = super()._forecast(index, future_triggers, n_paths)
        if index[0].day % 3 == 0:
            def explode(window):
                raise ModelFitError("a predictive distribution needs more than 1,000,000 counts of support")
            fc.total_pmf = explode
        return fc


def test_a_forecast_that_fails_when_scored_is_a_failed_origin_not_a_crash(synthetic_counts):
    origins = synthetic_counts.index[60:90]
    bt, info = run_backtest(ExplosiveAtSomeOrigins(), synthetic_counts, None, origins, [1, 7], [1],
                            policy=RefitPolicy(1), progress=False)
    failing = [o for o in origins if (o + pd.Timedelta(days=1)).day % 3 == 0]
    assert info.failed_origins == len(failing) > 0
    assert set(pd.to_datetime(bt["origin"])) == set(origins) - set(failing)
