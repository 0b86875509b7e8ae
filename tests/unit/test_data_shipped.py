"""Invariants of the shipped data files (data/*.csv) and of the configs that describe them (issue #13)."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import yaml

from forecast import load_events, load_triggers
from forecast.data.events import load_sites
from forecast.data.exposure import exposure, resolve_sites

CHECKED_THROUGH = pd.Timestamp("2026-06-30")  # the date the set is checked through (data/README.md)
# event locations that are not sites in sites.csv (no sourced US presence dates); listed in data/README.md
DOCUMENTED_LOCATIONS = {"Himo (west of Qamishli airport)", "Khirbat Adana (al-Hasakah)",
                        "Hasakah city (Ghuweiran district)"}


@pytest.fixture(scope="module")
def events(data_dir):
    return load_events(data_dir / "events.csv")


@pytest.fixture(scope="module")
def sites(data_dir):
    return load_sites(data_dir / "sites.csv")


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_event_has_sources_and_a_date_in_the_window(events):
    assert events["source_url"].str.split("|").map(lambda urls: all(u.startswith("http") for u in urls)).all()
    assert events["date"].between(pd.Timestamp("2023-10-17"), CHECKED_THROUGH).all()


def test_the_config_window_and_backtest_periods_match_the_checked_through_date(repo_root):
    data = yaml.safe_load((repo_root / "configs/data/default.yaml").read_text(encoding="utf-8"))
    assert pd.Timestamp(data["end"]) == CHECKED_THROUGH and data["start"] == "2023-10-17"
    assert data["attacker"] == ["militia", "unknown"] and data["target_type"] == ["us_military"]
    assert data["duplicates"] == "merge"
    periods = {p["name"]: p for p in yaml.safe_load(
        (repo_root / "configs/backtest/default.yaml").read_text(encoding="utf-8"))["periods"]}
    assert list(periods) == ["campaign", "2024", "2025", "2026"]
    assert (periods["2025"]["start"], periods["2025"]["end"]) == ("2025-01-01", "2025-12-31")
    assert pd.Timestamp(periods["2026"]["end"]) == CHECKED_THROUGH - pd.Timedelta(days=14)


def test_every_location_is_unknown_a_site_or_documented(events, sites):
    site = resolve_sites(events["location"], sites)
    unmatched = set(events.loc[site.isna().to_numpy(), "location"])
    assert unmatched <= {"unknown"} | DOCUMENTED_LOCATIONS, unmatched - {"unknown"} - DOCUMENTED_LOCATIONS
    # a matched site lies in the event's country
    country = dict(zip(sites["site"], sites["country"]))
    matched = site.notna().to_numpy()
    assert (events.loc[matched, "country"].to_numpy() == site[matched].map(country).to_numpy()).all()


def test_duplicates_point_at_earlier_rows_of_the_same_kind(events):
    dup = events[events["duplicate_of"] != ""]
    assert len(dup) == 15
    by_id = events.set_index("event_id")
    for r in dup.itertuples():
        earlier = by_id.loc[r.duplicate_of]
        assert earlier["date"] <= r.date and earlier["duplicate_of"] == ""
        assert earlier["target_type"] == r.target_type  # merging never moves an attack across series


def test_diplomatic_rows_and_attackers(events):
    diplomatic = events[events["target_type"] == "us_diplomatic"]
    assert len(diplomatic) == 29  # 3 in 2023-24, 26 in 2026
    assert set(diplomatic["location"]) == {"Victory Base", "US Embassy Baghdad", "US Consulate Erbil",
                                           "Baghdad Diplomatic Support Center"}
    # every 2026 Victory Base row is the State Department's BDSC on the complex (the military left in 2025)
    victory = events[(events["location"] == "Victory Base") & (events["date"] >= "2026-01-01")]
    assert len(victory) == 12 and (victory["target_type"] == "us_diplomatic").all()
    # a claimed attack is militia (or the state that claimed it)
    claimed = events[events["claimed_by"] != ""]
    assert (claimed["attacker"] == "militia").all()
    assert (events.loc[events["attacker"] == "iran_state", "date"] == pd.Timestamp("2026-02-28")).all()


def test_rows_per_period(events):
    periods = {"campaign": ("2023-10-17", "2024-02-04"), "2024 after the pause": ("2024-02-05", "2024-12-31"),
               "2025": ("2025-01-01", "2025-12-31"), "2026": ("2026-01-01", "2026-06-30")}
    rows = {k: int(events["date"].between(a, b).sum()) for k, (a, b) in periods.items()}
    assert rows == {"campaign": 184, "2024 after the pause": 35, "2025": 8, "2026": 43}
    assert not events["date"].between("2024-12-04", "2025-06-12").any()  # no attack found in that stretch


def test_sites_dates_are_sourced_and_exposure_falls_with_withdrawals(sites):
    for r in sites.itertuples():
        assert pd.isna(r.us_present_from) or r.from_source_url.startswith("http")
        assert pd.isna(r.us_present_to) or r.to_source_url.startswith("http")
    index = pd.date_range("2023-10-17", CHECKED_THROUGH, freq="D")
    military = exposure(sites, index, site_types=["us_military"])
    assert military.iloc[0] == 15 and military.iloc[-1] == 8
    assert military.loc["2026-01-17"] - military.loc["2026-01-18"] == 1  # Ain al-Asad handed over on 01-17
    assert (exposure(sites, index, site_types=["us_diplomatic"]) == 3).all()


def test_triggers_cover_the_new_period_with_us_posture(data_dir):
    triggers = load_triggers(data_dir / "triggers.csv")
    assert len(triggers) == 108 and (triggers["kind"] == "us_posture").sum() == 15
    assert triggers["date"].max() == pd.Timestamp("2026-06-18")


def test_excluded_reports_and_claims_are_sourced(data_dir, events):
    excluded = read_csv(data_dir / "excluded_reports.csv")
    assert all(r["source_url"] and r["reason"] for r in excluded)
    former = {r["former_event_id"] for r in excluded if r["former_event_id"]}
    assert former == {"E0058", "E0164"} and not former & set(events["event_id"])
    claims = read_csv(data_dir / "claims.csv")
    assert all(r["source_url"] for r in claims)
    assert {r["category"] for r in claims} == {"aggregate_claim", "militia_statement", "count",
                                               "out_of_scope_attack", "context"}
