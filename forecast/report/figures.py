"""Plotting functions: data and an ``ax`` in, artists out. No figure is created here.

Dense series are drawn as one artist each (``stairs``, ``fill_between``, line collections), never one
patch per day: a PDF page stays small and fast to render.
"""
from __future__ import annotations

import functools
import zlib

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from forecast.models.base import CountForecast
from forecast.report.builder import plain, shorten_to

# Colour-blind-safe palette (Okabe-Ito without yellow and black, then Paul Tol's muted colours): the
# model options of configs/model/, in name order, take one colour each; observed data are black/grey.
PALETTE = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#999933", "#332288",
           "#44AA99")
TRIGGER_COLORS = {"us_strike": "#D55E00", "diplomatic": "#0072B2", "militia_statement": "#009E73",
                  "regional": "#CC79A7", "us_posture": "#E69F00"}
LULL_COLOR = "#e4e4e4"
OBSERVED = "#3a3a3a"
MUTED_INK = "#555555"
# for names that are not model options (e.g. a renamed run): other colours chosen by a stable hash
_FALLBACK_COLORS = ("#1f77b4", "#8c564b", "#9467bd", "#bcbd22", "#17becf", "#7f7f7f", "#2ca02c")


@functools.cache
def _model_colors() -> dict[str, str]:
    from forecast.config import model_names

    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(model_names())}


def __getattr__(name: str):
    """``MODEL_COLORS``: model option -> colour, discovered from ``configs/model/`` (one entry per option)."""
    if name == "MODEL_COLORS":
        return dict(_model_colors())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def model_color(name: str) -> str:
    """The one colour of model ``name`` (the option name; ``"hawkes_half_life=14"``-style labels and
    ``"name (detail)"`` labels share their model's colour)."""
    base = str(name).split(" ")[0].split("=")[0]
    colors = _model_colors()
    if base in colors:
        return colors[base]
    return _FALLBACK_COLORS[zlib.crc32(base.encode()) % len(_FALLBACK_COLORS)]


def kind_color(kind: str) -> str:
    return TRIGGER_COLORS.get(str(kind), "#777777")


def date_axis(ax: Axes, minticks: int = 4, maxticks: int = 9) -> None:
    locator = mdates.AutoDateLocator(minticks=minticks, maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))


def integer_axis(ax: Axes, axis: str = "y", nbins: int | str = "auto") -> None:
    """Counts get whole-number ticks."""
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_locator(MaxNLocator(integer=True, nbins=nbins, min_n_ticks=2))


def _edges(dates: pd.DatetimeIndex) -> np.ndarray:
    x = mdates.date2num(dates)
    return np.append(x, x[-1] + 1.0) if len(x) else x


def step_fill(ax: Axes, edges: np.ndarray, values: np.ndarray, *, baseline: float | np.ndarray = 0.0, **kwargs):
    """Filled steps (value i over [edges[i], edges[i+1]]) as one PolyCollection: what ``stairs(fill=True)``
    draws, without its per-segment limit updates (a 1000-day series costs one path)."""
    v = np.append(np.asarray(values, float), np.asarray(values, float)[-1:]) if len(values) else np.zeros(0)
    b = (np.broadcast_to(np.asarray(baseline, float), v.shape) if np.ndim(baseline) == 0
         else np.append(baseline, baseline[-1:]))
    return ax.fill_between(edges, b, v, step="post", **kwargs)


def rect_bars(ax: Axes, x, heights, width: float, **kwargs):
    """Bars as one PolyCollection (``ax.bar`` adds one patch per bar)."""
    from matplotlib.collections import PolyCollection

    x, h = np.asarray(x, float), np.asarray(heights, float)
    verts = [[(a - width / 2, 0), (a - width / 2, v), (a + width / 2, v), (a + width / 2, 0)] for a, v in zip(x, h)]
    coll = PolyCollection(verts, **kwargs)
    ax.add_collection(coll)
    ax.update_datalim([(float(x.min()) - width, 0), (float(x.max()) + width, float(h.max(initial=0)))])
    ax.autoscale_view()
    return coll


