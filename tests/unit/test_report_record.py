"""The record is the interface: load_record reads a run folder alone into a typed RunView."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.report.record import FitView, RecordError, RunView, load_record
from forecast.risk import scenario_difference, totals_frame

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "record_small"


@pytest.fixture()
def record(tmp_path: Path) -> Path:
    """A writable copy of the small fixture record."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def test_fixture_loads_into_a_typed_view():
    view = load_record(FIXTURE)
    assert isinstance(view, RunView) and isinstance(view.fit, FitView)
    assert view.run_id == "fixture_small_hawkes" and view.model == "hawkes"
    assert isinstance(view.counts.index, pd.DatetimeIndex) and view.counts["count"].dtype.kind == "i"
    assert view.origin == pd.Timestamp("2024-04-20") and view.is_past_origin
    assert view.observed_after(14).index[0] == pd.Timestamp("2024-04-21")
    assert view.horizons == [1, 7, 14] and view.thresholds == [1, 3, 5, 10]
    assert [p.name for p in view.periods] == ["lull_and_after"]
    assert view.fit.effect_scale == "log_rate" and "us_strike" in view.fit.effects.index
    assert view.totals is not None and list(view.totals["window"])[:3] == [1, 2, 3]
    assert set(view.reference_backtests) == {"nb_window"}  # the climatology file was left out of the fixture
    assert view.references["nb_window"].startswith("The strongest simple baseline")
    assert view.scenario is None and view.siblings == []


def test_missing_optional_files_become_none(record: Path):
    for name in ("onsets.csv", "forecast_totals.csv", "coverage.csv", "fit_summary.json", "fit_series.csv",
                 "triggers_used.csv", "backtest.csv", "references.json"):
        (record / name).unlink()
    view = load_record(record)
    assert view.onsets is None and view.totals is None and view.coverage is None and view.fit is None
    assert view.triggers is None and view.backtest is None
    assert view.references["nb_window"]  # falls back to the model option's own description


@pytest.mark.parametrize("make", ["empty", "missing", "garbled", "no_run_id"])
def test_a_folder_that_is_not_a_record_is_refused(tmp_path: Path, make: str):
    folder = tmp_path / "x"
    if make != "missing":
        folder.mkdir()
    if make == "garbled":
        (folder / "metrics.json").write_text("{not json")
    if make == "no_run_id":
        (folder / "metrics.json").write_text(json.dumps({"status": "ok"}))
    with pytest.raises(RecordError, match="not a"):
        load_record(folder)


def _job(sweep: Path, name: str, **changes) -> Path:
    folder = Path(shutil.copytree(FIXTURE, sweep / name))
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.update(run_id=name, **changes)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_siblings_are_the_other_ok_runs_of_the_sweep_on_the_same_data(tmp_path: Path):
    sweep = tmp_path / "multiruns" / "s1"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    me = _job(sweep, "0_hawkes")
    _job(sweep, "1_other", model="toy_model")
    _job(sweep, "2_failed", model="broken", status="failed")
    _job(sweep, "3_other_data", model="elsewhere", data_sha256="0" * 64)
    _job(sweep, "4_other_origin", model="later", origin="2024-05-01")
    view = load_record(me)
    assert [s.model for s in view.siblings] == ["toy_model"]
    assert load_record(me, siblings=False).siblings == []
    # a single run (no sweep marker next to it) has no siblings
    assert load_record(FIXTURE).siblings == []


def test_totals_frame_is_the_cumulative_total_distribution():
    from forecast.models.base import IndependentCountForecast

    idx = pd.date_range("2024-01-01", periods=3, freq="D")
    fc = IndependentCountForecast(idx, [[0.5, 0.5]] * 3)  # each day 0 or 1 with equal chance
    frame = totals_frame(fc, [1, 3])
    assert list(frame["window"]) == [1, 2, 3]
    assert frame["mean"].tolist() == pytest.approx([0.5, 1.0, 1.5])
    assert frame["p_ge1"].tolist() == pytest.approx([0.5, 0.75, 0.875])
    assert frame["p_ge3"].tolist() == pytest.approx([0.0, 0.0, 0.125])
    assert (frame["q97.5"] >= frame["q02.5"]).all() and frame["q50"].is_monotonic_increasing


class _FakeForecaster:
    """A seeded stand-in for a fitted model: day pmfs jitter with the seed; a future trigger doubles the
    chance of an attack (no fitting involved)."""

    uses_triggers = True

    def __init__(self, random_state=3):
        self.random_state = random_state

    def get_params(self):
        return {"random_state": self.random_state}

    def set_params(self, **params):
        self.__dict__.update(params)
        return self

    def forecast(self, horizon, future_triggers=None):
        from forecast.models.base import IndependentCountForecast

        rng = np.random.default_rng(self.random_state)
        p = 0.1 + 0.01 * rng.uniform(size=horizon)
        if future_triggers is not None:
            p = 2 * p
        idx = pd.date_range("2024-01-01", periods=horizon, freq="D")
        return IndependentCountForecast(idx, [[1 - q, q] for q in p])


def test_scenario_difference_shares_random_numbers_and_reports_monte_carlo_error():

    model = _FakeForecaster()
    base, scen = model.forecast(14), model.forecast(14, future_triggers=pd.DataFrame({"kind": ["us_strike"]}))
    frame, method = scenario_difference(model, base, scen, pd.DataFrame({"kind": ["us_strike"]}), [7, 14], [1, 3])
    assert model.random_state == 3  # restored
    assert list(frame.columns) == ["horizon_days", "quantity", "baseline", "scenario", "difference", "mc_se"]
    assert set(frame["quantity"]) == {"expected_total", "p_ge1", "p_ge3"} and len(frame) == 6
    assert np.allclose(frame["difference"], frame["scenario"] - frame["baseline"])
    row = frame[(frame.horizon_days == 14) & (frame.quantity == "expected_total")].iloc[0]
    assert row["baseline"] == pytest.approx(base.total_mean(14)) and row["difference"] > 0
    assert (frame["mc_se"] > 0).all() and (frame["mc_se"] < frame["difference"].abs()).all()
    assert any(m.startswith("Monte Carlo error") for m in method)
    assert any(m.startswith("Not included: the uncertainty of the fitted trigger effects") for m in method)

