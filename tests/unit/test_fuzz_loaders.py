"""Fuzzing the loaders with malformed and adversarial CSV bytes (hypothesis).

Property, for every loader: it returns a DataFrame, or raises ForecastInputError whose message holds
the file's path followed by ``:<line>``. Nothing else may escape (no KeyError, UnicodeError, csv.Error,
pandas errors ...). Run more examples locally with ``FORECAST_FUZZ_EXAMPLES=2000 pytest -k fuzz``.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forecast import daily_counts, load_events, load_triggers
from forecast.data import load_official_counts
from forecast.data.events import CONFIRMATIONS, PROJECT_COLUMNS, TRIGGER_KINDS, WEAPONS
from forecast.errors import ForecastInputError

FUZZ = settings(max_examples=int(os.environ.get("FORECAST_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
PER_EXAMPLE_LIMIT_S = 20.0  # generous: catches hangs (catastrophic regexes), not slowness

ACLED_COLUMNS = ["event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
                 "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
                 "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3",
                 "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes",
                 "fatalities", "tags", "timestamp"]

# ----------------------------------------------------------------------------- field values

def mostly(valid, bad):
    """Valid values about three times in four, so that some files load and later rows get checked."""
    return st.one_of(valid, valid, valid, bad)


ISO_DATES = st.dates(min_value=pd.Timestamp("2023-01-01").date(),
                     max_value=pd.Timestamp("2025-12-31").date()).map(lambda d: d.isoformat())
BAD_DATES = st.sampled_from([
    "03/04/2024", "2024-1-5", "2024-01-05T00:00+03:00", "2024-01-05 00:00", "2024-02-30", "2023-02-29",
    "2024-13-01", "2024-00-10", "0000-01-01", "0001-01-01", "9999-12-31", "20240105", "5 Jan 2024",
    "17 October 2023", "31 February 2024", "October 17, 2023", "", " ", "NaT", "nan", "None",
    "\u0662\u0660\u0662\u0664-01-05", "2024-01-05\x00", "\uff12\uff10\uff12\uff14-01-05", "1e308", "-2024-01-01",
    "+2024-01-01", "2024-W01-1", "2024-001"])
SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=20)
TEXT = st.one_of(  # NUL and other control characters are put in at file level (see csv_text)
    SAFE_TEXT, SAFE_TEXT, SAFE_TEXT,
    st.sampled_from(['a "quoted" word', "two\nlines", "comma, inside", "\r\n", '"', '""', "\ufeff",
                     "\u2028", "x" * 200, "Islamic Resistance in Iraq", "Military Forces of the United States (2021-)",
                     "U.S. forces", "us", "Iraq", "Syria", "https://example.org/a"]))
DATES = mostly(ISO_DATES, st.one_of(BAD_DATES, st.dates().map(lambda d: d.strftime("%d %B %Y")),
                                    st.text(max_size=12)))
COUNTS = mostly(
    st.one_of(st.integers(0, 20).map(str), st.just("")),
    st.one_of(
        st.sampled_from(["-1", "-0", "1.5", "0.5", "2.0", "1e308", "1e309", "-1e308", "nan", "inf", "-inf", "",
                         " 3 ", "1_000", "0x10", "\u0663", "1,5", "3 attacks", "1e6", "1000001",
                         "99999999999999999999", "1e-300", "+4", "True"]),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-10**30, 10**30).map(str),
        st.text(max_size=6)))


def values_for(column: str):
    if column in ("date", "since", "event_date"):
        if column == "event_date":  # ACLED exports write "17 October 2023"
            return st.one_of(DATES, st.dates(min_value=pd.Timestamp("2023-01-01").date(),
                                             max_value=pd.Timestamp("2025-12-31").date())
                             .map(lambda d: d.strftime("%d %B %Y")))
        return DATES
    if column in ("count", "cumulative_count", "us_killed", "us_wounded", "fatalities"):
        return COUNTS
    if column == "weapon":
        return mostly(st.sampled_from(WEAPONS), TEXT)
    if column == "confirmation":
        return mostly(st.sampled_from(CONFIRMATIONS), TEXT)
    if column == "kind":
        return mostly(st.sampled_from(TRIGGER_KINDS), TEXT)
    if column == "source_url":
        return mostly(st.just("https://example.org/x"), st.one_of(st.just(""), TEXT))
    if column in ("event_id", "event_id_cnty"):
        return mostly(st.integers(0, 10**6).map(lambda i: f"E{i}"), st.one_of(st.sampled_from(["E1", "E1 ", ""]),
                                                                            st.text(max_size=4)))
    if column == "actor1":
        return mostly(st.sampled_from(["Islamic Resistance in Iraq", "Kataib Hezbollah"]), TEXT)
    if column == "actor2":
        return mostly(st.just("Military Forces of the United States (2021-)"), TEXT)
    if column == "country":
        return st.one_of(st.sampled_from(["Iraq", "Syria", "Jordan", "iraq"]), TEXT)
    return TEXT


# ----------------------------------------------------------------------------- whole files

@st.composite
def csv_text(draw, columns: list[str]) -> str:
    """A CSV file that is mostly right, with adversarial headers, rows and quoting."""
    header = list(columns)
    mutation = draw(st.sampled_from(["none"] * 8 + ["drop", "rename", "extra", "duplicate", "shuffle",
                                     "case", "spaces", "empty_name"]))
    if mutation == "drop" and header:
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif mutation == "rename" and header:
        i = draw(st.integers(0, len(header) - 1))
        header[i] = header[i] + draw(st.sampled_from(["_", "s", "\u200b", " x"]))
    elif mutation == "extra":
        header.append(draw(st.sampled_from(["extra", "count", "line", "", "notes2", "date2"])))
    elif mutation == "duplicate" and header:
        header.append(draw(st.sampled_from(header)))
    elif mutation == "shuffle":
        header = draw(st.permutations(header))
    elif mutation == "case":
        header = [h.upper() for h in header]
    elif mutation == "spaces":
        header = [f" {h} " for h in header]
    elif mutation == "empty_name":
        header.insert(draw(st.integers(0, len(header))), "")

    n_rows = draw(st.integers(0, 6))
    rows = []
    for _ in range(n_rows):
        row = [draw(values_for(c)) for c in header]
        shape = draw(st.sampled_from(["ok"] * 8 + ["short", "long"]))
        if shape == "short" and row:
            row = row[: draw(st.integers(0, len(row) - 1))]
        elif shape == "long":
            row = row + draw(st.lists(TEXT, min_size=1, max_size=3))
        rows.append(row)
    if rows and draw(st.booleans()):  # duplicated rows (same ids, same dates)
        rows += draw(st.lists(st.sampled_from(rows), max_size=3))
    if rows and draw(st.booleans()):  # unsorted
        rows = draw(st.permutations(rows))

    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    style = draw(st.sampled_from(["csv", "csv", "all", "raw"]))
    if style == "raw":  # no quoting at all: commas, quotes and newlines in values break the structure
        lines = [",".join(header)] + [",".join(r) for r in rows]
        text = terminator.join(lines)
    else:
        buf = io.StringIO(newline="")
        quoting = csv.QUOTE_ALL if style == "all" else csv.QUOTE_MINIMAL
        writer = csv.writer(buf, lineterminator=terminator, quoting=quoting)
        writer.writerow(header)
        writer.writerows(rows)
        text = buf.getvalue()
    if draw(st.booleans()):
        text += terminator * draw(st.integers(1, 3))  # trailing blank lines
    if draw(st.integers(0, 9)) == 0:
        text = terminator * draw(st.integers(1, 3)) + text  # leading blank lines
    if draw(st.integers(0, 9)) == 0 and text:  # a stray quote or control character somewhere
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.one_of(st.sampled_from(['"', "\x00", "\x1a", "\x0b", "\x85", "\u2028"]),
                                         st.text(max_size=3))) + text[i:]
    return text


ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le+bom", "utf-16-be+bom", "utf-16-le",
             "latin-1", "cp1252", "utf-32", "utf-8+double-bom"]


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le+bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le", errors="surrogatepass")
    if encoding == "utf-16-be+bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be", errors="surrogatepass")
    if encoding == "utf-8+double-bom":
        return codecs.BOM_UTF8 * 2 + text.encode("utf-8", errors="surrogatepass")
    return text.encode(encoding, errors="replace" if encoding in ("latin-1", "cp1252") else "surrogatepass")


@st.composite
def csv_bytes(draw, columns: list[str]) -> bytes:
    kind = draw(st.sampled_from(["file"] * 8 + ["random", "empty", "header_only", "truncated"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"\r\n\r\n", b"   ", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
                                     b"\x00", b",,,\n"]))
    text = ",".join(columns) + "\n" if kind == "header_only" else draw(csv_text(columns))
    raw = encode(text, draw(st.sampled_from(ENCODINGS)))
    if kind == "truncated" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    if draw(st.integers(0, 7)) == 0 and raw:  # corrupt a few bytes
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(raw)))
            raw = raw[:i] + draw(st.binary(min_size=1, max_size=3)) + raw[i:]
    return raw


def valid_value(column: str, i: int):
    """A value the loaders accept in ``column`` of row ``i``."""
    if column == "date":
        return ISO_DATES
    if column == "since":  # before every ISO_DATES date: a count runs from 'since' up to 'date'
        return st.dates(min_value=pd.Timestamp("2000-01-01").date(),
                        max_value=pd.Timestamp("2022-12-31").date()).map(lambda d: d.isoformat())
    if column == "event_date":
        return st.one_of(ISO_DATES, st.dates(min_value=pd.Timestamp("2023-01-01").date(),
                                             max_value=pd.Timestamp("2025-12-31").date())
                         .map(lambda d: d.strftime("%d %B %Y")))
    if column in ("count", "cumulative_count", "fatalities"):
        return st.integers(0, 30).map(str)
    if column in ("us_killed", "us_wounded"):
        return st.one_of(st.just(""), st.integers(0, 30).map(str))
    if column == "weapon":
        return st.sampled_from(WEAPONS)
    if column == "confirmation":
        return st.sampled_from(CONFIRMATIONS)
    if column == "kind":
        return st.sampled_from(TRIGGER_KINDS)
    if column == "source_url":
        return st.just(f"https://example.org/{i}")
    if column in ("event_id", "event_id_cnty"):
        return st.just(f"E{i}")
    if column == "actor1":
        return st.just("Islamic Resistance in Iraq")
    if column == "actor2":
        return st.just("Military Forces of the United States (2021-)")
    if column == "country":
        return st.sampled_from(["Iraq", "Syria", "Jordan"])
    return st.one_of(SAFE_TEXT, st.sampled_from(["two\nlines", "three\r\nline\nnote", 'a "quoted", word', ""]))


@st.composite
def clean_file(draw, columns: list[str]) -> tuple[str, list[int], bool]:
    """A well-formed file (quoted newlines allowed) with at most one bad cell; returns the text, the
    physical line on which each record starts and whether a cell was replaced."""
    n_rows = draw(st.integers(1, 8))
    rows = [[draw(valid_value(c, i)) for c in columns] for i in range(n_rows)]
    replaced = draw(st.booleans())
    if replaced:
        r, c = draw(st.integers(0, n_rows - 1)), draw(st.integers(0, len(columns) - 1))
        rows[r][c] = draw(values_for(columns[c]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=terminator).writerow(columns)
    starts, line = [], 2
    for row in rows:
        piece = io.StringIO(newline="")
        csv.writer(piece, lineterminator=terminator).writerow(row)
        text = piece.getvalue()
        starts.append(line)
        line += len(re.findall(r"\r\n|\r|\n", text))
        buf.write(text)
    return buf.getvalue(), starts, replaced


# ----------------------------------------------------------------------------- the property

@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory) -> Path:
    # a space and a non-ASCII letter in the path: messages must still hold it verbatim
    return tmp_path_factory.mktemp("fuzz loaders") / "événements.csv"


def check(load, path: Path, raw: bytes, *, events: bool = True) -> None:
    path.write_bytes(raw)
    started = time.perf_counter()
    try:
        df = load(path)
    except ForecastInputError as e:
        msg = str(e)
        assert re.search(re.escape(str(path)) + r":\d+", msg), msg
        assert e.line is not None and e.line >= 1
        assert "\n" not in msg, msg  # one line on standard error
    else:
        assert isinstance(df, pd.DataFrame)
        assert df.columns.is_unique, list(df.columns)
        assert df["date"].dtype.kind == "M"
        assert df["date"].is_monotonic_increasing
        if events:
            assert len(df) > 0
            assert df["count"].dtype.kind == "i" and (df["count"] >= 0).all()
            assert (df["line"] >= 2).all()
            # anything a loader accepts can be counted
            counts = daily_counts(df)
            assert counts.sum() == df["count"].sum() and (counts >= 0).all()
    assert time.perf_counter() - started < PER_EXAMPLE_LIMIT_S


@FUZZ
@given(raw=csv_bytes(PROJECT_COLUMNS))
@example(raw=b"\xff\xfe" + "event_id,date\n".encode("utf-16-le") + b"A")
@example(raw=(",".join(PROJECT_COLUMNS) + ",count,line,,\nE1,2024-01-01,Iraq,x,drone,,,,us_official,u,,7,9,,\n")
         .encode())
def test_fuzz_project_loader(fuzz_path, raw):
    check(load_events, fuzz_path, raw)


@FUZZ
@given(raw=csv_bytes(ACLED_COLUMNS))
def test_fuzz_acled_loader(fuzz_path, raw):
    check(lambda p: load_events(p, format="acled"), fuzz_path, raw)


@FUZZ
@given(raw=csv_bytes(["date", "count", "country"]), with_count=st.booleans())
@example(raw=b"date,count\n2024-01-05T00:00+03:00,1\n", with_count=True)
@example(raw=b"date,count\n2024-01-05,1e308\n", with_count=True)
def test_fuzz_generic_loader(fuzz_path, raw, with_count):
    check(lambda p: load_events(p, format="generic", count_column="count" if with_count else None), fuzz_path, raw)


@FUZZ
@given(raw=csv_bytes(["date", "name", "kind", "description", "source_url"]))
def test_fuzz_trigger_loader(fuzz_path, raw):
    check(load_triggers, fuzz_path, raw, events=False)


@FUZZ
@given(raw=csv_bytes(["date", "cumulative_count", "since", "source_url", "quote"]))
def test_fuzz_official_counts_loader(fuzz_path, raw):
    check(load_official_counts, fuzz_path, raw, events=False)


LOADERS = {
    "project": (PROJECT_COLUMNS, load_events),
    "acled": (ACLED_COLUMNS, lambda p: load_events(p, format="acled")),
    "generic": (["date", "count", "country"], lambda p: load_events(p, format="generic", count_column="count")),
    "triggers": (["date", "name", "kind", "description", "source_url"], load_triggers),
    "official": (["date", "cumulative_count", "since", "source_url", "quote"], load_official_counts),
}


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("name", list(LOADERS))
def test_fuzz_lines_point_at_record_starts(fuzz_path, name, data):
    """On a well-formed file with one bad cell, the reported line is the first physical line of a record
    (quoted newlines in earlier records counted), and a file without a bad cell loads."""
    columns, load = LOADERS[name]
    text, starts, replaced = data.draw(clean_file(columns))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    fuzz_path.write_bytes(text.encode(encoding, errors="surrogatepass"))
    try:
        df = load(fuzz_path)
    except ForecastInputError as e:
        assert replaced, str(e)  # a clean file loads
        assert e.line in starts or (e.line == 2 and name == "acled"), (e.line, starts, str(e))
        assert f"{fuzz_path}:{e.line}:" in str(e)
    else:
        if "line" in df:
            assert set(df["line"]) <= set(starts)
        if name != "acled":  # the ACLED loader may filter rows out
            assert len(df) == len(starts)


# ----------------------------------------------------------------------------- a large file

def test_million_row_generic_csv(tmp_path):
    n = 1_000_000
    rng = np.random.default_rng(0)
    days = pd.date_range("1900-01-01", periods=n // 24 + 1, freq="D").strftime("%Y-%m-%d").to_numpy()
    day_of_row = np.sort(rng.integers(0, len(days), size=n))
    counts = rng.integers(0, 5, size=n)
    path = tmp_path / "million.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("date,count\n")
        for lo in range(0, n, 100_000):  # in chunks: memory stays small
            hi = min(lo + 100_000, n)
            f.write("\n".join(f"{d},{c}" for d, c in zip(days[day_of_row[lo:hi]], counts[lo:hi])))
            f.write("\n")
    events = load_events(path, format="generic", count_column="count")
    assert len(events) == n
    assert int(events["count"].sum()) == int(counts.sum())
    assert events["line"].min() == 2 and events["line"].max() == n + 1
    daily = daily_counts(events, max_years=200)  # 114 years of days: beyond the default 20-year guard
    assert int(daily.sum()) == int(counts.sum())
    expected = np.bincount(day_of_row, weights=counts, minlength=len(days))
    first, last = day_of_row.min(), day_of_row.max()
    np.testing.assert_array_equal(daily.to_numpy(), expected[first:last + 1].astype(np.int64))