# ---- data ----------------------------------------------------------------------------------------------
def plot_counts(ax: Axes, counts: pd.Series, *, color: str = OBSERVED, label: str | None = "attacks per day",
                top: float | None = None, alpha: float = 0.75) -> list:
    """Daily counts as one filled step artist (a bar per day, drawn as one path). Days above ``top`` are
    cut at it (the label says so and gives the highest count)."""
    if not len(counts):
        return []
    y = counts.to_numpy(float)
    shown = np.minimum(y, top) if top is not None else y
    if top is not None and label and (y > top).any():
        label = f"{label} (cut at {top:g}; highest {y.max():g})"
    return [step_fill(ax, _edges(counts.index), shown, color=color, alpha=alpha, lw=0, label=label)]


def shade_mask(ax: Axes, dates: pd.DatetimeIndex, mask, *, color: str = LULL_COLOR,
               label: str | None = None) -> list:
    """Shade the days where ``mask`` holds, full height, as one artist (behind everything)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return []
    x = _edges(dates)
    m = np.append(mask, mask[-1])
    return [ax.fill_between(x, 0, 1, where=m, step="post", color=color, lw=0, zorder=0,
                            transform=ax.get_xaxis_transform(), label=label)]


def shade_lulls(ax: Axes, lulls: pd.DataFrame, label: bool = True) -> list:
    artists = []
    for i, r in enumerate(lulls.itertuples()):
        artists.append(ax.axvspan(r.start, r.end + pd.Timedelta(days=1), color=LULL_COLOR, zorder=0, lw=0,
                                  label="lull (min days without attacks)" if label and i == 0 else None))
    return artists


def plot_exposure(ax: Axes, exposure: pd.Series, *, color: str = "#4d4d4d") -> list:
    """Number of sites with US forces present, as a step line."""
    e = exposure.dropna()
    if not len(e):
        return []
    x = _edges(e.index)
    artists = ax.plot(x, np.append(e.to_numpy(float), e.to_numpy(float)[-1:]), drawstyle="steps-post", color=color,
                      lw=1.0)
    ax.set_ylim(0, max(float(e.max()) * 1.15, 1))
    integer_axis(ax, nbins=3)
    ax.set_ylabel("sites", rotation=0, ha="right", va="center")
    return artists


def label_positions(x: np.ndarray, gap: float, priority: np.ndarray | None = None) -> np.ndarray:
    """Which of the sorted positions ``x`` can carry a label at least ``gap`` from every other labelled
    one; higher ``priority`` first, then left to right. Returns a boolean mask."""
    order = np.lexsort((x, -(priority if priority is not None else np.zeros(len(x)))))
    taken: list[float] = []
    keep = np.zeros(len(x), bool)
    for i in order:
        if all(abs(x[i] - t) >= gap for t in taken):
            keep[i] = True
            taken.append(x[i])
    return keep


def trigger_labels(triggers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, width_in: float,
                   height_in: float, *, size: float = 5.5,
                   kind_order: tuple = tuple(TRIGGER_COLORS)) -> tuple[np.ndarray, float]:
    """Which triggers get their name written up their rule in a strip ``width_in`` x ``height_in`` inches
    spanning ``start``..``end`` without overprinting (earlier kinds of ``kind_order`` first, then left to
    right), and how long (inches) a name may be. Pure layout arithmetic: no figure needed."""
    if triggers is None or not len(triggers):
        return np.zeros(0, bool), 0.0
    x = mdates.date2num(pd.to_datetime(triggers["date"]))
    days_per_in = (mdates.date2num(end) - mdates.date2num(start)) / max(width_in, 1e-6)
    gap = size * 1.3 / 72 * days_per_in
    rank = {k: len(kind_order) - i for i, k in enumerate(kind_order)}
    priority = triggers["kind"].map(lambda k: rank.get(k, 0)).to_numpy(float)
    keep = label_positions(x, gap, priority)
    return keep, min(height_in * 0.92 - 0.08, 1.5)


def plot_trigger_strip(ax: Axes, triggers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                       size: float = 5.5) -> tuple[list, np.ndarray]:
    """Triggers as short rules coloured by kind at the foot of a strip, names written up the rules where
    they fit without overprinting (:func:`trigger_labels`). Returns the artists and the mask of labelled
    triggers (rows of ``triggers`` in their order): the caller lists the others."""
    ax.set_xlim(start, end)
    ax.set_ylim(0, 1)
    ax.axis("off")
    if triggers is None or not len(triggers):
        return [], np.zeros(0, bool)
    box = ax.get_position()
    keep, length = trigger_labels(triggers, start, end, box.width * ax.figure.get_figwidth(),
                                  box.height * ax.figure.get_figheight(), size=size)
    x = mdates.date2num(pd.to_datetime(triggers["date"]))
    artists = []
    for kind, g in triggers.groupby("kind", sort=False):
        xs = mdates.date2num(pd.to_datetime(g["date"]))
        artists.append(ax.add_collection(LineCollection([[(v, 0), (v, 0.06)] for v in xs], colors=kind_color(kind),
                                                        linewidths=0.9)))
    for i in np.flatnonzero(keep):
        r = triggers.iloc[i]
        artists.append(ax.text(x[i], 0.08, shorten_to(plain(str(r["name"])), length, size), rotation=90, fontsize=size,
                               color=kind_color(r["kind"]), ha="center", va="bottom"))
    return artists, keep


def shorten(text: str, chars: int) -> str:
    """``text`` cut at a word boundary to at most ``chars`` characters, with an ellipsis when cut."""
    if len(text) <= chars:
        return text
    cut = text[: chars - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "..."


# ---- forecast ------------------------------------------------------------------------------------------
BAND_ALPHA = {0.95: 0.16, 0.9: 0.16, 0.8: 0.26, 0.5: 0.42}


def _q(frame: pd.DataFrame, q: float) -> np.ndarray | None:
    pct = round(q * 100, 6)
    col = f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:04.1f}"
    return frame[col].to_numpy(float) if col in frame else None


def plot_total_fan(ax: Axes, totals: pd.DataFrame, color: str, *, levels=(0.95, 0.8, 0.5),
                   observed: pd.Series | None = None, scenario: pd.DataFrame | None = None,
                   scenario_label: str = "scenario", origin: pd.Timestamp | None = None) -> list:
    """Fan chart of the cumulative total from the day after the origin: nested central bands of the
    total over days 1..w (smooth: a total can only grow), its mean, and what happened (``observed``:
    cumulative counts after the origin). ``totals`` has ``date, mean, q..`` per window."""
    dates = pd.to_datetime(totals["date"])
    x = mdates.date2num(dates)
    # a window per day: steps (a total is whole attacks); only a few windows (risk horizons): join the points
    step = "post" if len(x) < 2 or np.all(np.diff(x) == 1) else None
    if origin is not None:  # start every curve at 0 attacks on the origin
        x = np.append(mdates.date2num(origin), x)
    pad = (lambda v: np.append(0.0, v)) if origin is not None else (lambda v: v)
    artists = []
    for level in levels:
        lo, hi = _q(totals, (1 - level) / 2), _q(totals, (1 + level) / 2)
        if lo is None or hi is None:
            continue
        artists.append(ax.fill_between(x, pad(lo), pad(hi), step=step, color=color, alpha=BAND_ALPHA.get(level, 0.2),
                                       lw=0, label=f"{int(round(level * 100))}% interval"))
    artists += ax.plot(x, pad(totals["mean"].to_numpy(float)), color=color, lw=1.6, label="expected (mean)")
    if scenario is not None:
        sx = mdates.date2num(pd.to_datetime(scenario["date"]))
        sy = scenario["mean"].to_numpy(float)
        if origin is not None:
            sx, sy = np.append(mdates.date2num(origin), sx), np.append(0.0, sy)
        artists += ax.plot(sx, sy, color=color, lw=1.3, ls="--", label=f"{scenario_label} (mean)")
    if observed is not None and len(observed):
        cum = observed.cumsum()
        ox = mdates.date2num(cum.index)
        if origin is not None:
            ox, cy = np.append(mdates.date2num(origin), ox), np.append(0.0, cum.to_numpy(float))
        else:
            cy = cum.to_numpy(float)
        artists += ax.plot(ox, cy, drawstyle="steps-post", color="#000000", lw=1.4, label="what happened")
    ax.set_ylabel("attacks in total since the origin")
    tops = [np.nanmax(v) for v in ([_q(totals, (1 + lv) / 2) for lv in levels] + [totals["mean"].to_numpy(float)])
            if v is not None and len(v)]
    if observed is not None and len(observed):
        tops.append(float(observed.sum()))
    ax.set_ylim(0, max(max(tops, default=1.0) * 1.08, 1.0))
    integer_axis(ax)
    date_axis(ax, 3, 7)
    return artists


def plot_recent(ax: Axes, history: pd.Series, mean: pd.Series, color: str, *, observed_after: pd.Series | None = None,
                lulls_mask: pd.Series | None = None) -> list:
    """Recent daily counts, then the forecast's expected attacks per day (and, for a past origin, what
    happened). The y axis is scaled to the forecast and the last weeks, not to one old busy day."""
    recent = history.iloc[-28:]
    after = observed_after if observed_after is not None else pd.Series(dtype=float)
    top = max(float(recent.max()) if len(recent) else 0.0, float(mean.max()) if len(mean) else 0.0,
              float(after.max()) if len(after) else 0.0, 1.0)
    top = float(np.ceil(top * 1.25))
    artists = []
    if lulls_mask is not None:
        artists += shade_mask(ax, lulls_mask.index, lulls_mask.to_numpy(), label="lull")
    artists += plot_counts(ax, history, top=top, label="attacks per day")
    if len(after):
        artists += plot_counts(ax, after, color="#000000", top=top, alpha=0.9, label="what happened")
    artists += ax.plot(mdates.date2num(mean.index) + 0.5, mean.to_numpy(float), color=color, lw=1.6,
                       label="expected per day")
    if len(history):
        artists.append(ax.axvline(mdates.date2num(history.index[-1]) + 1, color="#000000", lw=0.7, ls=":"))
    ax.set_ylim(0, top)
    ax.set_ylabel("attacks per day")
    integer_axis(ax)
    date_axis(ax, 3, 7)
    return artists


# ---- backtest and calibration --------------------------------------------------------------------------
def plot_pit_grid(ax: Axes, rows: list[list[tuple[list, list]]], col_labels: list[str], color: str) -> list:
    """Small multiples of PIT histograms in one axes (no ticks): row r (top first) holds one histogram per
    column (``(counts, edges)``), as densities scaled within the row, the dashed line at density 1 (a
    calibrated forecast). Row r occupies y in [n - 1 - r, n - r]; labels of the columns go above row 0."""
    n = len(rows)
    ax.axis("off")
    artists, dashes = [], []
    for r, cells in enumerate(rows):
        base = n - 1 - r
        dens = []
        for counts, edges in cells:
            counts, edges = np.asarray(counts, float), np.asarray(edges, float)
            dens.append(counts / counts.sum() / np.diff(edges) if counts.sum() > 0 and len(edges) == len(counts) + 1
                        else None)
        top = max([1.5] + [float(d.max()) for d in dens if d is not None])
        for c, ((_, edges), d) in enumerate(zip(cells, dens)):
            x0 = c * 1.25
            if d is not None:
                artists.append(step_fill(ax, x0 + np.asarray(edges, float), base + 0.1 + 0.78 * d / top,
                                         baseline=base + 0.1, color=color, alpha=0.75, lw=0))
            dashes.append([(x0, base + 0.1 + 0.78 / top), (x0 + 1, base + 0.1 + 0.78 / top)])
            dashes.append([(x0, base + 0.1), (x0 + 1, base + 0.1)])
    artists.append(ax.add_collection(LineCollection(dashes[0::2], colors="#000000", linewidths=0.7, linestyles="--")))
    artists.append(ax.add_collection(LineCollection(dashes[1::2], colors="#777777", linewidths=0.6)))
    for c, label in enumerate(col_labels):
        artists.append(ax.text(c * 1.25 + 0.5, n + 0.02, label, ha="center", va="bottom", fontsize=7))
    ax.set_xlim(-0.05, max(len(col_labels), 1) * 1.25 - 0.2)
    ax.set_ylim(0, n + 0.12)
    return artists


def plot_reliability_grid(ax: Axes, rows: list[dict], color: str) -> list:
    """Small multiples of reliability diagrams in one axes (no ticks), one per row (top first) from binned
    summaries (``mean_forecast``, ``observed_freq``, ``lo90``/``hi90``, ``n``): points with 90% bars of the
    observed frequency and the number of forecasts in each bin, the diagonal = calibrated."""
    n = len(rows)
    ax.axis("off")
    frames, bars, artists = [], [], []

    def arr(b, key, like):
        return np.array([np.nan if v is None else v for v in b.get(key, [np.nan] * like)], float)

    for r, b in enumerate(rows):
        base = n - 1 - r + 0.1
        h = 0.78
        frames += [[(0, base), (1, base)], [(0, base), (0, base + h)], [(0, base), (1, base + h)]]
        mf = arr(b, "mean_forecast", 0)
        of, n_bin = arr(b, "observed_freq", len(mf)), arr(b, "n", len(mf))
        lo, hi = arr(b, "lo90", len(mf)), arr(b, "hi90", len(mf))
        ok = np.isfinite(mf) & np.isfinite(of) & (n_bin > 0)
        if ok.any():
            bars += [[(x, base + h * a), (x, base + h * z)] for x, a, z in zip(mf[ok], lo[ok], hi[ok])
                     if np.isfinite(a) and np.isfinite(z)]
            artists += ax.plot(mf[ok], base + h * of[ok], "o-", ms=3, lw=0.9, color=color)
            for x, y, k in zip(mf[ok], of[ok], n_bin[ok]):
                artists.append(ax.text(x + 0.03, base + h * y, f"{int(k)}", fontsize=5.5, color="#444444",
                                       va="center"))
        artists.append(ax.text(-0.04, base + h, "1", fontsize=6, ha="right", va="center", color=MUTED_INK))
        artists.append(ax.text(-0.04, base, "0", fontsize=6, ha="right", va="center", color=MUTED_INK))
    artists.append(ax.add_collection(LineCollection(frames, colors="#999999", linewidths=0.6)))
    artists.append(ax.add_collection(LineCollection(bars, colors=color, linewidths=0.7, alpha=0.6)))
    artists.append(ax.text(0, 0.02, "0", fontsize=6, ha="center", va="top", color=MUTED_INK))
    artists.append(ax.text(1, 0.02, "1", fontsize=6, ha="center", va="top", color=MUTED_INK))
    artists.append(ax.text(0.5, 0.02, "forecast", fontsize=6.5, ha="center", va="top", color=MUTED_INK))
    ax.set_xlim(-0.12, 1.25)
    ax.set_ylim(0, n + 0.12)
    return artists


def plot_rolling_difference(ax: Axes, diff: pd.Series, color: str, *, window: int = 28,
                            lulls_mask: pd.Series | None = None, label: str = "") -> list:
    """A rolling mean of a per-origin score difference (negative = the model is better), with zero marked."""
    artists = []
    if lulls_mask is not None:
        artists += shade_mask(ax, lulls_mask.index, lulls_mask.to_numpy(), label="lull")
    s = diff.sort_index()
    roll = s.rolling(window, min_periods=max(window // 4, 1)).mean()
    artists.append(ax.axhline(0, color="#000000", lw=0.7))
    artists += ax.plot(roll.index, roll.to_numpy(), color=color, lw=1.2, label=label)
    lim = float(np.nanmax(np.abs(roll.to_numpy()))) if roll.notna().any() else 1.0
    ax.set_ylim(-lim * 1.15 - 1e-9, lim * 1.15 + 1e-9)
    date_axis(ax)
    return artists


# ---- model ---------------------------------------------------------------------------------------------
def plot_multipliers(ax: Axes, labels: list[str], est, lo, hi, colors: list[str], *, log: bool = True,
                     reference: float = 1.0, xlabel: str = "") -> list:
    """Forest plot: one row per effect, point and 95% interval; ``reference`` marks "no effect"."""
    est, lo, hi = (np.asarray(v, float) for v in (est, lo, hi))
    y = np.arange(len(labels))[::-1]
    artists = [ax.axvline(reference, color="#888888", lw=0.8)]
    for yi, e, a, b, c in zip(y, est, lo, hi, colors):
        artists += ax.plot([a, b], [yi, yi], color=c, lw=1.6, solid_capstyle="butt")
        artists += ax.plot([e], [yi], "o", color=c, ms=4)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], [reference]])
        finite = finite[finite > 0]
        span = max(float(np.max(np.abs(np.log10(finite / reference)))) if len(finite) else 1.0, 0.3)
        lo_x, hi_x = reference / 10 ** (span * 1.1), reference * 10 ** (span * 1.1)
        ax.set_xlim(lo_x, hi_x)
        nice = np.array([m * 10.0 ** e for e in range(-4, 5) for m in (1, 2, 5)])
        ticks = nice[(nice >= lo_x) & (nice <= hi_x)]
        if len(ticks) > 7:
            ticks = ticks[np.isin(np.round(ticks / 10.0 ** np.floor(np.log10(ticks))), [1, 5])]
        ax.set_xticks(ticks)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_xlabel(xlabel)
    return artists


def plot_series_bands(ax: Axes, counts: pd.Series, series: pd.DataFrame, groups: list[tuple[str, list[str]]],
                      color: str, *, lulls: pd.Series | None = None) -> list:
    """The daily counts and the model's named series as stacked bands of one axes, each band scaled to
    its own range (labelled), sharing the date axis: the shapes line up without a panel per series."""
    n = len(groups) + 1
    artists = []
    if lulls is not None:
        artists += shade_mask(ax, lulls.index, lulls.to_numpy())
    rules = []

    def band(i: int) -> float:  # bottom of band i (0 = the counts, on top)
        return (n - 1 - i) * 1.0

    top = max(float(counts.max()), 1.0)
    artists.append(step_fill(ax, _edges(counts.index), band(0) + 0.85 * counts.to_numpy(float) / top,
                             baseline=band(0), color=OBSERVED, alpha=0.75, lw=0))
    labels = [(band(0), f"attacks per day (0 to {top:g})")]
    for i, (name, cols) in enumerate(groups, start=1):
        frame = series[cols].apply(pd.to_numeric, errors="coerce")
        lo, hi = float(np.nanmin(frame.to_numpy())), float(np.nanmax(frame.to_numpy()))
        span = hi - lo if hi > lo else 1.0
        alphas = np.linspace(1.0, 0.45, len(cols))
        for col, a in zip(cols, alphas):
            s = frame[col].dropna()
            artists += ax.plot(s.index, band(i) + 0.85 * (s.to_numpy(float) - lo) / span, color=color, lw=0.8, alpha=a)
        parts = ", ".join(c[len(name) + 1:] for c in cols) if len(cols) > 1 else ""
        labels.append((band(i), f"{name}{' (' + parts + ')' if parts else ''}: {lo:.3g} to {hi:.3g}"))
        rules.append([(mdates.date2num(counts.index[0]), band(i) + 0.95), (mdates.date2num(counts.index[-1]) + 1,
                                                                           band(i) + 0.95)])
    for y, text in labels:
        artists.append(ax.text(0.005, y + 0.9, text, transform=ax.get_yaxis_transform(), fontsize=6.5,
                               color=MUTED_INK, va="top"))
    if rules:
        artists.append(ax.add_collection(LineCollection(rules, colors="#cccccc", linewidths=0.5)))
    ax.set_ylim(0, n)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlim(counts.index[0], counts.index[-1] + pd.Timedelta(days=1))
    date_axis(ax, 3, 8)
    return artists


# ---- kept for the comparison report and other callers ---------------------------------------------------
def plot_daily_counts(ax: Axes, counts: pd.Series, lulls: pd.DataFrame | None = None,
                      triggers: pd.DataFrame | None = None, label_kinds=("us_strike",)) -> list:
    """Daily attacks (one step artist) with a 7-day mean, lulls shaded and triggers as rules coloured by
    kind; triggers of ``label_kinds`` are labelled above the axes where they fit without overprinting."""
    artists = plot_counts(ax, counts)
    artists += ax.plot(counts.index, counts.rolling(7, min_periods=1).mean(), color="#000000", lw=1.0,
                       label="7-day mean")
    if lulls is not None:
        artists += shade_lulls(ax, lulls)
    if triggers is not None and len(triggers):
        inside = triggers[(triggers["date"] >= counts.index[0]) & (triggers["date"] <= counts.index[-1])]
        for kind, g in inside.groupby("kind", sort=False):
            artists.append(ax.vlines(g["date"], 0, 1, transform=ax.get_xaxis_transform(), color=kind_color(kind),
                                     lw=0.7, alpha=0.8, zorder=1, label=str(kind).replace("_", " ")))
        lab = inside[inside["kind"].isin(label_kinds)].sort_values("date")
        if len(lab):
            width_in = ax.get_position().width * ax.figure.get_figwidth()
            days_per_in = (len(counts) + 1) / max(width_in, 1e-6)
            keep = label_positions(mdates.date2num(lab["date"]), 6.5 * 1.3 / 72 * days_per_in)
            for r in lab[keep].itertuples():
                artists.append(ax.text(mdates.date2num(r.date), 1.01, shorten(r.name, 28), rotation=90, fontsize=5.5,
                                       color=kind_color(r.kind), va="bottom", ha="center",
                                       transform=ax.get_xaxis_transform(), clip_on=False))
    ax.set_ylabel("attacks per day")
    ax.set_xlim(counts.index[0], counts.index[-1] + pd.Timedelta(days=1))
    integer_axis(ax)
    date_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return artists


def plot_effects(ax: Axes, table: pd.DataFrame) -> list:
    """Forest plot of trigger effects (change per unit feature, the model's scale) with 95% intervals."""
    rows = table[table.index.str.startswith("effect_")].dropna(subset=["estimate"])
    artists = plot_multipliers(ax, [n.removeprefix("effect_").replace("_", " ") for n in rows.index],
                               rows["estimate"], rows["ci_lower"], rows["ci_upper"],
                               [kind_color(n.removeprefix("effect_")) for n in rows.index], log=False, reference=0.0,
                               xlabel="effect (model scale; 0 = no effect), 95% interval")
    return artists


def plot_fan(ax: Axes, history: pd.Series, fc: CountForecast, name: str,
             observed_after: pd.Series | None = None, scenario: tuple[str, CountForecast] | None = None) -> list:
    """Recent daily counts joined to the forecast mean with nested 50/80/95% bands of the daily count."""
    colour = model_color(name)
    artists = plot_counts(ax, history, label="observed")
    idx = fc.index
    for level, alpha in ((0.95, 0.15), (0.8, 0.25), (0.5, 0.4)):
        iv = fc.interval(level)
        artists.append(ax.fill_between(idx, iv["lower"], iv["upper"], step="mid", color=colour, alpha=alpha,
                                       lw=0, label=f"{int(level * 100)}% interval"))
    artists += ax.plot(idx, fc.predicted_mean, color=colour, lw=1.5, label="forecast mean")
    if scenario is not None:
        artists += ax.plot(scenario[1].index, scenario[1].predicted_mean, color="#000000", lw=1.2, ls="--",
                           label=f"scenario: {scenario[0]} (mean)")
    if observed_after is not None and len(observed_after):
        artists += ax.plot(observed_after.index, observed_after.to_numpy(), "x", color="#000000", ms=4,
                           label="observed after origin")
    artists.append(ax.axvline(history.index[-1] + pd.Timedelta(hours=12), color="#000000", lw=0.8, ls=":"))
    ax.set_ylabel("attacks per day")
    integer_axis(ax)
    date_axis(ax)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0, -0.12), ncols=3)
    return artists


