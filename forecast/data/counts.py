"""Calendar-complete daily counts from an event table."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecast.data.events import ATTACKERS, TARGET_TYPES
from forecast.errors import ForecastInputError


def _as_day(value, key: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise ForecastInputError(f"'{value}' is not a date", column=key, hint="use YYYY-MM-DD") from None


DUPLICATE_POLICIES = ("keep", "merge")


def _allowed(values: Sequence[str] | None, choices: tuple[str, ...], key: str) -> list[str] | None:
    """Check config values of an enumerated column; the error names the config key."""
    if values is None:
        return None
    values = [str(getattr(v, "value", v)) for v in values]
    bad = [v for v in values if v not in choices]
    if bad:
        raise ForecastInputError(f"unknown value '{bad[0]}'", column=key, hint=f"use a list of {', '.join(choices)}")
    return values


def check_filters(*, attacker: Sequence[str] | None = None, target_type: Sequence[str] | None = None,
                  duplicates: str = "keep") -> tuple[list[str] | None, list[str] | None, str]:
    """Check the values of ``data.attacker``, ``data.target_type`` and ``data.duplicates`` (an unknown one is
    a ForecastInputError naming the key) and return them as plain strings; usable before any data is read."""
    attacker = _allowed(attacker, ATTACKERS, "data.attacker")
    target_type = _allowed(target_type, TARGET_TYPES, "data.target_type")
    duplicates = str(getattr(duplicates, "value", duplicates))
    if duplicates not in DUPLICATE_POLICIES:
        raise ForecastInputError(f"unknown value '{duplicates}'", column="data.duplicates",
                                 hint=f"use one of {', '.join(DUPLICATE_POLICIES)}")
    return attacker, target_type, duplicates


def filter_events(events: pd.DataFrame, *, country: Sequence[str] | None = None,
                  weapon: Sequence[str] | None = None,
                  confirmation: Sequence[str] | None = None,
                  attacker: Sequence[str] | None = None,
                  target_type: Sequence[str] | None = None,
                  duplicates: str = "keep") -> pd.DataFrame:
    """Keep events whose country / weapon / confirmation / attacker / target_type is in the given lists
    (None or an empty list keeps all).

    ``attacker`` (``militia``, ``iran_state``, ``unknown``) and ``target_type`` (``us_military``,
    ``us_diplomatic``, ``other``) filter only frames that have the column: ACLED and generic files, and
    project files written before these columns existed, lack them, and the filters are then no-ops.
    ``duplicates="merge"`` drops rows whose ``duplicate_of`` names an earlier report of the same attack
    (the earlier row stays); ``"keep"`` keeps every row; frames without ``duplicate_of`` are unchanged.
    Country, weapon and confirmation match case-insensitively; attacker and target_type values are
    checked against their allowed values (an unknown one is an error naming ``data.attacker`` /
    ``data.target_type``).
    """
    attacker, target_type, duplicates = check_filters(attacker=attacker, target_type=target_type,
                                                      duplicates=duplicates)
    mask = np.ones(len(events), dtype=bool)
    for column, allowed in (("country", country), ("weapon", weapon), ("confirmation", confirmation)):
        if allowed:
            mask &= events[column].str.lower().isin([a.lower() for a in allowed]).to_numpy()
    for column, allowed in (("attacker", attacker), ("target_type", target_type)):
        if allowed and column in events:
            mask &= events[column].isin(allowed).to_numpy()
    if duplicates == "merge" and "duplicate_of" in events:
        mask &= (events["duplicate_of"].fillna("").astype(str).str.strip() == "").to_numpy()
    out = events.loc[mask]
    out.attrs = dict(events.attrs)
    return out


MAX_WINDOW_YEARS = 20  # a longer observation window is a typo'd year, not a series (bounds every loop over days)
MAX_DAYS_AHEAD = 366  # an event dated more than a year after today is a typo'd year
MAX_DAILY_COUNT = 10_000  # more events on one day is a bad count column (and would make every pmf huge)


def daily_counts(events: pd.DataFrame, start=None, end=None, max_years: int = MAX_WINDOW_YEARS) -> pd.Series:
    """Number of events per calendar day over the observation window ``[start, end]``.

    Days inside the window without events are real zeros. ``start``/``end`` default to the first and
    last event dates. An event outside an explicit window is an error (the window must cover the file),
    naming its line; so is an event dated more than a year after today, and a window longer than
    ``max_years`` (both are typo'd years, e.g. 2999 or 1900, that would stretch the series to centuries).
    """
    if events.empty:
        raise ForecastInputError("no events to count", column="data.events")
    dates = events["date"].dt.normalize()
    path = events.attrs.get("path")

    def line_of(i: int):
        return events["line"].iloc[i] if "line" in events else None

    future = np.flatnonzero((dates > pd.Timestamp.now().normalize() + pd.Timedelta(days=MAX_DAYS_AHEAD)).to_numpy())
    if len(future):
        i = int(future[0])
        raise ForecastInputError(f"event dated {dates.iloc[i].date()} is more than a year after today",
                                 path=path, line=line_of(i), column="date", hint="check the year")
    lo = _as_day(start, "data.start") if start is not None else dates.min()
    hi = _as_day(end, "data.end") if end is not None else dates.max()
    if hi < lo:
        raise ForecastInputError(f"window end {hi.date()} is before its start {lo.date()}", column="data.end")
    if (hi - lo).days > 366 * max_years:
        i = int(np.argmin(dates.to_numpy())) if start is None else None
        raise ForecastInputError(
            f"the observation window {lo.date()}..{hi.date()} spans more than {max_years} years",
            path=path if i is not None else None, line=line_of(i) if i is not None else None,
            column="date" if i is not None else "data.start",
            hint="check the year of the earliest date, or raise data.max_window_years")
    outside = (dates < lo) | (dates > hi)
    if outside.any():
        i = int(np.flatnonzero(outside.to_numpy())[0])
        line = line_of(i)
        raise ForecastInputError(
            f"event dated {dates.iloc[i].date()} lies outside the observation window {lo.date()}..{hi.date()}",
            path=path, line=line, column="date", hint="widen data.start/data.end or remove the row")
    index = pd.date_range(lo, hi, freq="D", name="date")
    counts = events.groupby(dates)["count"].sum().reindex(index, fill_value=0).astype(np.int64)
    if counts.max() > MAX_DAILY_COUNT:
        day = counts.idxmax()
        raise ForecastInputError(f"{day.date()} has {counts.max():,} events, more than {MAX_DAILY_COUNT:,} in one day",
                                 path=path, column="count", hint="check the count column")
    counts.name = "count"
    return counts


def days_since_last(counts: pd.Series) -> pd.Series:
    """Days since the most recent day with an attack, counting that day as 0.

    Before the first attack the count starts from the start of the window.
    """
    return pd.Series(days_since_last_array(counts.to_numpy()), index=counts.index, name="days_since_last")


def days_since_last_array(y: np.ndarray) -> np.ndarray:
    """``days_since_last`` on a plain array."""
    idx = np.arange(len(y))
    last = np.maximum.accumulate(np.where(np.asarray(y) > 0, idx, -1))
    return np.where(last >= 0, idx - last, idx + 1)
