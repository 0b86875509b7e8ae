"""Plotting functions: data and an ``ax`` in, artists out. No figure is created here."""
from __future__ import annotations

import zlib

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from forecast.models.base import CountForecast

# Okabe-Ito colour-blind-safe palette: one colour per model everywhere
MODEL_COLORS = {"hawkes": "#D55E00", "hawkes_continuous": "#CC79A7", "poisson": "#0072B2", "negbin": "#56B4E9",
                "arima": "#009E73", "climatology": "#777777", "naive": "#E69F00"}
TRIGGER_COLORS = {"us_strike": "#D55E00", "diplomatic": "#0072B2", "militia_statement": "#009E73",
                  "regional": "#CC79A7"}
LULL_COLOR = "#dddddd"


# for models not named above: the rest of matplotlib's colour-blind-friendly "tab10", chosen by a stable
# hash of the name so a model keeps its colour in every figure and run
_FALLBACK_COLORS = ("#1f77b4", "#8c564b", "#9467bd", "#bcbd22", "#17becf", "#7f7f7f", "#2ca02c")


def model_color(name: str) -> str:
    """The one colour of model ``name`` (the option name, e.g. ``hawkes``; ``hawkes_half_life=14`` runs share it)."""
    base = str(name).split(" ")[0]
    if base in MODEL_COLORS:
        return MODEL_COLORS[base]
    return _FALLBACK_COLORS[zlib.crc32(base.encode()) % len(_FALLBACK_COLORS)]


def date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def shade_lulls(ax: Axes, lulls: pd.DataFrame, label: bool = True) -> list:
    artists = []
    for i, r in enumerate(lulls.itertuples()):
        artists.append(ax.axvspan(r.start, r.end + pd.Timedelta(days=1), color=LULL_COLOR, zorder=0,
                                  label="lull (≥ min days without attacks)" if label and i == 0 else None))
    return artists


def plot_daily_counts(ax: Axes, counts: pd.Series, lulls: pd.DataFrame | None = None,
                      triggers: pd.DataFrame | None = None, label_kinds=("us_strike",)) -> list:
    """Daily attacks (bars) with a 7-day mean, lulls shaded and triggers as rules coloured by kind;
    triggers of ``label_kinds`` are labelled."""
    artists = [ax.bar(counts.index, counts.to_numpy(), width=1.0, color="#444444", alpha=0.55,
                      label="attacks per day")]
    artists += ax.plot(counts.index, counts.rolling(7, min_periods=1).mean(), color="#000000", lw=1.2,
                       label="7-day mean")
    if lulls is not None:
        artists += shade_lulls(ax, lulls)
    if triggers is not None and len(triggers):
        inside = triggers[(triggers["date"] >= counts.index[0]) & (triggers["date"] <= counts.index[-1])]
        ymax = max(float(counts.max()), 1.0)
        for kind, colour in TRIGGER_COLORS.items():
            sub = inside[inside["kind"] == kind]
            for j, r in enumerate(sub.itertuples()):
                artists.append(ax.axvline(r.date, color=colour, lw=0.8, alpha=0.8, zorder=1,
                                          label=kind.replace("_", " ") if j == 0 else None))
                if kind in label_kinds:
                    artists.append(ax.text(r.date, ymax * 1.02, r.name[:28], rotation=90, fontsize=5.5,
                                           color=colour, va="bottom", ha="center", clip_on=False))
    ax.set_ylabel("attacks per day")
    ax.set_xlim(counts.index[0], counts.index[-1] + pd.Timedelta(days=1))
    date_axis(ax)
    ax.legend(loc="upper right", ncols=3, frameon=False)
    return artists


def plot_coverage(ax: Axes, cover: pd.DataFrame) -> list:
    """Official attacks vs events in the set for each interval between official statements."""
    x = np.arange(len(cover))
    artists = [ax.bar(x - 0.2, cover["official"], width=0.4, color="#0072B2", label="official (DoD increments)"),
               ax.bar(x + 0.2, cover["in_set"], width=0.4, color="#E69F00", label="events in the set")]
    ax.set_xticks(x, [f"{a[5:]}–{b[5:]}" for a, b in zip(cover["from"], cover["to"])], rotation=70, fontsize=6)
    ax.set_ylabel("attacks in interval")
    ax.set_xlabel("interval between official statements (month-day)")
    ax.legend(frameon=False)
    return artists