def plot_scores_by_horizon(ax: Axes, table: pd.DataFrame, score: str = "rps") -> list:
    """Mean score per horizon for each model in ``table`` (columns model, horizon, score, score_se)."""
    artists = []
    for name, g in table.groupby("model", sort=False):
        g = g.sort_values("horizon")
        artists.append(ax.errorbar(g["horizon"], g[score], yerr=1.96 * g.get(f"{score}_se", 0 * g[score]),
                                   marker="o", capsize=3, color=model_color(str(name)), label=str(name)))
    ax.set_xlabel("horizon (days)")
    ax.set_ylabel(f"mean {score.replace('_', ' ')} (lower is better)")
    ax.legend(frameon=False, fontsize=7)
    return artists


def plot_score_over_time(ax: Axes, bt: pd.DataFrame, horizon: int, name: str, lulls=None,
                         reference: pd.DataFrame | None = None, window: int = 14,
                         reference_name: str = "reference") -> list:
    """Rolling mean of the RPS of one horizon over the backtest origins (and the reference's)."""
    artists = []
    for frame, label in ((bt, name), (reference, reference_name)):
        if frame is None:
            continue
        part = frame[frame["horizon"] == horizon]
        s = pd.Series(part["rps"].to_numpy(), index=pd.to_datetime(part["origin"])).sort_index()
        artists += ax.plot(s.index, s.rolling(window, min_periods=1).mean(), color=model_color(label), lw=1.1,
                           label=f"{label} ({window}-origin mean)")
    if lulls is not None:
        artists += shade_lulls(ax, lulls)
    ax.set_ylabel(f"RPS, {horizon}-day total")
    date_axis(ax)
    ax.legend(frameon=False, fontsize=7)
    return artists


