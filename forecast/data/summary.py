"""Summaries of an event set: events by month and country, coverage against official counts."""
from __future__ import annotations

import pandas as pd


def events_by_month(events: pd.DataFrame, column: str = "country") -> pd.DataFrame:
    """Event counts per calendar month (rows) and ``column`` value (columns), with a total."""
    table = (events.assign(month=events["date"].dt.strftime("%Y-%m"))
             .pivot_table(index="month", columns=column, values="count", aggfunc="sum", fill_value=0))
    table["total"] = table.sum(axis=1)
    return table.astype(int)


def coverage(events: pd.DataFrame, official: pd.DataFrame) -> pd.DataFrame:
    """For each interval between two official cumulative counts, official attacks vs events in the set.

    Interval i covers (date_{i-1}, date_i]; the first starts on its ``since`` date with a count of 0.
    Where several statements share a date the largest count is used; a statement lower than an
    earlier one gives a negative official difference, shown as such (sources disagree).
    """
    off = official.sort_values("date").groupby("date", as_index=False).agg(
        cumulative_count=("cumulative_count", "max"), since=("since", "first"))
    rows, prev_date, prev_count = [], None, 0
    dates = events["date"]
    for _, r in off.iterrows():
        lo = r["since"] if prev_date is None else prev_date + pd.Timedelta(days=1)
        in_set = int(events.loc[(dates >= lo) & (dates <= r["date"]), "count"].sum())
        official_n = int(r["cumulative_count"]) - prev_count
        rows.append({"from": lo.strftime("%Y-%m-%d"), "to": r["date"].strftime("%Y-%m-%d"),
                     "official": official_n, "in_set": in_set,
                     "coverage": in_set / official_n if official_n > 0 else float("nan")})
        prev_date, prev_count = r["date"], int(r["cumulative_count"])
    return pd.DataFrame(rows)


def format_summary(events: pd.DataFrame, counts: pd.Series, lulls: pd.DataFrame,
                   triggers: pd.DataFrame | None, cover: pd.DataFrame | None) -> str:
    """The plain-text data summary printed by ``forecast task=data``."""
    out = [f"Event file: {events.attrs.get('path')} ({events.attrs.get('format')})",
           f"Window: {counts.index[0].date()} .. {counts.index[-1].date()} ({len(counts)} days), "
           f"{int(counts.sum())} events on {int((counts > 0).sum())} days", "",
           "Events by month and country:", events_by_month(events).to_string(), ""]
    if "weapon" in events:
        out += ["Events by weapon:", events["weapon"].value_counts().to_string(), ""]
    for column in ("attacker", "target_type"):  # project files with the issue #13 annotation columns
        if column in events:
            out += [f"Events by {column.replace('_', ' ')}:", events[column].value_counts().to_string(), ""]
    if cover is not None and len(cover):
        tot_off, tot_set = int(cover["official"].sum()), int(cover["in_set"].sum())
        out += ["Coverage against official cumulative counts (official attacks per interval vs events in the set):",
                cover.to_string(index=False, float_format=lambda v: f"{v:.2f}"),
                f"Total: {tot_set} events in the set vs {tot_off} official"
                + (f" ({tot_set / tot_off:.0%})." if tot_off > 0 else " (no official attacks to compare with)."), ""]
    out += [f"Lulls (at least {int(lulls.attrs.get('min_days', 14))} attack-free days):",
            lulls.assign(start=lulls["start"].dt.strftime("%Y-%m-%d"), end=lulls["end"].dt.strftime("%Y-%m-%d"))
            .to_string(index=False) if len(lulls) else "none", ""]
    if triggers is not None:
        out += [f"Triggers ({len(triggers)}):", triggers["kind"].value_counts().to_string(), "",
                triggers.assign(date=triggers["date"].dt.strftime("%Y-%m-%d"))[["date", "kind", "name"]]
                .to_string(index=False)]
    return "\n".join(out)
