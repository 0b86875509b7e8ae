"""Plots and tables of the comparison PDF: data and an ``ax`` in, artists out (no figure is created here).

Tables are measured before they are drawn: each column is as wide as its widest cell and the font shrinks
until the table fits its axes, so no label is ever cut. Runs of one model share the model's colour, lighter
or darker per variant (:func:`run_colors`).
"""
from __future__ import annotations

import colorsys
from collections.abc import Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex, to_rgb
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter

from forecast.report.figures import date_axis, model_color

INK, MUTED, RULE, SHADE, WARN = "#222222", "#666666", "#9a9a9a", "#e8eef6", "#B2182B"
# used only when two models of one comparison would share a colour (Paul Tol's muted and dark colours)
EXTRA_COLORS = ("#332288", "#117733", "#88CCEE", "#DDCC77", "#AA4499", "#44AA99", "#999933", "#882255",
                "#661100", "#6699CC", "#888888")
PERIOD_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE = 1.22  # line pitch of table text, in font sizes
ROW_PAD = 0.5  # extra height of a table row, in font sizes
COL_PAD = 1.6  # space between table columns, in font sizes


def run_colors(runs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Label -> colour for ``runs`` = (label, model) pairs, in the order given.

    Each model gets :func:`model_color` (or an unused colour of :data:`EXTRA_COLORS` when another model of
    the comparison already has it); several runs of one model share its hue and saturation, from darker to
    lighter in the order given.
    """
    models = list(dict.fromkeys(m for _, m in runs))
    base, used = {}, set()
    for m in models:
        colour = to_hex(model_color(m))
        if colour in used:
            colour = next((c for c in map(to_hex, EXTRA_COLORS) if c not in used), colour)
        base[m] = colour
        used.add(colour)
    out = {}
    for m in models:
        labels = [label for label, model in runs if model == m]
        if len(labels) == 1:
            out[labels[0]] = base[m]
            continue
        h, light, s = colorsys.rgb_to_hls(*to_rgb(base[m]))
        for label, lv in zip(labels, np.linspace(max(0.18, light - 0.2), min(0.78, light + 0.25), len(labels))):
            out[label] = to_hex(colorsys.hls_to_rgb(h, lv, s))
    return out


# ------------------------------------------------------------------------------------------------ tables
class Drawn(list):
    """The artists a table drew, with ``height``: the fraction of the axes height it used."""

    height: float = 0.0


def _text_width(renderer, text: str, size: float, bold: bool) -> float:
    """Width in points of ``text`` (its longest line)."""
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    widest = 0.0
    for line in str(text).split("\n"):
        if line:
            widest = max(widest, renderer.get_text_width_height_descent(line, prop, ismath=False)[0])
    return widest * 72.0 / renderer.dpi


def _lines(text: str) -> int:
    return str(text).count("\n") + 1


def table_rows_height(n_lines: int, size: float) -> float:
    """Points taken by table rows holding ``n_lines`` lines of text in all (one row = one line + padding)."""
    return n_lines * LINE * size + ROW_PAD * size


def table_height(header: Sequence[str], rows: Sequence[Sequence[str]], size: float, *, groups: bool = False,
                 title: bool = False) -> float:
    """Points a :func:`draw_table` needs at font ``size`` (an upper bound: it may shrink the font to fit)."""
    total = table_rows_height(max(map(_lines, header), default=1), size)
    total += sum(table_rows_height(max(map(_lines, r), default=1), size) for r in rows)
    return total + (table_rows_height(1, size) if groups else 0) + (table_rows_height(1, size * 1.15) if title else 0)


def _fit(ax: Axes, header, rows, groups, size: float, min_size: float) -> tuple[float, list[float], float]:
    """Font size, column widths (points) and the axes width (points) for a table that fits."""
    renderer = ax.figure.canvas.get_renderer()
    avail = ax.get_position().width * ax.figure.get_figwidth() * 72

    def widths(s: float) -> list[float]:
        cols = [max([_text_width(renderer, h, s, True)] + [_text_width(renderer, r[c], s, False) for r in rows])
                + COL_PAD * s for c, h in enumerate(header)]
        for title, first, last in groups:  # a group's title fits over its columns
            need = _text_width(renderer, title, s, True) + COL_PAD * s - sum(cols[first:last + 1])
            if need > 0:
                cols[last] += need
        return cols

    cols = widths(size)
    while sum(cols) > avail and size > min_size:
        size = max(min_size, min(size - 0.25, size * avail / sum(cols)))
        cols = widths(size)
    return size, cols, avail


def draw_table(ax: Axes, header: Sequence[str], rows: Sequence[Sequence[str]], *,
               aligns: Sequence[str] | None = None, groups: Sequence[tuple[str, int, int]] = (),
               title: str | None = None, size: float = 8.0, min_size: float = 5.0, shade_rows: Sequence[int] = (),
               bold_rows: Sequence[int] = (), bold_cells: Sequence[tuple[int, int]] = (),
               colors: dict[tuple[int, int], str] | None = None, rules_after: Sequence[int] = (),
               shade_cols: Sequence[int] = (), stretch: float = 1.5) -> Drawn:
    """A booktabs-style table from the top of ``ax``: strings already formatted, columns as wide as their
    widest cell (the font shrinks down to ``min_size`` until the table fits the axes width; no cell is cut).

    ``aligns``: "left"/"right" per column (default: first left, others right); ``groups``: (title, first
    column, last column) spanning headers; ``title``: a bold line above; ``shade_rows``/``bold_rows``: row
    numbers; ``shade_cols``: column numbers (shaded from the header down); ``bold_cells``/``colors``: keyed
    (row, column); ``rules_after``: thin rules below these rows;
    ``stretch``: how much wider than needed the columns may grow to fill the axes. Returns the artists, with
    ``.height`` the fraction of the axes height used.
    """
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    header = [str(h) for h in header]
    rows = [[str(c) for c in r] for r in rows]
    aligns = list(aligns) if aligns is not None else ["left"] + ["right"] * (len(header) - 1)
    colors = colors or {}
    size, cols, avail = _fit(ax, header, rows, groups, size, min_size)
    scale = min(stretch, avail / sum(cols)) if sum(cols) < avail else 1.0
    widths = np.array(cols) * scale / avail  # axes fractions (may exceed 1 only when min_size cannot fit)
    lefts = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    right = float(widths.sum())
    height_pt = ax.get_position().height * ax.figure.get_figheight() * 72
    frac = 1.0 / height_pt  # axes fraction per point
    pad = 0.5 * COL_PAD * size * scale / avail
    out = Drawn()
    y = 1.0

    def text(x: float, yc: float, s: str, ha: str, weight: str = "normal", colour: str = INK, fs: float = size):
        if s:
            out.append(ax.text(x, yc, s, ha=ha, va="center", fontsize=fs, fontweight=weight, color=colour,
                               linespacing=LINE * 0.95, transform=ax.transAxes, clip_on=False))

    rules: list[tuple[list, float]] = []
    if title:
        h = table_rows_height(1, size * 1.15) * frac
        text(0, y - h / 2, title, "left", "bold", fs=size * 1.15)
        y -= h
    rules.append(([(0, y), (right, y)], 0.9))
    if groups:
        h = table_rows_height(1, size) * frac
        for name, first, last in groups:
            text((lefts[first] + lefts[last] + widths[last]) / 2, y - h / 2, name, "center", "bold")
            rules.append(([(lefts[first] + pad, y - h + 0.15 * h), (lefts[last] + widths[last] - pad,
                                                                   y - h + 0.15 * h)], 0.5))
        y -= h
    h = table_rows_height(max(map(_lines, header)), size) * frac
    header_top = y
    for c, name in enumerate(header):
        x = lefts[c] + pad if aligns[c] == "left" else lefts[c] + widths[c] - pad
        text(x, y - h / 2, name, aligns[c], "bold")
    y -= h
    rules.append(([(0, y), (right, y)], 0.6))
    for r, row in enumerate(rows):
        h = table_rows_height(max(map(_lines, row)), size) * frac
        if r in shade_rows:
            out.append(ax.add_patch(Rectangle((0, y - h), right, h, facecolor=SHADE, edgecolor="none", zorder=0,
                                              transform=ax.transAxes, clip_on=False)))
        for c, cell in enumerate(row):
            x = lefts[c] + pad if aligns[c] == "left" else lefts[c] + widths[c] - pad
            bold = r in bold_rows or (r, c) in bold_cells
            text(x, y - h / 2, cell, aligns[c], "bold" if bold else "normal", colors.get((r, c), INK))
        y -= h
        if r in rules_after and r + 1 < len(rows):
            rules.append(([(0, y), (right, y)], 0.3))
    rules.append(([(0, y), (right, y)], 0.9))
    for c in shade_cols:
        out.append(ax.add_patch(Rectangle((lefts[c], y), widths[c], header_top - y, facecolor=SHADE, edgecolor="none",
                                          zorder=0, transform=ax.transAxes, clip_on=False)))
    for width in sorted({w for _, w in rules}):
        out.append(ax.add_collection(LineCollection([seg for seg, w in rules if w == width], colors=RULE,
                                                    linewidths=width, transform=ax.transAxes, clip_on=False)))
    out.height = 1.0 - y
    return out


# ----------------------------------------------------------------------------------------------- plots
def plot_offset_points(ax: Axes, groups: Sequence[str], series: Sequence[dict], *, span: float = 0.72,
                       zero: float | None = None, zero_label: str | None = None) -> list:
    """Points with interval bars for several series in each group (e.g. horizons), offset side by side
    so no two bars overlap. ``series``: dicts with ``label``, ``color``, ``values`` and optionally ``lo``,
    ``hi`` (the bar) and ``filled`` (bool per point; hollow markers otherwise), one entry per group (NaN:
    nothing drawn). ``zero``: a reference line (``zero_label`` beside it)."""
    n = max(len(series), 1)
    step = span / n
    artists = []
    if zero is not None:
        artists.append(ax.axhline(zero, color=MUTED, lw=0.8, ls="--", zorder=1))
        if zero_label:
            artists.append(ax.annotate(zero_label, (1, zero), xycoords=("axes fraction", "data"), xytext=(-2, 3),
                                       textcoords="offset points", ha="right", va="bottom", fontsize=7,
                                       color=MUTED))
    for g in range(1, len(groups)):
        artists.append(ax.axvline(g - 0.5, color="#dddddd", lw=0.6, zorder=0))
    for i, s in enumerate(series):
        x = np.arange(len(groups)) + (i - (n - 1) / 2) * step
        v = np.asarray(s["values"], float)
        ok = np.isfinite(v)
        if not ok.any():
            continue
        lo = np.asarray(s.get("lo", np.full(len(v), np.nan)), float)
        hi = np.asarray(s.get("hi", np.full(len(v), np.nan)), float)
        bars = ok & np.isfinite(lo) & np.isfinite(hi)
        if bars.any():
            artists.append(ax.add_collection(LineCollection(
                [[(xi, a), (xi, b)] for xi, a, b in zip(x[bars], lo[bars], hi[bars])], colors=s["color"],
                linewidths=1.3, zorder=2)))
        filled = np.asarray(s.get("filled", np.ones(len(v), bool)), bool)
        for mask, face in ((ok & filled, s["color"]), (ok & ~filled, "white")):
            if mask.any():
                artists.append(ax.scatter(x[mask], v[mask], s=22, marker="o", facecolors=face,
                                          edgecolors=s["color"], linewidths=1.2, zorder=3))
        artists.append(ax.scatter([], [], s=22, color=s["color"], label=s["label"]))  # legend handle
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_xlim(-0.5, len(groups) - 0.5)
    ax.tick_params(axis="x", length=0)
    return artists


SQRT_TICKS = (0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 50, 100)


def sqrt_axis(ax: Axes, top: float) -> None:
    """A square-root y-axis from 0 to ``top`` with a few round ticks (counts: small values stay visible)."""
    ax.set_yscale("function", functions=(lambda y: np.sqrt(np.clip(y, 0, None)), np.square))
    ax.set_ylim(0, top)
    gap = 0.12 * np.sqrt(top)
    kept = [0.0]
    for t in sorted((t for t in SQRT_TICKS if 0 < t <= top), reverse=True):  # evenly spread on the sqrt scale
        if np.sqrt(t) >= gap and (len(kept) == 1 or np.sqrt(kept[-1]) - np.sqrt(t) >= gap):
            kept.append(t)
    ax.yaxis.set_major_locator(FixedLocator(sorted(kept)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))


def plot_forecast_panel(ax: Axes, forecast: pd.DataFrame, color: str, *, history: pd.Series | None = None,
                        ymax: float | None = None, note: str | None = None, sqrt: bool = True) -> list:
    """One run's daily forecast (forecast.csv: 90% and 50% bands, mean) after the observed ``history``
    (grey steps), up to ``ymax`` when given so panels share one scale, on a square-root axis (``sqrt``: small
    rates stay visible next to large ones; zero stays zero); ``note`` in small type above the axes."""
    artists = []
    dates = pd.to_datetime(forecast["date"])
    x = mdates.date2num(dates)
    edges = np.append(x - 0.5, x[-1] + 0.5) if len(x) else x
    if history is not None and len(history):
        hx = mdates.date2num(pd.to_datetime(history.index))
        artists.append(ax.stairs(history.to_numpy(float), np.append(hx - 0.5, hx[-1] + 0.5), fill=True,
                                 color="#bdbdbd", lw=0, label="observed"))
        artists.append(ax.axvline(hx[-1] + 0.5, color=MUTED, lw=0.7, ls=":"))
    for lo, hi, alpha, name in (("q05", "q95", 0.2, "90% interval"), ("q25", "q75", 0.42, "50% interval")):
        artists.append(ax.stairs(forecast[hi].to_numpy(float), edges, baseline=forecast[lo].to_numpy(float),
                                 fill=True, color=color, alpha=alpha, lw=0, label=name))
    artists += ax.plot(x, forecast["mean"].to_numpy(float), color=color, lw=1.5, label="mean")
    top = ymax if ymax is not None else max(ax.get_ylim()[1], 1e-3)
    if sqrt:
        sqrt_axis(ax, top)
    else:
        ax.set_ylim(0, top)
    if note:
        artists.append(ax.text(0, 1.015, note, transform=ax.transAxes, ha="left", va="bottom", fontsize=6.5,
                               color=MUTED, linespacing=1.2))
    date_axis(ax, minticks=3, maxticks=5)
    return artists


def plot_skill_heatmap(ax: Axes, diff: pd.DataFrame, p_adjusted: pd.DataFrame, *, alpha: float = 0.05,
                       limit: float | None = None, blank: str = "") -> list:
    """Mean log-score differences (rows: runs, columns: period x horizon; model - reference, so < 0 is
    better) as colours (blue better, red worse, white equal; the scale saturates at ``limit``, by default
    the 90th percentile of the absolute differences) with the value and the adjusted p-value written in
    each cell, bold and framed when p < ``alpha``; missing cells grey with ``blank``."""
    v = diff.to_numpy(float)
    p = p_adjusted.reindex_like(diff).to_numpy(float)
    lim = limit or (float(np.nanpercentile(np.abs(v), 90)) if np.isfinite(v).any() else 1.0) or 1.0
    masked = np.ma.masked_invalid(v)
    cmap = colormaps["RdBu_r"].with_extremes(bad="#eeeeee")
    image = ax.imshow(masked, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    artists = [image]
    cell_pt = ax.get_position().width * ax.figure.get_figwidth() * 72 / max(v.shape[1], 1)
    fs = float(np.clip(cell_pt / 5.4, 4.0, 6.5))  # "+0.123" and "p=0.012" fit their cell
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            if not np.isfinite(v[i, j]):
                if blank and fs >= 5.5:
                    artists.append(ax.text(j, i, blank, ha="center", va="center", fontsize=fs, color=MUTED))
                continue
            sig = np.isfinite(p[i, j]) and p[i, j] < alpha
            pv = "p n/a" if not np.isfinite(p[i, j]) else ("p<0.001" if p[i, j] < 0.001 else f"p={p[i, j]:.2g}"
                                                          if p[i, j] < 0.1 else f"p={p[i, j]:.2f}")
            artists.append(ax.text(j, i, f"{v[i, j]:+.3f}\n{pv}", ha="center", va="center", fontsize=fs,
                                   linespacing=1.15, fontweight="bold" if sig else "normal",
                                   color="white" if abs(v[i, j]) > 0.62 * lim else INK))
            if sig:
                artists.append(ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor=INK,
                                                      lw=1.1, zorder=3)))
    ax.set_xticks(range(v.shape[1]), [str(c) for c in diff.columns], fontsize=min(7.0, fs + 0.5))
    ax.set_yticks(range(v.shape[0]), [str(r) for r in diff.index])
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xticks(np.arange(-0.5, v.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, v.shape[0]), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    return artists


def plot_reliability_panel(ax: Axes, curves: Sequence[tuple[str, dict]], color: str, *,
                           markers: Sequence[str] = PERIOD_MARKERS, annotate: bool = True) -> list:
    """Reliability of an event probability: per bin, the mean forecast (x) against the observed frequency
    (y) with its 90% interval (bar) and the number of forecasts in the bin written beside the point; one
    marker shape per curve (``curves`` = (period, {bin_lo, bin_hi, n, mean_forecast, observed_freq, lo90,
    hi90}) as in metrics.json's calibration). Points on the diagonal are calibrated."""
    artists = ax.plot([0, 1], [0, 1], color="#aaaaaa", lw=0.8, zorder=1)
    for i, (period, rel) in enumerate(curves):
        frame = pd.DataFrame({k: rel.get(k) for k in ("n", "mean_forecast", "observed_freq", "lo90", "hi90")})
        frame = frame.apply(pd.to_numeric, errors="coerce")
        frame = frame[(frame["n"] > 0) & np.isfinite(frame["mean_forecast"]) & np.isfinite(frame["observed_freq"])]
        if frame.empty:
            continue
        marker = markers[i % len(markers)]
        bars = frame.dropna(subset=["lo90", "hi90"])
        if len(bars):
            artists.append(ax.add_collection(LineCollection(
                [[(x, a), (x, b)] for x, a, b in zip(bars["mean_forecast"], bars["lo90"], bars["hi90"])],
                colors=color, linewidths=0.9, alpha=0.55, zorder=2)))
        artists.append(ax.scatter(frame["mean_forecast"], frame["observed_freq"], s=18, marker=marker,
                                  facecolors=color, edgecolors="white", linewidths=0.5, zorder=3, label=period))
        if annotate:
            for x, y, n in zip(frame["mean_forecast"], frame["observed_freq"], frame["n"]):
                artists.append(ax.annotate(f"{int(n)}", (x, y), xytext=(3, -1), textcoords="offset points",
                                           fontsize=5.5, color=MUTED, ha="left", va="top"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
    ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
    return artists