def plot_reliability(ax: Axes, pairs: list[tuple[str, np.ndarray, np.ndarray]], bins: int = 8) -> list:
    """Reliability diagram: forecast probability (binned) vs observed frequency, one line per entry
    of ``pairs`` = (label, probabilities, outcomes); marker size shows the number of forecasts."""
    artists = ax.plot([0, 1], [0, 1], color="#888888", lw=0.8)
    edges = np.linspace(0, 1, bins + 1)
    for label, p, o in pairs:
        which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        xs, ys, ns = [], [], []
        for b in range(bins):
            m = which == b
            if m.any():
                xs.append(p[m].mean()), ys.append(o[m].mean()), ns.append(m.sum())
        colour = model_color(label.split(" ")[0])
        artists += ax.plot(xs, ys, "-", color=colour, lw=1, label=label)
        artists.append(ax.scatter(xs, ys, s=8 + 60 * np.asarray(ns) / max(len(p), 1), color=colour))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast probability")
    ax.set_ylabel("observed frequency")
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    return artists


def plot_pit(ax: Axes, pit: np.ndarray, name: str, bins: int = 10) -> list:
    """Histogram of randomised PIT values; flat at 1 for a calibrated forecast."""
    artists = [ax.hist(pit, bins=bins, range=(0, 1), density=True, color=model_color(name), alpha=0.8)[2],
               ax.axhline(1.0, color="#000000", lw=0.8, ls="--")]
    ax.set_xlabel("randomised PIT")
    ax.set_ylabel("density")
    return artists


def plot_interval_coverage(ax: Axes, table: pd.DataFrame, name: str) -> list:
    """Empirical coverage of the 50% and 90% intervals per horizon against the nominal levels."""
    x = np.arange(len(table))
    artists = [ax.bar(x - 0.2, table["coverage_50"], width=0.4, color=model_color(name), alpha=0.5, label="50%"),
               ax.bar(x + 0.2, table["coverage_90"], width=0.4, color=model_color(name), label="90%"),
               ax.axhline(0.5, color="#000000", lw=0.8, ls=":"), ax.axhline(0.9, color="#000000", lw=0.8, ls="--")]
    ax.set_xticks(x, [f"{h} d" for h in table["horizon"]])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of outcomes inside")
    ax.set_xlabel("horizon")
    ax.legend(handles=[Patch(color=model_color(name), alpha=0.5, label="50% interval"),
                       Patch(color=model_color(name), label="90% interval")], frameon=False, fontsize=7)
    return artists
