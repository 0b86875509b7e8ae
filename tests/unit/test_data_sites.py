"""Sites file, daily exposure and the data config wired through ``load_dataset`` (issue #13)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from forecast.data.events import SITE_COLUMNS, SITE_TYPES, load_sites
from forecast.data.exposure import exposure, resolve_sites, site_names
from forecast.errors import ForecastInputError

SITE_HEADER = "site,site_type,country,lat,lon,aliases,us_present_from,us_present_to,from_source_url,to_source_url,notes"


def site_row(site: str = "Ain al-Asad", *, site_type: str = "us_military", country: str = "Iraq", lat: str = "",
             lon: str = "", aliases: str = "", start: str = "", end: str = "", start_url: str = "",
             end_url: str = "", notes: str = "") -> str:
    start_url = start_url or ("https://example.org/from" if start else "")
    end_url = end_url or ("https://example.org/to" if end else "")
    return ",".join([site, site_type, country, lat, lon, aliases, start, end, start_url, end_url, notes])


def sites_file(tmp_path: Path, *rows: str, header: str = SITE_HEADER, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8", newline="")
    return path


def raises_at(call, path: Path, line: int, column: str | None = None) -> str:
    with pytest.raises(ForecastInputError) as info:
        call()
    msg = str(info.value)
    assert f"{path}:{line}:" in msg and "\n" not in msg, msg
    if column is not None:
        assert f"column '{column}'" in msg, msg
    return msg


# --------------------------------------------------------------------------- load_sites

def test_small_sites_fixture_loads(fixtures_dir):
    sites = load_sites(fixtures_dir / "sites_small.csv")
    assert list(sites.columns[:len(SITE_COLUMNS)]) == SITE_COLUMNS
    assert sites["site"].tolist() == ["Ain al-Asad", "US Embassy Baghdad", "al-Tanf", "Harir", "Harir"]
    assert sites["us_present_from"].dtype.kind == "M" and sites["us_present_to"].dtype.kind == "M"
    assert pd.isna(sites["us_present_from"].iloc[0]) and sites["us_present_to"].iloc[0] == pd.Timestamp("2025-01-03")
    assert sites["lat"].dtype.kind == "f" and sites["lat"].iloc[0] == pytest.approx(33.79)
    assert sites["line"].tolist() == [2, 3, 4, 5, 6]
    assert sites.attrs["format"] == "sites"
    assert set(sites["site_type"]) <= set(SITE_TYPES)


@pytest.mark.parametrize("row, column, word", [
    (site_row(site_type="airbase"), "site_type", "us_military"),
    (site_row(site=""), "site", "empty"),
    (site_row(country=""), "country", "empty"),
    (site_row(start="2024-02-30"), "us_present_from", "calendar date"),
    (site_row(end="20 Jan 2026"), "us_present_to", "calendar date"),
    (site_row(start="2024-01-01", start_url=" "), "from_source_url", "no source"),
    (",".join(["Ain al-Asad", "us_military", "Iraq", "", "", "", "", "2026-01-17", "", "", ""]), "to_source_url",
     "no source"),
    (site_row(start="2025-01-10", end="2025-01-01"), "us_present_to", "before"),
    (site_row(lat="95"), "lat", "outside"),
    (site_row(lon="east"), "lon", "not a number"),
])
def test_bad_site_rows_name_line_and_column(tmp_path, row, column, word):
    path = sites_file(tmp_path, site_row("Erbil Air Base"), row)
    msg = raises_at(lambda: load_sites(path), path, 3, column)
    assert word in msg


def test_site_stretches_must_not_overlap_and_names_are_unique(tmp_path):
    ok = sites_file(tmp_path, site_row("Harir", end="2023-10-20"), site_row("Harir", start="2025-10-11"),
                    name="ok.csv")
    assert load_sites(ok)["site"].tolist() == ["Harir", "Harir"]
    for rows in ([site_row("Harir", end="2024-01-01"), site_row("Harir", start="2024-01-01")],  # share a day
                 [site_row("Harir"), site_row("Harir", start="2025-10-11")]):  # open-ended first stretch
        path = sites_file(tmp_path, *rows, name="overlap.csv")
        assert "overlaps the one on line 2" in raises_at(lambda: load_sites(path), path, 3, "us_present_from")
    path = sites_file(tmp_path, site_row("Victory Base", aliases="BDSC"),
                      site_row("Baghdad Diplomatic Support Center", site_type="us_diplomatic", aliases="bdsc"),
                      name="alias.csv")
    assert "already names site 'Victory Base' (line 2)" in raises_at(lambda: load_sites(path), path, 3, "aliases")


def test_sites_missing_column_and_header_only(tmp_path):
    path = sites_file(tmp_path, header=SITE_HEADER.replace("site_type,", ""))
    raises_at(lambda: load_sites(path), path, 1, "site_type")
    empty = load_sites(sites_file(tmp_path, name="empty.csv"))
    assert empty.empty and exposure(empty, pd.date_range("2025-01-01", periods=3)).tolist() == [0, 0, 0]


# --------------------------------------------------------------------------- exposure

def test_exposure_counts_sites_present_each_day(fixtures_dir):
    sites = load_sites(fixtures_dir / "sites_small.csv")
    index = pd.date_range("2024-12-31", "2025-01-06", freq="D", name="date")
    #                     12-31 01-01 01-02 01-03 01-04 01-05 01-06
    ain = [1, 1, 1, 1, 0, 0, 0]  # left on 01-03: counts that day, not after
    embassy = [1] * 7  # no dates: present throughout
    tanf = [0, 0, 1, 1, 1, 1, 1]  # arrived 01-02
    harir = [1, 1, 0, 0, 1, 0, 0]  # left 01-01, back for 01-04 only
    total = exposure(sites, index)
    assert total.tolist() == [sum(x) for x in zip(ain, embassy, tanf, harir)]
    assert total.index.equals(index) and total.name == "exposure" and total.dtype == "int64"
    military = exposure(sites, index, site_types=["us_military"])
    assert military.tolist() == [sum(x) for x in zip(ain, tanf, harir)]
    assert exposure(sites, index, site_types=["us_diplomatic"]).tolist() == embassy
    assert exposure(None, index).eq(0).all()


def test_resolve_sites_matches_names_and_aliases(fixtures_dir):
    sites = load_sites(fixtures_dir / "sites_small.csv")
    names = site_names(sites)
    assert names["al asad airbase"] == "Ain al-Asad" and names["bashur airfield"] == "Harir"
    resolved = resolve_sites(["Ain al-Asad", "at tanf", " Embassy ", "unknown", "Erbil city"], sites)
    assert resolved.tolist() == ["Ain al-Asad", "al-Tanf", "US Embassy Baghdad", None, None]


# --------------------------------------------------------------------------- load_dataset

def data_cfg(events: Path, **overrides) -> OmegaConf:
    from forecast.config import DataConfig

    cfg = OmegaConf.structured(DataConfig(events=str(events), triggers=None, official_counts=None, sites=None))
    return OmegaConf.merge(cfg, overrides)


def test_load_dataset_applies_the_default_series_and_sites(fixtures_dir):
    from forecast.pipeline import load_dataset

    events = fixtures_dir / "events_annotated.csv"
    data = load_dataset(data_cfg(events, sites=str(fixtures_dir / "sites_small.csv")))
    # defaults: militia or unknown attackers, military targets, duplicates merged
    assert data.events["event_id"].tolist() == ["A01", "A05"]
    assert data.counts.index[0] == pd.Timestamp("2025-01-01") and data.counts.index[-1] == pd.Timestamp("2025-01-05")
    assert data.counts.tolist() == [1, 0, 1, 0, 0]  # the window is fixed on the whole file
    assert data.sites is not None and len(data.sites) == 5
    assert data.exposure.index.equals(data.counts.index)
    assert data.exposure.tolist() == [2, 2, 2, 2, 1]  # military sites only (data.target_type)
    assert "sites" in data.files

    keep = load_dataset(data_cfg(events, duplicates="keep", target_type=["us_military", "us_diplomatic"],
                                 attacker=None, sites=str(fixtures_dir / "sites_small.csv")))
    assert keep.events["event_id"].tolist() == ["A01", "A02", "A03", "A04", "A05", "A07"]
    assert keep.exposure.tolist() == [3, 3, 3, 3, 2]  # the embassy counts too

    none = load_dataset(data_cfg(events))
    assert none.sites is None and none.exposure is None and "sites" not in none.files


def test_load_dataset_filters_are_no_ops_on_acled(fixtures_dir):
    from forecast.pipeline import load_dataset

    data = load_dataset(data_cfg(fixtures_dir / "acled_sample.csv", format="acled"))
    assert len(data.events) == 8 and int(data.counts.sum()) == 8  # as before the new filters


@pytest.mark.parametrize("override, key", [({"attacker": ["milita"]}, "data.attacker"),
                                           ({"duplicates": "dedupe"}, "data.duplicates")])
def test_load_dataset_bad_filter_values_name_the_key(fixtures_dir, override, key):
    from forecast.pipeline import load_dataset

    with pytest.raises(ForecastInputError, match=key.replace(".", r"\.")):
        load_dataset(data_cfg(fixtures_dir / "events_annotated.csv", **override))
