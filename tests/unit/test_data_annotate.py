"""Trigger features (closed forms, lag, carried decay, no look-ahead) and coverage against official counts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import daily_counts, load_events, load_triggers
from forecast.data import load_official_counts, trigger_features
from forecast.data.events import TRIGGER_KINDS
from forecast.data.summary import coverage
from forecast.errors import ForecastInputError

INDEX = pd.date_range("2024-01-01", "2024-01-20", freq="D", name="date")
TRIGGERS = pd.DataFrame({
    "date": pd.to_datetime(["2023-12-30", "2024-01-03", "2024-01-03", "2024-01-10", "2024-01-19", "2024-01-25"]),
    "kind": ["diplomatic", "us_strike", "us_strike", "us_strike", "regional", "regional"],
    "name": list("abcdef"),
})


def reference(index, triggers, kind, encoding, half_life, lag, known_until=None):
    """The documented closed forms, one day and one trigger at a time."""
    out = []
    for t in index:
        value = 0.0
        for d, k in zip(triggers["date"], triggers["kind"]):
            if k != kind or (known_until is not None and d > pd.Timestamp(known_until)):
                continue
            age = (t - d).days - lag  # days since the trigger started to act
            if encoding == "impulse":
                value += age == 0
            elif encoding == "decay":
                value += 0.5 ** (age / half_life) if age >= 0 else 0.0
            elif age >= 0:
                value = 1.0
        out.append(float(value))
    return np.array(out)


@pytest.mark.parametrize("encoding", ["impulse", "decay", "step"])
@pytest.mark.parametrize("lag", [0, 1, 3])
@pytest.mark.parametrize("half_life", [1.0, 4.0, 7.0])
def test_closed_forms(encoding, lag, half_life):
    x = trigger_features(INDEX, TRIGGERS, encoding=encoding, half_life=half_life, lag=lag)
    assert list(x.columns) == list(TRIGGER_KINDS) and x.index.equals(INDEX)
    for kind in TRIGGER_KINDS:
        np.testing.assert_allclose(x[kind].to_numpy(), reference(INDEX, TRIGGERS, kind, encoding, half_life, lag),
                                   rtol=1e-12, atol=1e-12, err_msg=f"{encoding} {kind} lag={lag}")


def test_hand_values():
    day = lambda s: pd.Timestamp(s)  # noqa: E731
    decay = trigger_features(INDEX, TRIGGERS, encoding="decay", half_life=4.0, lag=1)
    assert decay.loc[day("2024-01-03"), "us_strike"] == 0.0  # lag 1: nothing on the trigger's own day
    assert decay.loc[day("2024-01-04"), "us_strike"] == pytest.approx(2.0)  # two strikes on 01-03
    assert decay.loc[day("2024-01-08"), "us_strike"] == pytest.approx(2 * 0.5)  # one half-life later
    assert decay.loc[day("2024-01-11"), "us_strike"] == pytest.approx(2 * 0.5 ** (7 / 4) + 1.0)
    # a trigger before the window is carried in: 2023-12-30 + 1 day lag, seen on 2024-01-01 at age 1
    assert decay.loc[day("2024-01-01"), "diplomatic"] == pytest.approx(0.5 ** 0.25)
    assert decay.loc[day("2024-01-20"), "diplomatic"] == pytest.approx(0.5 ** (20 / 4))
    # regional: 01-19 acts from 01-20; 01-25 is after the window and never shows
    assert decay.loc[day("2024-01-20"), "regional"] == pytest.approx(1.0)
    assert decay["regional"].iloc[:-1].eq(0).all()
    assert decay["militia_statement"].eq(0).all()

    impulse = trigger_features(INDEX, TRIGGERS, encoding="impulse", lag=2)
    assert impulse["us_strike"].to_dict() == {d: (2.0 if d == day("2024-01-05") else
                                                  1.0 if d == day("2024-01-12") else 0.0) for d in INDEX}
    # 2023-12-30 + 2 days lag acts on the window's first day; with lag 1 it acted before the window
    assert impulse["diplomatic"].tolist() == [1.0] + [0.0] * 19
    assert trigger_features(INDEX, TRIGGERS, encoding="impulse", lag=1)["diplomatic"].eq(0).all()

    step = trigger_features(INDEX, TRIGGERS, encoding="step", lag=1)
    assert step["diplomatic"].eq(1).all()  # happened before the window
    assert step["us_strike"].tolist() == [0.0] * 3 + [1.0] * 17
    assert step["regional"].tolist() == [0.0] * 19 + [1.0]


def test_kinds_subset_and_empty_inputs():
    x = trigger_features(INDEX, TRIGGERS, kinds=["us_strike"], encoding="impulse", lag=0)
    assert list(x.columns) == ["us_strike"] and x["us_strike"].sum() == 3
    assert trigger_features(INDEX, None).eq(0).all().all()
    assert trigger_features(INDEX, TRIGGERS.iloc[:0]).shape == (20, len(TRIGGER_KINDS))
    assert trigger_features(INDEX[:0], TRIGGERS).empty


def test_bad_arguments_name_the_config_key():
    with pytest.raises(ForecastInputError, match="model.trigger_encoding"):
        trigger_features(INDEX, TRIGGERS, encoding="linear")
    with pytest.raises(ForecastInputError, match="model.trigger_half_life"):
        trigger_features(INDEX, TRIGGERS, half_life=0)
    with pytest.raises(ForecastInputError, match="model.trigger_kinds.*us_strike"):
        trigger_features(INDEX, TRIGGERS, kinds=["coup"])


@pytest.mark.parametrize("encoding", ["impulse", "decay", "step"])
@pytest.mark.parametrize("lag", [0, 1, 2])
def test_no_leakage_from_later_triggers(encoding, lag):
    rng = np.random.default_rng(7)
    index = pd.date_range("2024-01-01", periods=120, freq="D")
    dates = index[0] + pd.to_timedelta(rng.integers(-30, 150, size=60), unit="D")
    triggers = pd.DataFrame({"date": dates, "kind": rng.choice(list(TRIGGER_KINDS), size=60)})
    full = trigger_features(index, triggers, encoding=encoding, lag=lag)
    for T in [index[0], index[10], index[59], index[-1]]:
        known = triggers[triggers["date"] <= T]
        past_only = trigger_features(index, known, encoding=encoding, lag=lag)
        # features on days <= T do not depend on whether later triggers exist
        pd.testing.assert_frame_equal(full.loc[:T], past_only.loc[:T])
        # the known triggers alone give the reference features on every day, also after T
        for kind in TRIGGER_KINDS:
            np.testing.assert_allclose(past_only[kind].to_numpy(),
                                       reference(index, triggers, kind, encoding, 7.0, lag, known_until=T),
                                       rtol=1e-12, atol=1e-12)
    # and the later triggers do matter once they are known (the test can see a leak)
    nothing_known = trigger_features(index, triggers.iloc[:0], encoding=encoding, lag=lag)
    assert nothing_known.eq(0).all().all() and full.gt(0).any().any()

@pytest.mark.parametrize("encoding", ["impulse", "decay", "step"])
def test_features_of_a_late_window_equal_the_full_history_rows(encoding):
    """Models build features for the forecast days alone: triggers before the window carry over."""
    rng = np.random.default_rng(3)
    index = pd.date_range("2024-01-01", periods=200, freq="D")
    dates = index[0] + pd.to_timedelta(rng.integers(-20, 210, size=40), unit="D")
    triggers = pd.DataFrame({"date": dates, "kind": rng.choice(list(TRIGGER_KINDS), size=40)})
    full = trigger_features(index, triggers, encoding=encoding, lag=1)
    for start in (1, 37, 150):
        late = trigger_features(index[start:], triggers, encoding=encoding, lag=1)
        np.testing.assert_allclose(late.to_numpy(), full.to_numpy()[start:], rtol=1e-12, atol=1e-12)


def test_triggers_known_at_an_origin_on_the_real_calendar(data_dir):
    triggers = load_triggers(data_dir / "triggers.csv")
    index = pd.date_range("2023-10-17", "2026-06-30", freq="D")
    T = pd.Timestamp("2024-02-04")
    full = trigger_features(index, triggers)
    cut = trigger_features(index, triggers[triggers["date"] <= T])
    pd.testing.assert_frame_equal(full.loc[:T], cut.loc[:T])
    assert (cut.loc[T:] <= full.loc[T:] + 1e-12).all().all()
    # after T the cut features only decay: no known trigger acts later
    diffs = cut.loc[T + pd.Timedelta(days=2):].diff().iloc[1:]
    assert (diffs <= 1e-12).all().all()


# --------------------------------------------------------------------------- coverage

def test_coverage_exact_numbers():
    events = pd.DataFrame({"date": pd.to_datetime(["2023-12-31", "2024-01-01", "2024-01-05", "2024-01-06",
                                                   "2024-01-10", "2024-01-12", "2024-01-20"]),
                           "count": [5, 1, 2, 1, 1, 1, 9]})
    official = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-10", "2024-01-05", "2024-01-10", "2024-01-15"]),
        "cumulative_count": [6, 3, 7, 6],  # two statements on 01-10: the larger wins; 01-15 is lower
        "since": pd.to_datetime(["2024-01-01"] * 4),
    })
    table = coverage(events, official)
    assert table[["from", "to", "official", "in_set"]].values.tolist() == [
        ["2024-01-01", "2024-01-05", 3, 3],   # 12-31 is before `since`; 01-05 counts 2
        ["2024-01-06", "2024-01-10", 4, 2],
        ["2024-01-11", "2024-01-15", -1, 1],  # sources disagree: shown as a negative difference
    ]
    assert table["coverage"].iloc[0] == pytest.approx(1.0)
    assert table["coverage"].iloc[1] == pytest.approx(0.5)
    assert np.isnan(table["coverage"].iloc[2])


def test_coverage_on_the_real_data(data_dir):
    events = load_events(data_dir / "events.csv")
    official = load_official_counts(data_dir / "official_counts.csv")
    table = coverage(events, official)
    last = official.groupby("date")["cumulative_count"].max().iloc[-1]
    assert table["official"].sum() == last  # the differences telescope
    lo, hi = official["since"].min(), official["date"].max()
    assert table["in_set"].sum() == int(events.loc[events["date"].between(lo, hi), "count"].sum())
    assert table["from"].iloc[0] == "2023-10-17"
    # intervals tile the span without gaps or overlaps
    starts = pd.to_datetime(table["from"])
    ends = pd.to_datetime(table["to"])
    assert (starts.iloc[1:].to_numpy() == (ends.iloc[:-1] + pd.Timedelta(days=1)).to_numpy()).all()
    counts = daily_counts(events, "2023-10-17", "2026-06-30")
    assert table["in_set"].sum() == counts.loc[lo:hi].sum()
