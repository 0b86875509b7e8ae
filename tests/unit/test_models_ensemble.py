"""Ensemble: the linear pool is the exact weighted mixture, the weights follow the stated rule from
out-of-sample scores, and no day after the fit's origin reaches the weights or the forecast."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.config import build_model
from forecast.errors import ForecastInputError, ModelFitError
from forecast.models.baselines import Climatology, NaivePoisson, NBWindow
from forecast.models.ensemble import Ensemble, PooledCountForecast

pytestmark = pytest.mark.usefixtures("single_blas_thread")

CHEAP = ["naive", "nb_window", "climatology"]


def series(values, start="2024-01-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.int64),
                     index=pd.date_range(start, periods=len(values), freq="D", name="date"), name="count")


@pytest.fixture()
def jump_counts() -> pd.Series:
    """200 days: Poisson(0.2) for 140 days, then Poisson(4): a moving window (nb_window) follows the jump,
    a 90-day climatology lags behind it."""
    rng = np.random.default_rng(7)
    return series(np.r_[rng.poisson(0.2, 140), rng.poisson(4.0, 60)])


def padded(pmfs):
    n = max(len(p) for p in pmfs)
    return [np.pad(p, (0, n - len(p))) for p in pmfs]


def test_pooled_pmfs_are_the_weighted_sum_of_member_pmfs(jump_counts):
    model = Ensemble(members=CHEAP, random_state=0).fit(jump_counts)
    fc = model.forecast(14)
    assert isinstance(fc, PooledCountForecast)
    members = {n: est.forecast(14) for n, est in model.members_.items()}
    w = model.weights_
    for window in (1, 7, 14):
        parts = padded([fc.total_pmf(window)] + [members[n].total_pmf(window) for n in CHEAP])
        np.testing.assert_allclose(parts[0], sum(w[n] * p for n, p in zip(CHEAP, parts[1:])), atol=1e-12)
        assert fc.total_pmf(window).sum() == pytest.approx(1.0, abs=1e-12)
    for step in (1, 5, 14):
        parts = padded([fc.daily_pmf(step)] + [members[n].daily_pmf(step) for n in CHEAP])
        np.testing.assert_allclose(parts[0], sum(w[n] * p for n, p in zip(CHEAP, parts[1:])), atol=1e-12)
        assert fc.daily_pmf(step).sum() == pytest.approx(1.0, abs=1e-12)
    expected_mean = sum(w[n] * members[n].predicted_mean for n in CHEAP)
    np.testing.assert_allclose(fc.predicted_mean.to_numpy(), expected_mean.to_numpy(), rtol=1e-12)
    assert fc.predicted_mean.index.equals(fc.index)


def test_weights_follow_the_rule_respect_the_floor_and_favour_the_better_member(jump_counts):
    model = Ensemble(members=CHEAP, weight_floor=0.05, random_state=0).fit(jump_counts)
    w, s = model.weights_, model.member_scores_
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(v >= 0.05 - 1e-12 for v in w.values())
    assert s["nb_window"] < s["climatology"] and w["nb_window"] > w["climatology"]
    # the documented rule: w_m = f + (1 - M f) softmax(-eta S)_m
    soft = np.exp(-np.array([s[n] for n in CHEAP]))
    np.testing.assert_allclose([w[n] for n in CHEAP], 0.05 + (1 - 3 * 0.05) * soft / soft.sum(), rtol=1e-12)
    # the scores are the mean log scores of the scored origins' table
    np.testing.assert_allclose([s[n] for n in CHEAP], model.score_table_[CHEAP].mean().to_numpy())
    # a very high learning rate sends the worse members to the floor, not to zero
    sharp = Ensemble(members=["nb_window", "climatology"], learning_rate=200.0, weight_floor=0.02,
                     random_state=0).fit(jump_counts)
    assert sharp.weights_["climatology"] == pytest.approx(0.02, abs=1e-9)
    assert sharp.weights_["nb_window"] == pytest.approx(0.98, abs=1e-9)


def test_scored_origins_lie_in_the_window_before_the_origin(jump_counts):
    model = Ensemble(members=CHEAP, score_window_days=56, score_horizon=7, score_every=3).fit(jump_counts)
    T = len(jump_counts) - 1
    origins = model.score_origins_
    expected = jump_counts.index[list(range(T - 56 - 7, T - 7 + 1, 3))]
    assert origins.equals(expected.rename("origin"))
    assert origins[-1] + pd.Timedelta(days=7) <= jump_counts.index[-1]
    s = model.summary()
    assert s.n_obs == len(origins) and np.isfinite(s.loglik)
    assert s.loglik == pytest.approx(-model.pooled_past_log_scores().sum())
    assert set(s.params) == {f"weight_{n}" for n in CHEAP} and all(np.isnan(v) for v in s.stderr.values())


def test_no_leakage_days_after_the_origin_change_nothing(jump_counts):
    cut = 170
    T = jump_counts.index[cut]
    other_future = jump_counts.copy()
    other_future.iloc[cut + 1:] = 50  # a wildly different future
    a = Ensemble(members=CHEAP, random_state=0).fit(jump_counts.iloc[: cut + 1])
    b = Ensemble(members=CHEAP, random_state=0).fit(other_future.loc[:T])
    c = Ensemble(members=CHEAP, random_state=0).fit(jump_counts.loc[:T])
    for other in (b, c):
        assert other.weights_ == a.weights_
        assert other.member_scores_ == a.member_scores_
        for w in (1, 7, 14):
            np.testing.assert_array_equal(other.forecast(14).total_pmf(w), a.forecast(14).total_pmf(w))
    # the check is not vacuous: a day inside the scoring window does move the weights
    changed = jump_counts.iloc[: cut + 1].copy()
    changed.iloc[cut - 10] += 20
    assert Ensemble(members=CHEAP, random_state=0).fit(changed).weights_ != a.weights_


class SpyNBWindow(NBWindow):
    """NBWindow that logs every fit, update and forecast: the last day it had been given by then."""

    log: list[tuple[str, int, pd.Timestamp, pd.Timestamp | None]] = []

    def _fit(self, counts, triggers):
        self._seen = max(getattr(self, "_seen", counts.index[-1]), counts.index[-1])
        SpyNBWindow.log.append(("fit", id(self), counts.index[-1], None))
        super()._fit(counts, triggers)

    def _update(self, counts, triggers):
        self._seen = max(self._seen, counts.index[-1])
        SpyNBWindow.log.append(("update", id(self), counts.index[-1], None))
        super()._update(counts, triggers)

    def _forecast(self, index, future_triggers, n_paths):
        SpyNBWindow.log.append(("forecast", id(self), self._seen, index[0]))
        return super()._forecast(index, future_triggers, n_paths)


def test_member_forecasts_only_use_data_up_to_their_origin(jump_counts, monkeypatch):
    real_build = Ensemble._build
    monkeypatch.setattr(Ensemble, "_build",
                        lambda self, name: SpyNBWindow() if name == "nb_window" else real_build(self, name))
    SpyNBWindow.log = []
    model = Ensemble(members=["nb_window", "climatology"], score_window_days=30, score_horizon=5,
                     score_every=2).fit(jump_counts)
    T, T0 = jump_counts.index[-1], jump_counts.index[-1] - pd.Timedelta(days=35)
    forecasts = [e for e in SpyNBWindow.log if e[0] == "forecast"]
    assert len(forecasts) == len(model.score_origins_) > 10
    for _, _, seen, first_day in forecasts:
        assert seen < first_day, "a member forecast used a day at or after the first day it forecasts"
        assert first_day + pd.Timedelta(days=4) <= T, "a scored total must be observed by the origin"
    assert [f[3] - pd.Timedelta(days=1) for f in forecasts] == list(model.score_origins_)
    # parameters fixed from T0: exactly two fits (at T0 for scoring, at T for the forecast), updates between
    fits = [e for e in SpyNBWindow.log if e[0] == "fit"]
    assert [f[2] for f in fits] == [T0, T]
    scoring = fits[0][1]  # the instance scored at past origins never sees a day after the last one
    assert max(e[2] for e in SpyNBWindow.log if e[1] == scoring) == model.score_origins_[-1] <= T - pd.Timedelta(days=5)
    assert isinstance(model.members_["nb_window"], SpyNBWindow)


def test_equal_weighting_gives_one_over_m_without_scoring(jump_counts):
    model = Ensemble(members=CHEAP, weighting="equal").fit(jump_counts)
    assert model.weights_ == pytest.approx({n: 1 / 3 for n in CHEAP})
    assert all(np.isnan(v) for v in model.member_scores_.values())
    s = model.summary()
    assert s.n_obs == 0 and np.isnan(s.loglik) and s.diagnostics["weighting"] == "equal"


def test_short_history_falls_back_to_equal_weights_and_says_so():
    model = Ensemble(members=CHEAP).fit(series(np.r_[np.zeros(20), np.ones(20)]))
    assert model.weights_ == pytest.approx({n: 1 / 3 for n in CHEAP})
    notes = model.summary().diagnostics["notes"]
    assert "equal weights" in notes and "too few" in notes
    assert model.forecast(7).total_pmf(7).sum() == pytest.approx(1.0)


class Failing(NaivePoisson):
    """NaivePoisson that fails with ModelFitError once it is given more than ``max_days`` days."""

    def __init__(self, max_days: int = 0):
        super().__init__()
        self.max_days = max_days

    def _fit(self, counts, triggers):
        if len(counts) > self.max_days:
            raise ModelFitError("failing: cannot fit this on purpose")
        super()._fit(counts, triggers)


@pytest.mark.parametrize("max_days", [0, 150], ids=["fails when scored", "fails in the final fit"])
def test_a_failing_member_is_dropped_with_weight_zero(jump_counts, monkeypatch, max_days):
    real_build = Ensemble._build
    monkeypatch.setattr(Ensemble, "_build",
                        lambda self, name: Failing(max_days) if name == "climatology" else real_build(self, name))
    model = Ensemble(members=CHEAP, random_state=0).fit(jump_counts)
    assert model.weights_["climatology"] == 0.0 and "climatology" not in model.members_
    assert sum(model.weights_.values()) == pytest.approx(1.0)
    assert np.isnan(model.member_scores_["climatology"])
    s = model.summary()
    assert "climatology dropped" in s.diagnostics["notes"] and "on purpose" in s.diagnostics["notes"]
    assert ("scoring:" if max_days == 0 else "fit:") in s.diagnostics["notes"]
    assert s.params["weight_climatology"] == 0.0
    assert model.forecast(7).total_pmf(7).sum() == pytest.approx(1.0)


def test_every_member_failing_raises(jump_counts, monkeypatch):
    monkeypatch.setattr(Ensemble, "_build", lambda self, name: Failing(0))
    with pytest.raises(ModelFitError, match="every member failed"):
        Ensemble(members=CHEAP).fit(jump_counts)


def test_forecasts_are_idempotent_and_update_keeps_the_weights(jump_counts):
    model = Ensemble(members=CHEAP, random_state=3).fit(jump_counts.iloc[:150])
    a, b = model.forecast(14), model.forecast(14)
    for w in (1, 7, 14):
        np.testing.assert_array_equal(a.total_pmf(w), b.total_pmf(w))
    pd.testing.assert_frame_equal(a.summary_frame(), b.summary_frame())
    weights = dict(model.weights_)
    model.update(jump_counts)
    assert model.weights_ == weights
    assert all(m.counts_.index[-1] == jump_counts.index[-1] for m in model.members_.values())
    fc = model.forecast(7)
    assert fc.index[0] == jump_counts.index[-1] + pd.Timedelta(days=1)
    assert fc.predicted_mean.iloc[0] > a.predicted_mean.iloc[0]  # the new days hold the jump


def test_no_attacks_is_refused_unless_every_member_is_a_baseline():
    zeros = series(np.zeros(120))
    with pytest.raises(ModelFitError, match="no attacks"):
        Ensemble(members=["nb_window", "negbin"]).fit(zeros)
    model = Ensemble(members=CHEAP).fit(zeros)
    assert model.is_baseline and not Ensemble().is_baseline
    assert model.forecast(7).prob_at_least(1, 7) < 0.5


def test_flags_follow_the_members():
    assert Ensemble(members=CHEAP).uses_triggers is False
    assert Ensemble(members=["nb_window", "negbin"]).uses_triggers is True


@pytest.mark.parametrize("params, key", [
    ({"members": ["nb_window", "ensemble"]}, "model.members"),
    ({"members": ["nb_window", "no_such_model"]}, "model.members"),
    ({"members": []}, "model.members"),
    ({"members": ["naive", "naive"]}, "model.members"),
    ({"weighting": "best"}, "model.weighting"),
    ({"score_window_days": 0}, "model.score_window_days"),
    ({"score_every": 1.5}, "model.score_every"),
    ({"learning_rate": -1.0}, "model.learning_rate"),
    ({"members": ["naive", "climatology"], "weight_floor": 0.6}, "model.weight_floor"),
])
def test_bad_parameters_are_refused_naming_the_key(params, key, jump_counts):
    with pytest.raises(ForecastInputError, match=key.replace(".", r"\.")):
        Ensemble(**params).fit(jump_counts)


def test_config_file_and_build_model(repo_root: Path):
    lines = (repo_root / "configs" / "model" / "ensemble.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 20
    keys = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    assert keys == ["_target_: forecast.models.ensemble.Ensemble"]
    model = build_model("ensemble", seed=5, n_paths=300)
    assert isinstance(model, Ensemble) and model.random_state == 5 and model.n_paths == 300
    assert model.members == ["nb_window", "negbin", "hawkes", "regime"] and model.weighting == "log_score"
    member = model._build("nb_window")
    assert isinstance(member, NBWindow) and member is not model._build("nb_window")
    seeded = Ensemble(members=["climatology", "hawkes"], random_state=9, n_paths=123)._build("hawkes")
    assert seeded.random_state == 9 and seeded.n_paths == 123
    assert isinstance(Ensemble()._build("climatology"), Climatology)
