"""Daily counts, event filters, days since the last attack and lull detection."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import daily_counts, load_events
from forecast.data import days_since_last, detect_lulls, filter_events
from forecast.errors import ForecastInputError


def events_frame(rows: list[tuple[str, str, str, str]], path: str = "hand.csv") -> pd.DataFrame:
    """(date, country, weapon, confirmation) rows → a loader-shaped frame (lines 2, 3, ...)."""
    df = pd.DataFrame(rows, columns=["date", "country", "weapon", "confirmation"])
    df["date"] = pd.to_datetime(df["date"])
    df["count"] = 1
    df["line"] = np.arange(2, len(df) + 2)
    df.attrs.update(path=path, format="project")
    return df


HAND = events_frame([
    ("2024-01-02", "Iraq", "drone", "us_official"),
    ("2024-01-02", "Syria", "rocket", "credible_media"),
    ("2024-01-05", "Iraq", "rocket", "us_official"),
    ("2024-01-05", "Iraq", "drone", "militia_claim"),
    ("2024-01-05", "Jordan", "drone", "us_official"),
    ("2024-01-09", "Syria", "drone", "us_official"),
])


@pytest.fixture(scope="module")
def real_events(data_dir):
    return load_events(data_dir / "events.csv")


def test_daily_counts_is_calendar_complete_with_real_zeros():
    counts = daily_counts(HAND)
    assert list(counts.index) == list(pd.date_range("2024-01-02", "2024-01-09", freq="D"))
    assert counts.index.freqstr == "D" and counts.index.name == "date"
    assert counts.dtype == np.int64 and counts.name == "count"
    assert counts.tolist() == [2, 0, 0, 3, 0, 0, 0, 1]


def test_daily_counts_explicit_window_pads_with_zeros():
    counts = daily_counts(HAND, start="2023-12-30", end=pd.Timestamp("2024-01-12"))
    assert len(counts) == 14 and counts.index[0] == pd.Timestamp("2023-12-30")
    assert counts.sum() == 6
    assert counts.loc["2023-12-30":"2024-01-01"].tolist() == [0, 0, 0]
    assert counts.loc["2024-01-10":].tolist() == [0, 0, 0]


def test_daily_counts_uses_the_count_column():
    df = HAND.copy()
    df["count"] = [1, 2, 0, 4, 1, 3]
    assert daily_counts(df).tolist() == [3, 0, 0, 5, 0, 0, 0, 3]


def test_daily_counts_bad_windows():
    with pytest.raises(ForecastInputError, match="data.end"):
        daily_counts(HAND, start="2024-01-10", end="2024-01-01")
    with pytest.raises(ForecastInputError, match="data.start"):
        daily_counts(HAND, start="not a date")
    with pytest.raises(ForecastInputError, match="no events"):
        daily_counts(HAND.iloc[:0])
    with pytest.raises(ForecastInputError) as info:  # event outside: names file, line and column
        daily_counts(HAND, start="2024-01-03", end="2024-01-31")
    assert "hand.csv:2: column 'date'" in str(info.value)


def test_filter_events_by_country_weapon_confirmation():
    assert len(filter_events(HAND)) == 6
    iraq = filter_events(HAND, country=["iraq"])  # case-insensitive
    assert iraq["line"].tolist() == [2, 4, 5]
    assert filter_events(HAND, weapon=["rocket"])["line"].tolist() == [3, 4]
    assert filter_events(HAND, confirmation=["us_official"])["line"].tolist() == [2, 4, 6, 7]
    both = filter_events(HAND, country=["Iraq", "Jordan"], weapon=["drone"], confirmation=["us_official"])
    assert both["line"].tolist() == [2, 6]
    assert filter_events(HAND, country=["Lebanon"]).empty
    assert iraq.attrs == HAND.attrs
    assert len(HAND) == 6  # input not mutated
    # counted on the full window: days without kept events are zeros
    counts = daily_counts(both, "2024-01-02", "2024-01-09")
    assert counts.tolist() == [1, 0, 0, 1, 0, 0, 0, 0]


def test_filter_events_on_the_real_data(real_events):
    drones = filter_events(real_events, weapon=["drone"])
    assert len(drones) == int((real_events["weapon"] == "drone").sum()) > 0
    confirmed = filter_events(real_events, confirmation=["us_official"])
    assert set(confirmed["confirmation"]) == {"us_official"}
    syria = filter_events(real_events, country=["Syria"])
    iraq = filter_events(real_events, country=["Iraq"])
    assert 0 < len(syria) and 0 < len(iraq) and len(syria) + len(iraq) <= len(real_events)


def test_real_daily_counts(real_events):
    counts = daily_counts(real_events, "2023-10-17", "2026-06-30")
    assert len(counts) == 988 and counts.sum() == 270  # every row, before any filter
    assert counts.index.is_monotonic_increasing and counts.index.freqstr == "D"
    assert (counts.loc["2024-02-05":"2024-04-20"] == 0).all()
    assert counts.loc["2024-02-04"] > 0 and counts.loc["2024-04-21"] > 0
    assert (counts.loc["2024-12-04":"2025-06-12"] == 0).all()  # the 2025 lull
    assert (counts.loc["2026-03-19":] == 0).all()  # nothing sourced after 2026-03-18


def test_days_since_last_hand_made():
    index = pd.date_range("2024-01-01", periods=9, freq="D")
    counts = pd.Series([0, 0, 1, 0, 0, 2, 1, 0, 0], index=index)
    out = days_since_last(counts)
    # before the first attack the count runs from the start of the window (day 1 = 1)
    assert out.tolist() == [1, 2, 0, 1, 2, 0, 0, 1, 2]
    assert out.index.equals(index) and out.name == "days_since_last"
    assert days_since_last(pd.Series([0, 0, 0], index=index[:3])).tolist() == [1, 2, 3]


def series(values: list[int], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", name="date"))


def test_detect_lulls_known_runs_and_boundary():
    #          0  1  2  3  4  5  6  7  8  9 10 11 12 13
    values = [0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]
    counts = series(values)
    lulls = detect_lulls(counts, min_days=3)
    assert lulls["start"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08"),
                                       pd.Timestamp("2024-01-12")]
    assert lulls["end"].tolist() == [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-10"),
                                     pd.Timestamp("2024-01-14")]
    assert lulls["days"].tolist() == [3, 3, 3]  # a run of exactly min_days counts
    assert lulls["ongoing"].tolist() == [False, False, True]
    assert detect_lulls(counts, min_days=4).empty  # one day short everywhere
    two = detect_lulls(counts, min_days=2)
    assert two["days"].tolist() == [3, 2, 3, 3]
    assert list(detect_lulls(counts, 4).columns) == ["start", "end", "days", "ongoing"]


def test_detect_lulls_edges():
    assert detect_lulls(series([1, 2, 1])).empty
    everything = detect_lulls(series([0] * 20), min_days=14)
    assert everything[["days", "ongoing"]].values.tolist() == [[20, True]]
    closed = detect_lulls(series([0] * 14 + [1]), min_days=14)
    assert closed[["days", "ongoing"]].values.tolist() == [[14, False]]
    with pytest.raises(ForecastInputError, match="lull_min_days"):
        detect_lulls(series([0, 1]), min_days=0)


def test_detect_lulls_real_data_finds_the_spring_2024_pause(real_events):
    counts = daily_counts(real_events, "2023-10-17", "2026-06-30")
    lulls = detect_lulls(counts, min_days=14)
    row = lulls[lulls["start"] == pd.Timestamp("2024-02-05")]
    assert len(row) == 1
    assert row["end"].iloc[0] == pd.Timestamp("2024-04-20")
    assert row["days"].iloc[0] == 76 and not row["ongoing"].iloc[0]
    # the set ends in a lull from the day after the last sourced attack (2026-03-18) to the window's end
    last = lulls.iloc[-1]
    assert last["start"] == pd.Timestamp("2026-03-19") and last["ongoing"] and last["days"] == 104
    # every lull is attack-free and bounded by attacks (or the window's end)
    for r in lulls.itertuples():
        assert counts.loc[r.start:r.end].sum() == 0 and r.days >= 14
        assert r.days == (r.end - r.start).days + 1
        assert r.ongoing == (r.end == counts.index[-1])


# --------------------------------------------------------------------------- attacker / target / duplicates

ANNOTATED = events_frame([
    ("2025-01-01", "Iraq", "drone", "us_official"),
    ("2025-01-02", "Iraq", "drone", "militia_claim"),
    ("2025-01-02", "Iraq", "rocket", "credible_media"),
    ("2025-01-03", "Syria", "missile", "credible_media"),
    ("2025-01-03", "Syria", "mortar", "credible_media"),
    ("2025-01-05", "Iraq", "drone", "credible_media"),
], path="annotated.csv")
ANNOTATED["event_id"] = ["A01", "A02", "A03", "A04", "A05", "A06"]
ANNOTATED["attacker"] = ["militia", "militia", "unknown", "iran_state", "unknown", "militia"]
ANNOTATED["target_type"] = ["us_military", "us_military", "us_diplomatic", "us_military", "us_military", "other"]
ANNOTATED["duplicate_of"] = ["", "A01", "", "", "", ""]


def test_filter_by_attacker_target_type_and_duplicates():
    assert len(filter_events(ANNOTATED)) == 6  # defaults of the function: no filter, duplicates kept
    assert filter_events(ANNOTATED, attacker=["militia"])["event_id"].tolist() == ["A01", "A02", "A06"]
    assert filter_events(ANNOTATED, attacker=["militia", "unknown"])["event_id"].tolist() == [
        "A01", "A02", "A03", "A05", "A06"]
    assert filter_events(ANNOTATED, target_type=["us_military"])["event_id"].tolist() == ["A01", "A02", "A04", "A05"]
    assert filter_events(ANNOTATED, target_type=["us_military", "us_diplomatic"])["event_id"].tolist() == [
        "A01", "A02", "A03", "A04", "A05"]
    assert filter_events(ANNOTATED, duplicates="merge")["event_id"].tolist() == ["A01", "A03", "A04", "A05", "A06"]
    # the default series of the config: militia or unknown, military targets, duplicates merged
    default = filter_events(ANNOTATED, attacker=["militia", "unknown"], target_type=["us_military"],
                            duplicates="merge")
    assert default["event_id"].tolist() == ["A01", "A05"]
    keep = filter_events(ANNOTATED, attacker=["militia", "unknown"], target_type=["us_military"], duplicates="keep")
    assert keep["event_id"].tolist() == ["A01", "A02", "A05"]
    counts = daily_counts(default, "2025-01-01", "2025-01-05")
    assert counts.tolist() == [1, 0, 1, 0, 0]
    assert daily_counts(keep, "2025-01-01", "2025-01-05").tolist() == [1, 1, 1, 0, 0]
    assert default.attrs == ANNOTATED.attrs and len(ANNOTATED) == 6  # attrs kept, input not mutated
    assert filter_events(ANNOTATED, attacker=[], target_type=None)["event_id"].tolist() == list(ANNOTATED["event_id"])


def test_filters_are_no_ops_without_the_columns():
    # ACLED, generic and older project frames lack attacker/target_type/duplicate_of
    kept = filter_events(HAND, attacker=["militia"], target_type=["us_diplomatic"], duplicates="merge")
    assert kept["line"].tolist() == HAND["line"].tolist()


@pytest.mark.parametrize("kwargs, key", [({"attacker": ["milita"]}, "data.attacker"),
                                         ({"target_type": ["embassy"]}, "data.target_type"),
                                         ({"duplicates": "drop"}, "data.duplicates")])
def test_bad_filter_values_name_the_config_key(kwargs, key):
    with pytest.raises(ForecastInputError, match=key.replace(".", r"\.")):
        filter_events(HAND, **kwargs)  # checked even when the frame lacks the column


def test_check_filters_alone():
    from forecast.data.counts import check_filters

    assert check_filters() == (None, None, "keep")
    assert check_filters(attacker=("militia",), target_type=[], duplicates="merge") == (["militia"], [], "merge")
    with pytest.raises(ForecastInputError, match=r"data\.target_type.*us_military, us_diplomatic, other"):
        check_filters(target_type=["us_military", "consulate"])


def test_filters_on_the_annotated_fixture_file(fixtures_dir):
    events = load_events(fixtures_dir / "events_annotated.csv")
    assert len(events) == 7
    default = filter_events(events, attacker=["militia", "unknown"], target_type=["us_military"], duplicates="merge")
    assert default["event_id"].tolist() == ["A01", "A05"]
    keep = filter_events(events, attacker=["militia", "unknown"], target_type=["us_military"], duplicates="keep")
    assert keep["event_id"].tolist() == ["A01", "A02", "A05", "A07"]
    both = filter_events(events, target_type=["us_military", "us_diplomatic"], duplicates="merge")
    assert both["event_id"].tolist() == ["A01", "A03", "A04", "A05"]


def test_filters_on_the_shipped_data(real_events):
    default = dict(attacker=["militia", "unknown"], target_type=["us_military"])
    merged = filter_events(real_events, duplicates="merge", **default)
    kept = filter_events(real_events, duplicates="keep", **default)
    assert (len(merged), len(kept)) == (226, 239)
    assert len(kept) - len(merged) == int(((real_events["duplicate_of"] != "")
                                           & real_events["attacker"].isin(["militia", "unknown"])
                                           & (real_events["target_type"] == "us_military")).sum()) == 13
    campaign = real_events[real_events["date"] <= "2024-02-04"]
    assert len(campaign) == 184
    # the campaign against DoD's 170: 182 kept, 169 merged; 171 with the two diplomatic-site rows too
    assert len(filter_events(campaign, duplicates="keep", **default)) == 182
    assert len(filter_events(campaign, duplicates="merge", **default)) == 169
    assert len(filter_events(campaign, attacker=["militia", "unknown"], target_type=["us_military", "us_diplomatic"],
                             duplicates="merge")) == 171
    # 2026: most sourced attacks hit the embassy, the BDSC and the Erbil consulate (not in the default series)
    war = real_events[real_events["date"] >= "2026-01-01"]
    assert len(war) == 43
    assert len(filter_events(war, duplicates="merge", **default)) == 15
    assert len(filter_events(war, attacker=["militia", "unknown"], target_type=["us_military", "us_diplomatic"],
                             duplicates="merge")) == 38
    assert set(filter_events(real_events, attacker=["iran_state"])["event_id"]) == {"E0230", "E0231", "E0234"}


def test_more_than_the_daily_maximum_is_a_bad_count_column():
    from forecast.data.counts import MAX_DAILY_COUNT
    from forecast.errors import ForecastInputError

    events = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02"]), "count": [1, MAX_DAILY_COUNT + 1]})
    with pytest.raises(ForecastInputError, match="2024-01-02 has 10,001 events"):
        daily_counts(events)
    events.loc[1, "count"] = MAX_DAILY_COUNT
    assert daily_counts(events).max() == MAX_DAILY_COUNT


def test_official_counts_that_total_zero_are_summarised_not_divided_by():
    from forecast.data.summary import coverage, format_summary

    events = pd.DataFrame({"date": pd.to_datetime(["2024-01-02"]), "count": [1], "country": ["Iraq"],
                           "weapon": ["drone"], "confirmation": ["us_official"]})
    official = pd.DataFrame({"date": pd.to_datetime(["2024-01-05"]), "cumulative_count": [0],
                             "since": pd.to_datetime(["2024-01-01"])})
    cover = coverage(events, official)
    counts = daily_counts(events, "2024-01-01", "2024-01-10")
    text = format_summary(events, counts, detect_lulls(counts, 14), None, cover)
    assert "vs 0 official (no official attacks to compare with)" in text
