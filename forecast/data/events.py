"""Load and validate event files: the project's CSV, ACLED exports and generic date/count CSVs.

Every loader returns a DataFrame with one row per record and at least the columns
``date`` (datetime64, local calendar day), ``count`` (events on that row; 1 for an event row),
``country``, ``weapon`` and ``confirmation``; ``df.attrs["path"]`` and ``["format"]`` say where it came from.
Project files may also carry the annotation columns ``attacker``, ``target_type``, ``date_precision`` and
``duplicate_of`` (validated when present; files without them load as before, and the filters on them are
then no-ops). ``load_sites`` reads the sites file (US/coalition sites and the dates US forces were there).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.csvio import open_records, parse_count, parse_date, read_records
from forecast.errors import ForecastInputError

PROJECT_COLUMNS = ["event_id", "date", "country", "location", "weapon", "claimed_by", "us_killed",
                   "us_wounded", "confirmation", "source_url", "notes"]
WEAPONS = ("rocket", "drone", "missile", "mortar", "mixed", "unknown")
CONFIRMATIONS = ("us_official", "credible_media", "militia_claim")
TRIGGER_COLUMNS = ["date", "name", "kind", "description", "source_url"]
TRIGGER_KINDS = ("us_strike", "diplomatic", "militia_statement", "regional", "us_posture")
OFFICIAL_COLUMNS = ["date", "cumulative_count", "since", "source_url"]
FORMATS = ("project", "acled", "generic")

# optional annotation columns of project files (issue #13): validated when the header has them
ATTACKERS = ("militia", "iran_state", "unknown")
TARGET_TYPES = ("us_military", "us_diplomatic", "other")
DATE_PRECISIONS = ("exact", "approximate", "inferred")
ANNOTATION_COLUMNS = ["attacker", "target_type", "date_precision", "duplicate_of"]
_ANNOTATION_CHOICES = {"attacker": ATTACKERS, "target_type": TARGET_TYPES, "date_precision": DATE_PRECISIONS}

SITE_COLUMNS = ["site", "site_type", "country", "us_present_from", "us_present_to", "from_source_url",
                "to_source_url"]
SITE_TYPES = ("us_military", "us_diplomatic")

ACLED_COLUMNS = ["event_date", "actor1", "country"]
ACLED_DEFAULT_ACTOR = r"Islamic Resistance in Iraq|Kataib Hezbollah|Kata'?ib Hizbullah|Nujaba|Pro-Iran"
ACLED_DEFAULT_TARGET = r"United States|(?-i:\bUS\b)|U\.S\."  # "US" in capitals: not the word "us"


def _choice(value: str, allowed: tuple[str, ...], *, path, line, column) -> str:
    if value not in allowed:
        raise ForecastInputError(f"'{value[:40]}' is not allowed", path=path, line=line, column=column,
                                 hint=f"use one of {', '.join(allowed)}")
    return value


def _frame(rows: list[dict], path, fmt: str, columns: list[str], digest: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df["date"] = pd.to_datetime(df["date"])
    df = df.sort_values("date", kind="stable").reset_index(drop=True)
    df.attrs.update(path=str(path), format=fmt, sha256=digest)
    return df


def _load_project(path) -> pd.DataFrame:
    header, records, digest = read_records(path, PROJECT_COLUMNS)
    annotations = [c for c in ANNOTATION_COLUMNS if c in header]
    first_line = {}  # event_id -> first line it is on (to tell "later in the file" from "nowhere")
    for line, r in records:
        first_line.setdefault(r["event_id"], line)
    rows, seen, dates = [], {}, {}
    for line, r in records:
        eid = r["event_id"]
        if not eid:
            raise ForecastInputError("empty event_id", path=path, line=line, column="event_id")
        if eid in seen:
            raise ForecastInputError(f"duplicate event_id '{eid[:40]}' (first on line {seen[eid]})", path=path,
                                     line=line, column="event_id", hint="give every event its own id")
        seen[eid] = line
        if not r["source_url"]:
            raise ForecastInputError("no source", path=path, line=line, column="source_url",
                                     hint="every event needs the public source(s) it came from")
        row = dict(r)
        row["date"] = parse_date(r["date"], path=path, line=line, column="date")
        row["weapon"] = _choice(r["weapon"], WEAPONS, path=path, line=line, column="weapon")
        row["confirmation"] = _choice(r["confirmation"], CONFIRMATIONS, path=path, line=line,
                                      column="confirmation")
        for col in ("us_killed", "us_wounded"):
            row[col] = parse_count(r[col], path=path, line=line, column=col, allow_blank=True)
        for col in annotations:
            if col == "duplicate_of":
                _check_duplicate_of(row, dates, first_line, path=path, line=line)
            else:
                row[col] = _choice(r[col], _ANNOTATION_CHOICES[col], path=path, line=line, column=col)
        row["count"] = 1
        row["line"] = line
        rows.append(row)
        dates[eid] = row["date"]
    # extra columns are kept, except blank names and the derived ``count``/``line`` (which the loader
    # sets itself): repeating them would give the frame duplicate column labels
    extra = list(dict.fromkeys(h for h in header if h and h not in PROJECT_COLUMNS + ["count", "line"]))
    df = _frame(rows, path, "project", PROJECT_COLUMNS + extra + ["count", "line"], digest)
    for col in ("us_killed", "us_wounded"):
        df[col] = df[col].astype("Int64")
    return df


def _check_duplicate_of(row: dict, dates: dict, first_line: dict[str, int], *, path, line: int) -> None:
    """``duplicate_of`` is blank or names an event on an earlier line of the file, dated no later than
    this one (the earlier report of the same attack: the one ``duplicates=merge`` keeps)."""
    ref = row["duplicate_of"]
    if not ref:
        return
    hint = "blank, or the event_id of the earlier row reporting the same attack"
    if ref == row["event_id"]:
        raise ForecastInputError(f"event '{ref[:40]}' names itself", path=path, line=line, column="duplicate_of",
                                 hint=hint)
    if ref not in dates:
        where = (f"is on a later line ({first_line[ref]})" if ref in first_line else "is not in the file")
        raise ForecastInputError(f"'{ref[:40]}' {where}", path=path, line=line, column="duplicate_of", hint=hint)
    if dates[ref] > row["date"]:
        raise ForecastInputError(f"'{ref[:40]}' is dated {dates[ref]}, after this event ({row['date']})",
                                 path=path, line=line, column="duplicate_of", hint=hint)


def _load_acled(path, actor: str | None, target: str | None, countries: list[str] | None) -> pd.DataFrame:
    """ACLED export: one row per event; keep rows whose actors match ``actor`` and whose
    second actor or notes match ``target`` (regular expressions, case-insensitive)."""
    header, records, digest = read_records(path, ACLED_COLUMNS)
    actor_re = re.compile(actor or ACLED_DEFAULT_ACTOR, re.I)
    target_re = re.compile(target or ACLED_DEFAULT_TARGET, re.I)
    keep_countries = {c.lower() for c in countries} if countries else None
    rows, seen = [], {}
    for line, r in records:
        text = r["event_date"]
        fmt = None if re.match(r"^\d{4}-", text) else "%d %B %Y"
        date = parse_date(text, path=path, line=line, column="event_date", fmt=fmt)
        eid = r.get("event_id_cnty", "")
        if eid:
            if eid in seen:
                raise ForecastInputError(f"duplicate event_id_cnty '{eid[:40]}' (first on line {seen[eid]})",
                                         path=path, line=line, column="event_id_cnty")
            seen[eid] = line
        actors = " ".join(r.get(c, "") for c in ("actor1", "assoc_actor_1"))
        targets = " ".join(r.get(c, "") for c in ("actor2", "assoc_actor_2", "notes"))
        if not actor_re.search(actors) or not target_re.search(targets):
            continue
        if keep_countries is not None and r["country"].lower() not in keep_countries:
            continue
        rows.append({"event_id": eid or f"line{line}", "date": date, "country": r["country"],
                     "location": r.get("location", ""), "weapon": "unknown", "confirmation": "credible_media",
                     "source_url": r.get("source", ""), "notes": r.get("notes", ""), "count": 1, "line": line})
    return _frame(rows, path, "acled", ["event_id", "date", "country", "location", "weapon", "confirmation",
                                        "source_url", "notes", "count", "line"], digest)


def _load_generic(path, date_column: str, count_column: str | None) -> pd.DataFrame:
    required = [date_column] + ([count_column] if count_column else [])
    header, records, digest = open_records(path, required)
    # built column by column from a lazy reader: a million-row file stays cheap in memory
    dates, counts, countries, lines = [], [], [], []
    parsed: dict[str, object] = {}  # date text -> date (dates repeat; only valid texts are cached)
    has_country = "country" in header
    for line, r in records:
        text = r[date_column]
        date = parsed.get(text)
        if date is None:
            date = parsed[text] = parse_date(text, path=path, line=line, column=date_column)
        dates.append(date)
        counts.append(parse_count(r[count_column], path=path, line=line, column=count_column)
                      if count_column else 1)
        countries.append(r["country"] if has_country else "")
        lines.append(line)
    df = pd.DataFrame({"date": pd.to_datetime(pd.Series(dates, dtype=object)),
                       "count": np.asarray(counts, dtype=np.int64), "country": countries,
                       "weapon": "unknown", "confirmation": "credible_media",
                       "line": np.asarray(lines, dtype=np.int64)})
    df = df.sort_values("date", kind="stable").reset_index(drop=True)
    df.attrs.update(path=str(path), format="generic", sha256=digest)
    return df


def load_events(path: str | Path, format: str = "project", *, acled_actor: str | None = None,
                acled_target: str | None = None, countries: list[str] | None = None,
                date_column: str = "date", count_column: str | None = None) -> pd.DataFrame:
    """Load an event file and validate every row.

    Parameters
    ----------
    path : event CSV.
    format : ``"project"`` (``data/events.csv`` schema), ``"acled"`` (ACLED export, filtered by
        ``acled_actor``/``acled_target`` regexes and ``countries``) or ``"generic"`` (a date column and
        an optional count column).

    Raises
    ------
    ForecastInputError naming the file, line and column of the first problem.
    """
    if format == "project":
        df = _load_project(path)
    elif format == "acled":
        df = _load_acled(path, acled_actor, acled_target, countries)
    elif format == "generic":
        df = _load_generic(path, date_column, count_column)
    else:
        raise ForecastInputError(f"unknown format '{format}'", column="data.format",
                                 hint=f"use one of {', '.join(FORMATS)}")
    if df.empty:
        raise ForecastInputError("no events after filtering" if format == "acled" else "header only, no rows",
                                 path=path, line=2, hint="the file must hold at least one event")
    return df


def load_triggers(path: str | Path) -> pd.DataFrame:
    """Load the trigger calendar: ``date, name, kind, description, source_url``; kind is one of
    ``us_strike, diplomatic, militia_statement, regional, us_posture``."""
    _, records, digest = read_records(path, TRIGGER_COLUMNS)
    rows = []
    for line, r in records:
        row = dict(r)
        row["date"] = parse_date(r["date"], path=path, line=line, column="date")
        row["kind"] = _choice(r["kind"], TRIGGER_KINDS, path=path, line=line, column="kind")
        if not r["source_url"]:
            raise ForecastInputError("no source", path=path, line=line, column="source_url",
                                     hint="every trigger needs the public source it came from")
        rows.append(row)
    return _frame(rows, path, "triggers", list(records[0][1].keys()) if records else TRIGGER_COLUMNS, digest)


def load_official_counts(path: str | Path) -> pd.DataFrame:
    """Load dated official cumulative attack counts: ``date, cumulative_count, since, source_url``."""
    _, records, digest = read_records(path, OFFICIAL_COLUMNS)
    rows = []
    for line, r in records:
        row = dict(r)
        row["date"] = parse_date(r["date"], path=path, line=line, column="date")
        row["since"] = parse_date(r["since"], path=path, line=line, column="since")
        if row["since"] > row["date"]:
            raise ForecastInputError(f"since {r['since']} is after the statement date {r['date']}", path=path,
                                     line=line, column="since", hint="a count runs from 'since' up to 'date'")
        row["cumulative_count"] = parse_count(r["cumulative_count"], path=path, line=line,
                                              column="cumulative_count")
        rows.append(row)
    df = _frame(rows, path, "official_counts", list(records[0][1].keys()) if records else OFFICIAL_COLUMNS, digest)
    df["since"] = pd.to_datetime(df["since"])
    return df


def _optional_float(value: str, lo: float, hi: float, *, path, line: int, column: str) -> float:
    if not value:
        return float("nan")
    try:
        number = float(value)
    except ValueError:
        raise ForecastInputError(f"'{value[:40]}' is not a number", path=path, line=line, column=column) from None
    if not lo <= number <= hi:
        raise ForecastInputError(f"{value[:40]} is outside {lo:g}..{hi:g}", path=path, line=line, column=column,
                                 hint="decimal degrees, or blank when unknown")
    return number


def load_sites(path: str | Path) -> pd.DataFrame:
    """Load the sites file: one row per US/coalition site and stretch of US presence there.

    Required columns: ``site``, ``site_type`` (``us_military`` or ``us_diplomatic``), ``country``,
    ``us_present_from``, ``us_present_to`` (ISO dates, both days with US presence; blank ``from`` = already
    there before the data begin, blank ``to`` = still there at the latest reporting), ``from_source_url``
    and ``to_source_url`` (required when the matching date is given: every date is sourced). Optional:
    ``aliases`` (other names of the site, ``|``-separated), ``lat``, ``lon``, ``notes``; more are kept.

    A site may have several rows (US forces left and came back) whose stretches must not overlap; a name or
    alias names one site only. Returns the rows in file order with ``us_present_from``/``us_present_to``
    as datetimes (NaT when blank), ``lat``/``lon`` as floats and a ``line`` column.
    """
    header, records, digest = read_records(path, SITE_COLUMNS)
    rows: list[dict] = []
    names: dict[str, tuple[str, int]] = {}  # lower-case name or alias -> (site, line)
    stretches: dict[str, list[tuple[object, object, int]]] = {}
    for line, r in records:
        site = r["site"]
        if not site:
            raise ForecastInputError("empty site name", path=path, line=line, column="site")
        row = dict(r)
        row["site_type"] = _choice(r["site_type"], SITE_TYPES, path=path, line=line, column="site_type")
        if not r["country"]:
            raise ForecastInputError("empty country", path=path, line=line, column="country")
        for col, src in (("us_present_from", "from_source_url"), ("us_present_to", "to_source_url")):
            row[col] = parse_date(r[col], path=path, line=line, column=col) if r[col] else None
            if row[col] is not None and not r[src]:
                raise ForecastInputError(f"no source for {col}", path=path, line=line, column=src,
                                         hint="every presence date needs the public source(s) it came from")
        lo, hi = row["us_present_from"], row["us_present_to"]
        if lo is not None and hi is not None and hi < lo:
            raise ForecastInputError(f"us_present_to {hi} is before us_present_from {lo}", path=path, line=line,
                                     column="us_present_to")
        for col, bound in (("lat", 90.0), ("lon", 180.0)):
            if col in row:
                row[col] = _optional_float(r[col], -bound, bound, path=path, line=line, column=col)
        aliases = [a.strip() for a in r.get("aliases", "").split("|") if a.strip()]
        for name in [site, *aliases]:
            owner = names.setdefault(name.lower(), (site, line))
            if owner[0] != site:
                raise ForecastInputError(f"'{name[:40]}' already names site '{owner[0][:40]}' (line {owner[1]})",
                                         path=path, line=line, column="site" if name == site else "aliases",
                                         hint="a name or alias may name one site only")
        for other_lo, other_hi, other_line in stretches.get(site, []):
            if (lo is None or other_hi is None or lo <= other_hi) and (other_lo is None or hi is None
                                                                       or other_lo <= hi):
                raise ForecastInputError(f"presence at '{site[:40]}' overlaps the one on line {other_line}",
                                         path=path, line=line, column="us_present_from",
                                         hint="the rows of one site must cover separate stretches of time")
        stretches.setdefault(site, []).append((lo, hi, line))
        row["line"] = line
        rows.append(row)
    columns = list(dict.fromkeys([*SITE_COLUMNS, *(h for h in header if h and h != "line"), "line"]))
    df = pd.DataFrame(rows, columns=columns)
    for col in ("us_present_from", "us_present_to"):
        df[col] = pd.to_datetime(df[col])
    for col in ("lat", "lon"):
        if col in df:
            df[col] = df[col].astype(float)
    df.attrs.update(path=str(path), format="sites", sha256=digest)
    return df