def plot_breakdown(ax: Axes, values: pd.Series, title: str) -> list:
    """Horizontal bars of a category count."""
    values = values.sort_values()
    artists = [ax.barh(values.index.astype(str), values.to_numpy(), color="#56B4E9")]
    for i, v in enumerate(values.to_numpy()):
        artists.append(ax.text(v, i, f" {v}", va="center", fontsize=7))
    ax.set_xlabel("events")
    ax.set_title(title)
    return artists


def plot_fitted(ax: Axes, counts: pd.Series, fitted: pd.Series, name: str, lulls=None) -> list:
    """Observed daily counts with the model's fitted mean (intensity)."""
    artists = [ax.bar(counts.index, counts.to_numpy(), width=1.0, color="#444444", alpha=0.45, label="observed")]
    artists += ax.plot(fitted.index, fitted.to_numpy(), color=model_color(name), lw=1.1,
                       label=f"{name} fitted mean (one day ahead)")
    if lulls is not None:
        artists += shade_lulls(ax, lulls, label=False)
    ax.set_ylabel("attacks per day")
    date_axis(ax)
    ax.legend(frameon=False, loc="upper right")
    return artists


def plot_effects(ax: Axes, table: pd.DataFrame) -> list:
    """Forest plot of trigger effects (log-rate change per unit feature) with 95% intervals."""
    rows = table[table.index.str.startswith("effect_")].dropna(subset=["estimate"])
    y = np.arange(len(rows))
    artists = [ax.axvline(0, color="#888888", lw=0.8)]
    for i, (name, r) in enumerate(rows.iterrows()):
        kind = name.removeprefix("effect_")
        colour = TRIGGER_COLORS.get(kind, "#000000")
        artists.append(ax.errorbar(r["estimate"], i, xerr=[[r["estimate"] - r["ci_lower"]],
                                                           [r["ci_upper"] - r["estimate"]]],
                                   fmt="o", color=colour, capsize=3))
    ax.set_yticks(y, [n.removeprefix("effect_").replace("_", " ") for n in rows.index])
    ax.set_xlabel("effect on log attack rate (< 0 deterrence, > 0 backlash), 95% CI")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    return artists


def plot_acf(ax: Axes, residuals: pd.Series, lags: int = 21) -> list:
    """Autocorrelation of residuals with ±1.96/√n bands."""
    r = residuals.to_numpy(float)
    r = r[np.isfinite(r)] - np.nanmean(r)
    denom = np.dot(r, r)
    acf = [np.dot(r[k:], r[:-k]) / denom for k in range(1, lags + 1)]
    band = 1.96 / np.sqrt(len(r))
    artists = [ax.bar(np.arange(1, lags + 1), acf, color="#0072B2", width=0.6),
               ax.axhspan(-band, band, color="#dddddd", zorder=0)]
    ax.set_xlabel("lag (days)")
    ax.set_ylabel("residual autocorrelation")
    return artists


def plot_qq(ax: Axes, theoretical: np.ndarray, empirical: np.ndarray) -> list:
    """Time-rescaling QQ plot: rescaled inter-event times against Exp(1) quantiles."""
    top = float(max(np.max(theoretical), np.max(empirical)))
    artists = ax.plot([0, top], [0, top], color="#888888", lw=0.8)
    artists += ax.plot(theoretical, empirical, "o", ms=2.5, color=model_color("hawkes_continuous"))
    ax.set_xlabel("Exp(1) quantile")
    ax.set_ylabel("rescaled inter-event time")
    return artists


def plot_fan(ax: Axes, history: pd.Series, fc: CountForecast, name: str,
             observed_after: pd.Series | None = None, scenario: tuple[str, CountForecast] | None = None) -> list:
    """Recent daily counts joined to the forecast median with nested 50/80/95% bands."""
    colour = model_color(name)
    artists = [ax.bar(history.index, history.to_numpy(), width=1.0, color="#444444", alpha=0.5,
                      label="observed")]
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
    date_axis(ax)
    ax.legend(frameon=False, loc="upper left", ncols=2)
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
                         reference: pd.DataFrame | None = None, window: int = 14) -> list:
    """Rolling mean of the RPS of one horizon over the backtest origins (and the reference's)."""
    artists = []
    for frame, label, colour in ((bt, name, model_color(name)),
                                 (reference, "climatology", model_color("climatology"))):
        if frame is None:
            continue
        part = frame[frame["horizon"] == horizon]
        s = pd.Series(part["rps"].to_numpy(), index=pd.to_datetime(part["origin"])).sort_index()
        artists += ax.plot(s.index, s.rolling(window, min_periods=1).mean(), color=colour, lw=1.1,
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
