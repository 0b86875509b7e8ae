"""Loaders of event, trigger and official-count files (issues #2 and #7).

Good files load into the documented frames; every bad file raises ForecastInputError whose message
names the file, the physical line and (where one is at fault) the column.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import daily_counts, load_events, load_triggers
from forecast.data import load_official_counts
from forecast.data.events import (
    ANNOTATION_COLUMNS,
    ATTACKERS,
    CONFIRMATIONS,
    DATE_PRECISIONS,
    PROJECT_COLUMNS,
    TARGET_TYPES,
    TRIGGER_KINDS,
    WEAPONS,
)
from forecast.errors import ForecastInputError

HEADER = ",".join(PROJECT_COLUMNS)
TRIGGER_HEADER = "date,name,kind,description,source_url"
OFFICIAL_HEADER = "date,cumulative_count,since,source_url"


def project_row(eid: str, date: str, *, country: str = "Iraq", weapon: str = "drone",
                confirmation: str = "us_official", url: str = "https://example.org/a",
                notes: str = "", killed: str = "", wounded: str = "") -> str:
    return ",".join([eid, date, country, "Ain al-Asad", weapon, "Islamic Resistance in Iraq", killed, wounded,
                     confirmation, url, notes])


def write(tmp_path: Path, text: str | bytes, name: str = "events.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def project_file(tmp_path: Path, *rows: str, name: str = "events.csv") -> Path:
    return write(tmp_path, "\n".join([HEADER, *rows]) + "\n", name)


def raises_at(call, path: Path, line: int, column: str | None = None) -> ForecastInputError:
    """Run ``call``; it must raise ForecastInputError naming ``path:line`` (and ``column``)."""
    with pytest.raises(ForecastInputError) as info:
        call()
    err, msg = info.value, str(info.value)
    assert f"{path}:{line}:" in msg, msg
    assert err.line == line and str(err.path) == str(path)
    if column is not None:
        assert f"column '{column}'" in msg, msg
        assert err.column == column
    assert "\n" not in msg  # one line on standard error
    return err


# --------------------------------------------------------------------------- the shipped data

def test_real_events_load(data_dir):
    events = load_events(data_dir / "events.csv")
    assert len(events) == 270  # 211 of Dec 2024, less E0058/E0164 (moved to excluded_reports.csv), plus 61
    assert events["event_id"].is_unique
    assert (events["source_url"].str.strip().str.len() > 0).all()
    assert events["source_url"].str.startswith("http").all()
    assert set(PROJECT_COLUMNS + ANNOTATION_COLUMNS) <= set(events.columns)
    assert events["date"].dtype.kind == "M"
    assert events["date"].is_monotonic_increasing
    assert (events["count"] == 1).all()
    assert set(events["weapon"]) <= set(WEAPONS)
    assert set(events["confirmation"]) <= set(CONFIRMATIONS)
    assert set(events["attacker"]) == set(ATTACKERS)
    assert set(events["target_type"]) == {"us_military", "us_diplomatic"}
    assert set(events["date_precision"]) == set(DATE_PRECISIONS)
    assert events.columns.is_unique
    assert events.attrs["format"] == "project" and events.attrs["path"].endswith("events.csv")
    assert events["date"].min() >= pd.Timestamp("2023-10-17")
    assert events["date"].max() <= pd.Timestamp("2026-06-30")  # the date the set is checked through
    # ids are stable: the original ids keep their rows, the two removed ones are retired, new rows follow
    ids = set(events["event_id"])
    assert {"E0001", "E0211", "E0212"} <= ids and not {"E0058", "E0164"} & ids
    assert events.loc[events["event_id"] == "E0001", "date"].iloc[0] == pd.Timestamp("2023-10-18")


def test_real_triggers_load(data_dir):
    triggers = load_triggers(data_dir / "triggers.csv")
    assert len(triggers) >= 25
    assert set(triggers["kind"]) == set(TRIGGER_KINDS)  # every kind, us_posture too, is used
    assert (triggers["source_url"].str.len() > 0).all()
    assert triggers["date"].dtype.kind == "M" and triggers["date"].is_monotonic_increasing
    assert list(triggers.columns[:5]) == ["date", "name", "kind", "description", "source_url"]


def test_real_official_counts_load(data_dir):
    official = load_official_counts(data_dir / "official_counts.csv")
    assert len(official) == 30
    assert official["date"].dtype.kind == "M" and official["since"].dtype.kind == "M"
    assert official["cumulative_count"].dtype.kind == "i"
    assert (official["cumulative_count"] > 0).all()
    assert (official["since"] <= official["date"]).all()
    assert (official["source_url"].str.len() > 0).all()


# --------------------------------------------------------------------------- ACLED exports

def test_acled_fixture_default_filters(fixtures_dir):
    path = fixtures_dir / "acled_sample.csv"
    events = load_events(path, format="acled")
    # militia actor AND a US target (actor2 or notes); not Israel-targeted, unclaimed, protests,
    # US strikes on militias, or a spokesman's "us"
    assert list(events["event_id"]) == ["TST001", "TST002", "TST003", "TST006", "TST008", "TST009",
                                        "TST011", "TST012"]
    assert list(events["date"].dt.strftime("%Y-%m-%d")) == [
        "2023-10-17", "2023-10-18", "2023-10-19", "2023-10-22", "2024-01-28", "2024-02-04", "2024-02-10",
        "2024-03-03"]  # "17 October 2023" and ISO styles both parse
    assert (events["count"] == 1).all()
    # physical lines: TST006's notes hold a newline, so TST008 starts on line 10
    assert dict(zip(events["event_id"], events["line"]))["TST008"] == 10
    assert events.attrs["format"] == "acled"
    counts = daily_counts(events)
    assert counts.sum() == 8 and counts.index[0] == pd.Timestamp("2023-10-17")


def test_acled_country_and_regex_filters(fixtures_dir):
    path = fixtures_dir / "acled_sample.csv"
    three = load_events(path, format="acled", countries=["Iraq", "Syria", "Jordan"])
    assert len(three) == 7 and "Kuwait" not in set(three["country"])
    jordan = load_events(path, format="acled", countries=["jordan"])  # case-insensitive
    assert list(jordan["event_id"]) == ["TST008"]
    nujaba = load_events(path, format="acled", acled_actor="Nujaba")
    assert list(nujaba["event_id"]) == ["TST009"]
    israel = load_events(path, format="acled", acled_target="Israel")
    assert list(israel["event_id"]) == ["TST004"]
    # the US as actor1 against a militia (a US strike) matches only when the actor regex says so
    strikes = load_events(path, format="acled", acled_actor="Military Forces of the United States",
                          acled_target="Kataib Hezbollah")
    assert list(strikes["event_id"]) == ["TST010"]


def test_acled_nothing_left_after_filtering(fixtures_dir):
    path = fixtures_dir / "acled_sample.csv"
    raises_at(lambda: load_events(path, format="acled", countries=["Lebanon"]), path, 2)


def test_acled_bad_date_and_duplicate_id(tmp_path, fixtures_dir):
    lines = (fixtures_dir / "acled_sample.csv").read_text(encoding="utf-8").splitlines()
    bad = lines[:4] + [lines[3].replace("19 October 2023", "31 February 2024").replace("TST003", "TST099")]
    path = write(tmp_path, "\n".join(bad) + "\n", "acled.csv")
    raises_at(lambda: load_events(path, format="acled"), path, 5, "event_date")
    dup = lines[:4] + [lines[2]]
    path = write(tmp_path, "\n".join(dup) + "\n", "acled_dup.csv")
    err = raises_at(lambda: load_events(path, format="acled"), path, 5, "event_id_cnty")
    assert "first on line 3" in str(err)


def test_acled_missing_column(tmp_path):
    path = write(tmp_path, "event_id_cnty,event_date,actor1\nX1,2024-01-01,Islamic Resistance in Iraq\n")
    raises_at(lambda: load_events(path, format="acled"), path, 1, "country")


# --------------------------------------------------------------------------- generic CSVs

def test_generic_without_count_column_counts_rows(tmp_path):
    path = write(tmp_path, "date,place\n2024-01-03,a\n2024-01-01,b\n2024-01-03,c\n2024-01-03,d\n")
    events = load_events(path, format="generic")
    assert list(events["count"]) == [1, 1, 1, 1]
    counts = daily_counts(events)
    assert counts.to_dict() == {pd.Timestamp("2024-01-01"): 1, pd.Timestamp("2024-01-02"): 0,
                                pd.Timestamp("2024-01-03"): 3}


def test_generic_with_count_column_sums_repeated_dates(tmp_path):
    path = write(tmp_path, "day,n,country\n2024-01-02,2,Iraq\n2024-01-01,0,Syria\n2024-01-02,3,Iraq\n"
                           "2024-01-04,1.0,Iraq\n")
    events = load_events(path, format="generic", date_column="day", count_column="n")
    assert events["date"].is_monotonic_increasing
    assert list(events["line"]) == [3, 2, 4, 5]  # sorted by date, lines kept
    assert list(events["country"]) == ["Syria", "Iraq", "Iraq", "Iraq"]
    counts = daily_counts(events)
    assert list(counts) == [0, 5, 0, 1]
    assert counts.dtype == np.int64


def test_generic_missing_count_column(tmp_path):
    path = write(tmp_path, "date,number\n2024-01-01,1\n")
    raises_at(lambda: load_events(path, format="generic", count_column="count"), path, 1, "count")


def test_unknown_format_names_the_config_key(tmp_path):
    path = write(tmp_path, "date\n2024-01-01\n")
    with pytest.raises(ForecastInputError, match=r"data\.format.*project, acled, generic"):
        load_events(path, format="excel")


# --------------------------------------------------------------------------- bad project files

def test_missing_column(tmp_path):
    header = HEADER.replace(",weapon", "")
    path = write(tmp_path, header + "\nE1,2024-01-01,Iraq,x,y,,,us_official,https://a,\n")
    raises_at(lambda: load_events(path), path, 1, "weapon")


@pytest.mark.parametrize("date", ["yesterday", "2024-13-01", "03/04/2024", "2024-1-5",
                                  "2024-01-05T00:00+03:00", "2024-02-30", "2023-02-29", ""])
def test_bad_dates(tmp_path, date):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02"),
                        project_row("E3", date))
    err = raises_at(lambda: load_events(path), path, 4, "date")
    assert "YYYY-MM-DD" in str(err)


def test_leap_day_is_a_valid_date(tmp_path):
    path = project_file(tmp_path, project_row("E1", "2024-02-29"))
    assert load_events(path)["date"].iloc[0] == pd.Timestamp("2024-02-29")


@pytest.mark.parametrize("value, word", [("-1", "negative"), ("1.5", "fractional"), ("two", "not a number"),
                                         ("nan", "finite"), ("1e308", "large")])
def test_bad_casualty_counts(tmp_path, value, word):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02", wounded=value))
    err = raises_at(lambda: load_events(path), path, 3, "us_wounded")
    assert word in str(err)


@pytest.mark.parametrize("value, word", [("-2", "negative"), ("0.5", "fractional"), ("", "empty"),
                                         ("inf", "finite"), ("2e6", "large")])
def test_bad_generic_counts(tmp_path, value, word):
    path = write(tmp_path, f"date,count\n2024-01-01,1\n2024-01-02,{value}\n")
    err = raises_at(lambda: load_events(path, format="generic", count_column="count"), path, 3, "count")
    assert word in str(err)


def test_duplicate_event_id_names_both_lines(tmp_path):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02"),
                        project_row("E1", "2024-01-03"))
    err = raises_at(lambda: load_events(path), path, 4, "event_id")
    assert "first on line 2" in str(err)


def test_empty_event_id(tmp_path):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("", "2024-01-02"))
    raises_at(lambda: load_events(path), path, 3, "event_id")


def test_event_outside_the_observation_window(tmp_path):
    path = project_file(tmp_path, project_row("E1", "2024-01-05"), project_row("E2", "2024-01-03"),
                        project_row("E3", "2024-02-10"), project_row("E4", "2024-01-20"))
    events = load_events(path)
    err = raises_at(lambda: daily_counts(events, start="2024-01-01", end="2024-01-31"), path, 4, "date")
    assert "2024-02-10" in str(err)
    err = raises_at(lambda: daily_counts(events, start="2024-01-04", end="2024-03-01"), path, 3, "date")
    assert "2024-01-03" in str(err)
    assert len(daily_counts(events, start="2024-01-01", end="2024-03-01")) == 61


@pytest.mark.parametrize("text", ["", "\n\n", "   \r\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    err = raises_at(lambda: load_events(path), path, 1)
    assert "empty" in str(err) and "event_id" in str(err)  # names the expected columns


@pytest.mark.parametrize("fmt, header", [("project", HEADER), ("generic", "date,count"),
                                         ("acled", "event_id_cnty,event_date,actor1,actor2,country")])
def test_header_only_file(tmp_path, fmt, header):
    path = write(tmp_path, header + "\n")
    err = raises_at(lambda: load_events(path, format=fmt), path, 2)
    assert "no" in str(err)


def test_latin1_bytes_name_the_line(tmp_path):
    text = "\n".join([HEADER, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02", notes="Qa\u00efm")])
    path = write(tmp_path, text.encode("latin-1"))
    err = raises_at(lambda: load_events(path), path, 3)
    assert "UTF-8" in str(err)


def test_latin1_line_counts_cr_line_endings(tmp_path):
    text = "\r".join(["date", "2024-01-01", "2024-01-02 caf\u00e9"]) + "\r"
    path = write(tmp_path, text.encode("latin-1"))
    raises_at(lambda: load_events(path, format="generic"), path, 3)


def test_utf8_bom_loads(tmp_path):
    text = "\n".join([HEADER, project_row("E1", "2024-01-01", notes="Qa\u00efm")]) + "\n"
    path = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    events = load_events(path)
    assert list(events["event_id"]) == ["E1"] and events["notes"].iloc[0] == "Qa\u00efm"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom_loads(tmp_path, encoding):
    text = "\r\n".join([HEADER, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02", notes="\u0639")])
    raw = text.encode(encoding)
    if encoding == "utf-16-le":
        raw = b"\xff\xfe" + raw
    elif encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    path = write(tmp_path, raw)
    events = load_events(path)
    assert list(events["event_id"]) == ["E1", "E2"] and events["notes"].iloc[1] == "\u0639"


def test_utf16_bad_row_names_the_line(tmp_path):
    text = "\n".join([HEADER, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-32")]) + "\n"
    path = write(tmp_path, text.encode("utf-16"))
    raises_at(lambda: load_events(path), path, 3, "date")


def test_truncated_utf16_names_the_line(tmp_path):
    text = "\n".join([HEADER, project_row("E1", "2024-01-01")]) + "\n"
    path = write(tmp_path, text.encode("utf-16") + b"\x41")  # odd byte count
    raises_at(lambda: load_events(path), path, 3)


def test_utf16_without_bom_is_refused_with_a_line(tmp_path):
    path = write(tmp_path, "date\n2024-01-01\n".encode("utf-16-le"))
    err = raises_at(lambda: load_events(path, format="generic"), path, 1)
    assert "NUL" in str(err)


def test_quoted_newline_keeps_physical_lines(tmp_path):
    rows = [project_row("E1", "2024-01-01", notes='"first line\nsecond line\nthird line"'),
            project_row("E2", "2024-01-02", notes='"a, b"'),
            project_row("E3", "2024-01-03", weapon="catapult")]
    path = project_file(tmp_path, *rows)
    # header 1, E1 spans 2-4, E2 on 5, E3 on 6
    raises_at(lambda: load_events(path), path, 6, "weapon")
    ok = project_file(tmp_path, *rows[:2], name="ok.csv")
    events = load_events(ok)
    assert list(events["line"]) == [2, 5]
    assert events["notes"].iloc[0] == "first line\nsecond line\nthird line"


def test_crlf_and_quoted_crlf_keep_physical_lines(tmp_path):
    rows = [project_row("E1", "2024-01-01", notes='"one\r\ntwo"'), project_row("E2", "2024-01-02"),
            project_row("E3", "2024-01-03", confirmation="rumour")]
    path = write(tmp_path, "\r\n".join([HEADER, *rows]) + "\r\n")
    raises_at(lambda: load_events(path), path, 5, "confirmation")


def test_blank_lines_are_skipped_and_counted(tmp_path):
    path = write(tmp_path, "\n\ndate,count\n\n2024-01-01,1\n\n2024-01-0x,1\n")
    raises_at(lambda: load_events(path, format="generic", count_column="count"), path, 7, "date")
    ok = write(tmp_path, "\n\ndate,count\n\n2024-01-01,1\n", "ok.csv")
    events = load_events(ok, format="generic", count_column="count")
    assert list(events["line"]) == [5]


def test_missing_column_after_blank_lines_names_the_header_line(tmp_path):
    path = write(tmp_path, "\n\nday,count\n2024-01-01,1\n")
    raises_at(lambda: load_events(path, format="generic", count_column="count"), path, 3, "date")


def test_too_many_fields(tmp_path):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02") + ",extra")
    err = raises_at(lambda: load_events(path), path, 3)
    assert "12 fields" in str(err) and "11" in str(err)


def test_too_few_fields_are_blank(tmp_path):
    # a short row pads with blanks, so the first blank field that must hold a value is named
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), "E2,2024-01-02,Iraq,x,drone")
    raises_at(lambda: load_events(path), path, 3, "source_url")
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02")[:-1],
                        name="short_ok.csv")  # trailing empty notes left out
    assert list(load_events(path)["notes"]) == ["", ""]


def test_unbalanced_quote(tmp_path):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), project_row("E2", "2024-01-02", notes='"a"b'))
    raises_at(lambda: load_events(path), path, 3)


@pytest.mark.parametrize("column, row", [
    ("weapon", project_row("E2", "2024-01-02", weapon="Drone ")),  # stripped, but case matters
    ("weapon", project_row("E2", "2024-01-02", weapon="ballista")),
    ("confirmation", project_row("E2", "2024-01-02", confirmation="rumour")),
    ("source_url", project_row("E2", "2024-01-02", url="")),
    ("source_url", project_row("E2", "2024-01-02", url="   ")),
])
def test_unknown_choices_and_missing_source(tmp_path, column, row):
    path = project_file(tmp_path, project_row("E1", "2024-01-01"), row)
    err = raises_at(lambda: load_events(path), path, 3, column)
    if column != "source_url":
        assert "use one of" in str(err).lower()


# --------------------------------------------------------------------------- annotation columns (issue #13)

ANN_HEADER = HEADER + ",attacker,target_type,date_precision,duplicate_of"


def annotated_row(eid: str, date: str, *, attacker: str = "militia", target: str = "us_military",
                  precision: str = "exact", duplicate_of: str = "") -> str:
    return ",".join([project_row(eid, date), attacker, target, precision, duplicate_of])


def annotated_file(tmp_path: Path, *rows: str, name: str = "events.csv") -> Path:
    return write(tmp_path, "\n".join([ANN_HEADER, *rows]) + "\n", name)


def test_annotation_vocabularies():
    assert ANNOTATION_COLUMNS == ["attacker", "target_type", "date_precision", "duplicate_of"]
    assert ATTACKERS == ("militia", "iran_state", "unknown")
    assert TARGET_TYPES == ("us_military", "us_diplomatic", "other")
    assert DATE_PRECISIONS == ("exact", "approximate", "inferred")


def test_annotated_file_loads(tmp_path):
    path = annotated_file(tmp_path, annotated_row("E1", "2024-01-01"),
                          annotated_row("E2", "2024-01-02", attacker="iran_state", target="us_diplomatic",
                                        precision="approximate", duplicate_of="E1"),
                          annotated_row("E3", "2024-01-02", attacker="unknown", target="other", precision="inferred",
                                        duplicate_of="E2"))  # a chain: E3 -> E2 -> E1
    events = load_events(path)
    assert list(events.columns[:15]) == PROJECT_COLUMNS + ANNOTATION_COLUMNS
    assert events["duplicate_of"].tolist() == ["", "E1", "E2"]
    assert events["attacker"].tolist() == ["militia", "iran_state", "unknown"]


@pytest.mark.parametrize("column, row", [
    ("attacker", annotated_row("E2", "2024-01-02", attacker="hezbollah")),
    ("attacker", annotated_row("E2", "2024-01-02", attacker="")),  # blank is not "unknown"
    ("attacker", annotated_row("E2", "2024-01-02", attacker="Militia")),  # case matters
    ("target_type", annotated_row("E2", "2024-01-02", target="military")),
    ("date_precision", annotated_row("E2", "2024-01-02", precision="circa")),
])
def test_bad_annotation_values_name_line_and_column(tmp_path, column, row):
    path = annotated_file(tmp_path, annotated_row("E1", "2024-01-01"), row, annotated_row("E3", "2024-01-03"))
    err = raises_at(lambda: load_events(path), path, 3, column)
    assert "use one of" in str(err).lower()


@pytest.mark.parametrize("ref, word", [("E9", "not in the file"), ("E3", "later line (4)"), ("E2", "names itself"),
                                       ("e1", "not in the file")])
def test_duplicate_of_must_name_an_earlier_event(tmp_path, ref, word):
    path = annotated_file(tmp_path, annotated_row("E1", "2024-01-01"),
                          annotated_row("E2", "2024-01-02", duplicate_of=ref), annotated_row("E3", "2024-01-03"))
    err = raises_at(lambda: load_events(path), path, 3, "duplicate_of")
    assert word in str(err)


def test_duplicate_of_may_not_point_at_a_later_date(tmp_path):
    # E1 is on an earlier line but dated after E2: the earlier report must not be the later event
    path = annotated_file(tmp_path, annotated_row("E1", "2024-01-05"),
                          annotated_row("E2", "2024-01-02", duplicate_of="E1"))
    err = raises_at(lambda: load_events(path), path, 3, "duplicate_of")
    assert "2024-01-05" in str(err)


def test_files_without_annotation_columns_still_load(tmp_path):
    # project files from before issue #13 (and partial headers) load; missing columns are simply absent
    events = load_events(project_file(tmp_path, project_row("E1", "2024-01-01")))
    assert not set(ANNOTATION_COLUMNS) & set(events.columns)
    path = write(tmp_path, HEADER + ",target_type\n" + project_row("E1", "2024-01-01") + ",us_military\n"
                 + project_row("E2", "2024-01-02") + ",embassy\n", "partial.csv")
    raises_at(lambda: load_events(path), path, 3, "target_type")


def test_duplicate_column_names(tmp_path):
    path = write(tmp_path, "date,count,count\n2024-01-01,1,2\n")
    raises_at(lambda: load_events(path, format="generic", count_column="count"), path, 1, "count")


def test_extra_columns_are_kept_without_duplicate_labels(tmp_path):
    header = HEADER + ",count,line,,,extra_info"
    row = project_row("E1", "2024-01-01") + ",5,99,,,hello"
    events = load_events(write(tmp_path, header + "\n" + row + "\n"))
    assert events.columns.is_unique
    assert events["extra_info"].iloc[0] == "hello"
    assert events["count"].iloc[0] == 1 and events["line"].iloc[0] == 2  # derived columns win
    assert daily_counts(events).tolist() == [1]


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(ForecastInputError, match="nope.csv.*not found"):
        load_events(path)
    with pytest.raises(ForecastInputError, match="folder"):
        load_events(tmp_path)


# --------------------------------------------------------------------------- triggers, official counts

def trigger_row(date: str, kind: str = "us_strike", url: str = "https://example.org/t") -> str:
    return f"{date},Strike,{kind},\"A strike, described\",{url}"


def test_triggers_bad_kind_missing_source_and_date(tmp_path):
    ok = trigger_row("2024-01-01")
    path = write(tmp_path, "\n".join([TRIGGER_HEADER, ok, trigger_row("2024-01-02", "ceasefire")]) + "\n")
    err = raises_at(lambda: load_triggers(path), path, 3, "kind")
    assert "us_strike" in str(err)
    path = write(tmp_path, "\n".join([TRIGGER_HEADER, ok, trigger_row("2024-01-02", url="")]) + "\n", "t2.csv")
    raises_at(lambda: load_triggers(path), path, 3, "source_url")
    path = write(tmp_path, "\n".join([TRIGGER_HEADER, ok, trigger_row("2024-02-30")]) + "\n", "t3.csv")
    raises_at(lambda: load_triggers(path), path, 3, "date")
    path = write(tmp_path, "date,name,description,source_url\n2024-01-01,a,b,c\n", "t4.csv")
    raises_at(lambda: load_triggers(path), path, 1, "kind")


def test_triggers_us_posture_kind_loads(tmp_path):
    assert "us_posture" in TRIGGER_KINDS
    path = write(tmp_path, "\n".join([TRIGGER_HEADER, trigger_row("2025-09-15", "us_posture"),
                                      trigger_row("2025-06-22")]) + "\n", "t.csv")
    assert list(load_triggers(path)["kind"]) == ["us_strike", "us_posture"]


def test_triggers_sorted_with_extra_columns(tmp_path):
    path = write(tmp_path, TRIGGER_HEADER + ",note\n" + trigger_row("2024-01-05") + ",x\n"
                 + trigger_row("2024-01-01", "diplomatic") + ",y\n", "t.csv")
    triggers = load_triggers(path)
    assert list(triggers["kind"]) == ["diplomatic", "us_strike"]
    assert list(triggers["note"]) == ["y", "x"]


def test_official_counts_bad_values(tmp_path):
    ok = "2024-01-10,5,2023-10-17,https://example.org/o"
    for name, bad, column in [("neg.csv", "2024-01-11,-3,2023-10-17,https://x", "cumulative_count"),
                              ("frac.csv", "2024-01-11,3.5,2023-10-17,https://x", "cumulative_count"),
                              ("since.csv", "2024-01-11,7,17 Oct 2023,https://x", "since"),
                              ("date.csv", "2024-02-30,7,2023-10-17,https://x", "date")]:
        path = write(tmp_path, "\n".join([OFFICIAL_HEADER, ok, bad]) + "\n", name)
        raises_at(lambda: load_official_counts(path), path, 3, column)
