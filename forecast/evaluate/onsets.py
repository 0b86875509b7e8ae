"""Onsets of attack waves and what each model forecast just before and after them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


def find_onsets(counts: pd.Series, min_quiet_days: int = 14, *, dates: Iterable | None = None) -> pd.DatetimeIndex:
    """Days with at least one attack after at least ``min_quiet_days`` observed days without any.

    Parameters
    ----------
    counts : daily counts on a calendar-complete ``DatetimeIndex``.
    min_quiet_days : length of the quiet spell that must precede an onset (days before the series start are
        unknown, so an onset needs that many observed days before it).
    dates : a fixed list of onset dates to use instead (returned sorted, as days, duplicates dropped).
    """
    if dates is not None:
        return pd.DatetimeIndex([pd.Timestamp(d) for d in dates]).normalize().unique().sort_values()
    if int(min_quiet_days) < 1:
        raise ValueError(f"min_quiet_days must be >= 1, got {min_quiet_days}")
    y = counts.to_numpy() > 0
    # zeros in the m days before day t: rolling sum of "no attack" over [t - m, t - 1]
    m = int(min_quiet_days)
    quiet = np.concatenate([[0], np.cumsum(~y)])
    t = np.arange(m, len(y))
    ok = y[t] & (quiet[t] - quiet[t - m] == m)
    return pd.DatetimeIndex(counts.index[t[ok]])


def _latest_trigger(triggers: pd.DataFrame, day: pd.Timestamp) -> dict:
    """The latest trigger dated on or before ``day`` (several on that date joined with '; ')."""
    dates = pd.to_datetime(triggers["date"]).dt.normalize()
    before = triggers[dates <= day]
    if before.empty:
        return {"trigger_date": pd.NaT, "trigger_name": None, "trigger_kind": None, "days_since_trigger": np.nan}
    last = dates[dates <= day].max()
    rows = triggers[dates == last]
    return {"trigger_date": last, "trigger_name": "; ".join(map(str, rows["name"])),
            "trigger_kind": "; ".join(map(str, rows["kind"])), "days_since_trigger": (day - last).days}


def _label(offset: int) -> str:
    return f"m{-offset}" if offset < 0 else f"p{offset}"


def onset_table(bt_by_model: Mapping[str, pd.DataFrame], onsets: Iterable, offsets: Sequence[int] = (-1, 1, 3, 7),
                horizon: int = 7, triggers: pd.DataFrame | None = None) -> pd.DataFrame:
    """What each model forecast around each onset.

    Parameters
    ----------
    bt_by_model : model name -> backtest frame (``origin, horizon, observed_total, mean, p_ge1``).
    onsets : onset dates (``find_onsets``).
    offsets : origins relative to the onset, in days (-1: the day before it).
    horizon : the forecast window, days after the origin.
    triggers : trigger calendar (``date, name, kind``); adds the latest trigger on or before each onset.

    Returns
    -------
    DataFrame, one row per onset x model: ``onset, model, observed`` (the total of the ``horizon`` days
    from the onset on, when scored), ``p_ge1_<o>`` (P(>= 1 attack in ``horizon`` days)) and ``mean_<o>``
    (expected total) for each offset, ``<o>`` = ``m1`` for -1, ``p3`` for +3 (NaN where the origin was not
    backtested), then ``trigger_date, trigger_name, trigger_kind, days_since_trigger`` with ``triggers``.
    """
    rows = []
    for onset in find_onsets(pd.Series(dtype=int), dates=onsets):
        trig = _latest_trigger(triggers, onset) if triggers is not None else {}
        for model, bt in bt_by_model.items():
            g = bt[bt["horizon"] == horizon]
            g = g.set_index(pd.to_datetime(g["origin"]).dt.normalize())
            row = {"onset": onset, "model": model}
            before = onset - pd.Timedelta(days=1)
            row["observed"] = float(g.at[before, "observed_total"]) if before in g.index else np.nan
            for o in offsets:
                day = onset + pd.Timedelta(days=int(o))
                hit = day in g.index
                row[f"p_ge1_{_label(o)}"] = float(g.at[day, "p_ge1"]) if hit else np.nan
                row[f"mean_{_label(o)}"] = float(g.at[day, "mean"]) if hit else np.nan
            rows.append(row | trig)
    return pd.DataFrame(rows)
