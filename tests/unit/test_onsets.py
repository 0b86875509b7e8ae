"""Onsets of attack waves and the forecasts around them (forecast.evaluate.onsets)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.evaluate.onsets import find_onsets, onset_table

DAYS = pd.date_range("2024-01-01", periods=13, freq="D")


def brute_force_onsets(y: np.ndarray, m: int) -> list[int]:
    return [t for t in range(m, len(y)) if y[t] > 0 and all(y[t - m: t] == 0)]


def test_find_onsets_by_hand():
    counts = pd.Series([1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 3], index=DAYS)
    # day 4: 3 quiet days before; day 7: only 2; day 12: 4; day 0: no observed history
    assert list(find_onsets(counts, 3)) == [DAYS[4], DAYS[12]]
    assert list(find_onsets(counts, 4)) == [DAYS[12]]
    assert list(find_onsets(counts, 2)) == [DAYS[4], DAYS[7], DAYS[12]]
    starts_quiet = pd.Series([0, 0, 0, 1], index=DAYS[:4])
    assert list(find_onsets(starts_quiet, 3)) == [DAYS[3]]
    with pytest.raises(ValueError, match="min_quiet_days"):
        find_onsets(counts, 0)


@pytest.mark.parametrize("seed", range(5))
def test_find_onsets_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    y = rng.poisson(0.15, 400) * (rng.uniform(size=400) < 0.5)
    counts = pd.Series(y, index=pd.date_range("2023-10-17", periods=400, freq="D"))
    for m in (1, 7, 14):
        assert list(find_onsets(counts, m)) == list(counts.index[brute_force_onsets(y, m)])


def test_fixed_onset_dates():
    got = find_onsets(pd.Series(dtype=int), dates=["2024-04-21", "2024-02-04 13:00", "2024-04-21"])
    assert list(got) == [pd.Timestamp("2024-02-04"), pd.Timestamp("2024-04-21")]


def _bt(scale: float) -> pd.DataFrame:
    """A backtest frame with origins 2024-03-01..2024-03-20 at horizons 1 and 7; p_ge1 and mean encode the
    origin's day of month so each lookup can be checked."""
    origins = pd.date_range("2024-03-01", "2024-03-20", freq="D")
    rows = [{"origin": o.strftime("%Y-%m-%d"), "horizon": h, "observed_total": o.day * 10 + h,
             "mean": scale * o.day + h, "p_ge1": o.day / 100 + (0.5 if h == 1 else 0.0)}
            for o in origins for h in (1, 7)]
    return pd.DataFrame(rows)


def test_onset_table_reads_each_origin():
    bt = {"a": _bt(1.0), "b": _bt(2.0)}
    tab = onset_table(bt, ["2024-03-05", "2024-03-18"])
    assert len(tab) == 4 and list(tab[["model"]].squeeze()) == ["a", "b", "a", "b"]
    r = tab.iloc[1]  # onset 03-05, model b: origins 03-04, 03-06, 03-08, 03-12 at horizon 7
    assert r["onset"] == pd.Timestamp("2024-03-05")
    assert (r["p_ge1_m1"], r["p_ge1_p1"], r["p_ge1_p3"], r["p_ge1_p7"]) == pytest.approx((0.04, 0.06, 0.08, 0.12))
    assert (r["mean_m1"], r["mean_p7"]) == pytest.approx((2 * 4 + 7, 2 * 12 + 7))
    assert r["observed"] == 4 * 10 + 7  # total from the onset on, scored at origin onset - 1
    late = tab.iloc[2]  # onset 03-18: +3 and +7 lie past the last origin
    assert late["p_ge1_p1"] == pytest.approx(0.19) and np.isnan(late["p_ge1_p3"]) and np.isnan(late["mean_p7"])
    assert "trigger_name" not in tab
    custom = onset_table(bt, ["2024-03-05"], offsets=(0, 2), horizon=1)
    assert custom.iloc[0]["p_ge1_p0"] == pytest.approx(0.55) and "p_ge1_m1" not in custom


def test_onset_table_names_the_latest_trigger_on_or_before():
    triggers = pd.DataFrame({"date": pd.to_datetime(["2024-02-01", "2024-03-02", "2024-03-02", "2024-03-06"]),
                             "name": ["old", "strike A", "statement B", "after"],
                             "kind": ["regional", "us_strike", "militia_statement", "diplomatic"]})
    tab = onset_table({"a": _bt(1.0)}, ["2024-03-05", "2024-03-06", "2024-01-15"], triggers=triggers)
    none, first, same_day = tab.iloc[0], tab.iloc[1], tab.iloc[2]  # onsets come sorted
    assert first["trigger_date"] == pd.Timestamp("2024-03-02")
    assert first["trigger_name"] == "strike A; statement B"
    assert first["trigger_kind"] == "us_strike; militia_statement" and first["days_since_trigger"] == 3
    assert same_day["trigger_name"] == "after" and same_day["days_since_trigger"] == 0
    assert pd.isna(none["trigger_name"]) and pd.isna(none["trigger_date"]) and np.isnan(none["p_ge1_m1"])
