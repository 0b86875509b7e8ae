"""Calendar-complete daily counts from an event table."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecast.errors import ForecastInputError


def _as_day(value, key: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise ForecastInputError(f"'{value}' is not a date", column=key, hint="use YYYY-MM-DD") from None


def filter_events(events: pd.DataFrame, *, country: Sequence[str] | None = None,
                  weapon: Sequence[str] | None = None,
                  confirmation: Sequence[str] | None = None) -> pd.DataFrame:
    """Keep events whose country / weapon / confirmation is in the given lists (None keeps all)."""
    mask = np.ones(len(events), dtype=bool)
    for column, allowed in (("country", country), ("weapon", weapon), ("confirmation", confirmation)):
        if allowed:
            mask &= events[column].str.lower().isin([a.lower() for a in allowed]).to_numpy()
    out = events.loc[mask]
    out.attrs = dict(events.attrs)
    return out


def daily_counts(events: pd.DataFrame, start=None, end=None) -> pd.Series:
    """Number of events per calendar day over the observation window ``[start, end]``.

    Days inside the window without events are real zeros. ``start``/``end`` default to the first and
    last event dates. An event outside an explicit window is an error (the window must cover the file),
    naming its line.
    """
    if events.empty:
        raise ForecastInputError("no events to count", column="data.events")
    dates = events["date"].dt.normalize()
    lo = _as_day(start, "data.start") if start is not None else dates.min()
    hi = _as_day(end, "data.end") if end is not None else dates.max()
    if hi < lo:
        raise ForecastInputError(f"window end {hi.date()} is before its start {lo.date()}", column="data.end")
    outside = (dates < lo) | (dates > hi)
    if outside.any():
        i = int(np.flatnonzero(outside.to_numpy())[0])
        line = events["line"].iloc[i] if "line" in events else None
        raise ForecastInputError(
            f"event dated {dates.iloc[i].date()} lies outside the observation window {lo.date()}..{hi.date()}",
            path=events.attrs.get("path"), line=line, column="date",
            hint="widen data.start/data.end or remove the row")
    index = pd.date_range(lo, hi, freq="D", name="date")
    counts = events.groupby(dates)["count"].sum().reindex(index, fill_value=0).astype(np.int64)
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
