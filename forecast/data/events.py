"""Load and validate event files: the project's CSV, ACLED exports and generic date/count CSVs.

Every loader returns a DataFrame with one row per record and at least the columns
``date`` (datetime64, local calendar day), ``count`` (events on that row; 1 for an event row),
``country``, ``weapon`` and ``confirmation``; ``df.attrs["path"]`` and ``["format"]`` say where it came from.
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
TRIGGER_KINDS = ("us_strike", "diplomatic", "militia_statement", "regional")
OFFICIAL_COLUMNS = ["date", "cumulative_count", "since", "source_url"]
FORMATS = ("project", "acled", "generic")

ACLED_COLUMNS = ["event_date", "actor1", "country"]
ACLED_DEFAULT_ACTOR = r"Islamic Resistance in Iraq|Kataib Hezbollah|Kata'?ib Hizbullah|Nujaba|Pro-Iran"
ACLED_DEFAULT_TARGET = r"United States|(?-i:\bUS\b)|U\.S\."  # "US" in capitals: not the word "us"


def _choice(value: str, allowed: tuple[str, ...], *, path, line, column) -> str:
    if value not in allowed:
        raise ForecastInputError(f"'{value[:40]}' is not allowed", path=path, line=line, column=column,
                                 hint=f"use one of {', '.join(allowed)}")
    return value


def _frame(rows: list[dict], path, fmt: str, columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df["date"] = pd.to_datetime(df["date"])
    df = df.sort_values("date", kind="stable").reset_index(drop=True)
    df.attrs.update(path=str(path), format=fmt)
    return df


def _load_project(path) -> pd.DataFrame:
    header, records = read_records(path, PROJECT_COLUMNS)
    rows, seen = [], {}
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
        row["count"] = 1
        row["line"] = line
        rows.append(row)
    # extra columns are kept, except blank names and the derived ``count``/``line`` (which the loader
    # sets itself): repeating them would give the frame duplicate column labels
    extra = list(dict.fromkeys(h for h in header if h and h not in PROJECT_COLUMNS + ["count", "line"]))
    df = _frame(rows, path, "project", PROJECT_COLUMNS + extra + ["count", "line"])
    for col in ("us_killed", "us_wounded"):
        df[col] = df[col].astype("Int64")
    return df


def _load_acled(path, actor: str | None, target: str | None, countries: list[str] | None) -> pd.DataFrame:
    """ACLED export: one row per event; keep rows whose actors match ``actor`` and whose
    second actor or notes match ``target`` (regular expressions, case-insensitive)."""
    header, records = read_records(path, ACLED_COLUMNS)
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
                                        "source_url", "notes", "count", "line"])


def _load_generic(path, date_column: str, count_column: str | None) -> pd.DataFrame:
    required = [date_column] + ([count_column] if count_column else [])
    header, records = open_records(path, required)
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
    df.attrs.update(path=str(path), format="generic")
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
    ``us_strike, diplomatic, militia_statement, regional``."""
    _, records = read_records(path, TRIGGER_COLUMNS)
    rows = []
    for line, r in records:
        row = dict(r)
        row["date"] = parse_date(r["date"], path=path, line=line, column="date")
        row["kind"] = _choice(r["kind"], TRIGGER_KINDS, path=path, line=line, column="kind")
        if not r["source_url"]:
            raise ForecastInputError("no source", path=path, line=line, column="source_url",
                                     hint="every trigger needs the public source it came from")
        rows.append(row)
    return _frame(rows, path, "triggers", list(records[0][1].keys()) if records else TRIGGER_COLUMNS)


def load_official_counts(path: str | Path) -> pd.DataFrame:
    """Load dated official cumulative attack counts: ``date, cumulative_count, since, source_url``."""
    _, records = read_records(path, OFFICIAL_COLUMNS)
    rows = []
    for line, r in records:
        row = dict(r)
        row["date"] = parse_date(r["date"], path=path, line=line, column="date")
        row["since"] = parse_date(r["since"], path=path, line=line, column="since")
        row["cumulative_count"] = parse_count(r["cumulative_count"], path=path, line=line,
                                              column="cumulative_count")
        rows.append(row)
    df = _frame(rows, path, "official_counts", list(records[0][1].keys()) if records else OFFICIAL_COLUMNS)
    df["since"] = pd.to_datetime(df["since"])
    return df
