"""The comparison PDF (:func:`forecast.compare.compare`).

Pages: the answer in plain words (and the mixed-runs warning); every model's current risk; how far apart
the models are; the leaderboard with paired tests against the best and against the reference baseline;
paired significance; skill against the reference by period; forecasts on one scale; reliability;
calibration verdicts; parameters; the runs compared. Drawn only from the :class:`Comparison` (run records).
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from forecast.compare import (
    ALPHA,
    BEST_RULE,
    HEADLINE_HORIZON,
    TEST_RULE,
    Comparison,
    Run,
    _natural_key,
    common_settings,
    headline_reference,
    headline_risk,
)
from forecast.report import compare_figures as CF
from forecast.report.builder import BODY_BOTTOM, BODY_TOP, MARGIN, PAGE, ReportBuilder, body_axes, created_at

BODY_W_PT = PAGE[0] * (1 - 2 * MARGIN) * 72
BODY_H_PT = PAGE[1] * (BODY_TOP - BODY_BOTTOM) * 72
GRID = (4, 2)  # columns x rows of small multiples per page
HISTORY_DAYS = 28  # observed days shown before the forecasts


# ------------------------------------------------------------------------------------------ formatting
def pct(p: float) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "<0.1%" if p < 0.001 else ">99.9%" if p > 0.999 else f"{100 * p:.1f}%"


def pval(p: float) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def signed(d: float) -> str:
    return "" if d is None or not np.isfinite(d) else f"{d:+.3f}" if abs(d) >= 0.001 or d == 0 else f"{d:+.1e}"


def num(x: float, decimals: int = 3) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:.{decimals}f}"


def expected(e: float, lo: float, hi: float) -> str:
    if not np.isfinite(e):
        return ""
    body = f"{e:.2f}" if e < 10 else f"{e:.1f}"
    return body + (f" ({lo:g}–{hi:g})" if np.isfinite(lo) and np.isfinite(hi) else "")


SHORT_VERDICT = {"beats": "beats", "lower": "lower, n.s.", "higher": "higher, n.s.", "worse": "worse", "same": "same"}


def short_verdict(verdict: str) -> str:
    """A table-sized form of :func:`forecast.compare.versus_words`."""
    if not isinstance(verdict, str):
        return ""
    for key, word in SHORT_VERDICT.items():
        if verdict.startswith(key):
            return word
    return ""


def wrap_label(label: str, width: int = 24) -> str:
    """A label over two or more lines at its bracket and commas (never cut)."""
    if len(label) <= width or " (" not in label:
        return label
    name, rest = label.split(" (", 1)
    return name + "\n(" + "\n".join(textwrap.wrap(rest, width, break_long_words=False, break_on_hyphens=False))


# ---------------------------------------------------------------------------------------------- text
class TextColumn:
    """Paragraphs placed top-down across the body, each measured after drawing (nothing overflows)."""

    def __init__(self, fig, top: float = 1.0):
        self.fig = fig
        self.y = BODY_BOTTOM + top * (BODY_TOP - BODY_BOTTOM)  # figure fraction
        self.renderer = fig.canvas.get_renderer()

    def para(self, text: str, *, size: float = 10, weight: str = "normal", color: str = CF.INK,
             indent: float = 0.0, bullet: str = "", after: float = 0.5, width_pt: float = BODY_W_PT) -> list:
        hang = 12.0 if bullet else 0.0
        avail = width_pt - indent - hang
        chars = max(int(avail / (0.52 * size)), 20)
        x = MARGIN + (indent + hang) / 72 / PAGE[0]
        while True:
            lines = textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False) or [""]
            t = self.fig.text(x, self.y, "\n".join(lines), fontsize=size, fontweight=weight, color=color,
                              va="top", ha="left", linespacing=1.35)
            box = t.get_window_extent(self.renderer)
            if box.width * 72 / self.fig.dpi <= avail or chars <= 20:
                break
            t.remove()
            chars = max(int(chars * avail / (box.width * 72 / self.fig.dpi)) - 1, 20)
        artists = [t]
        if bullet:
            artists.append(self.fig.text(MARGIN + indent / 72 / PAGE[0], self.y, bullet, fontsize=size, color=color,
                                         va="top", ha="left"))
        self.y -= box.height / self.fig.dpi / PAGE[1] + after * size / 72 / PAGE[1]
        return artists


# ------------------------------------------------------------------------------------------- the model
class View:
    """What the pages need from a :class:`Comparison`, computed once."""

    def __init__(self, result: Comparison):
        self.result = result
        self.runs = result.runs
        self.board = result.leaderboard
        self.ranked = self.board.dropna(subset=["horizon"]) if "horizon" in self.board else self.board.iloc[0:0]
        self.horizons = sorted(int(h) for h in self.ranked["horizon"].unique()) if len(self.ranked) else []
        self.headline_h = min(self.horizons, key=lambda h: (abs(h - HEADLINE_HORIZON), -h)) if self.horizons else None
        self.reference = headline_reference(self.runs)
        by_label = sorted(self.runs, key=lambda r: _natural_key(r.label))  # variants dark to light in label order
        self.colors = CF.run_colors([(r.label, r.model) for r in by_label])
        rank = {}
        if self.headline_h is not None:
            sub = self.ranked[self.ranked["horizon"] == self.headline_h]
            rank = dict(zip(sub["label"], sub["rank"].astype(float)))
        self.order = sorted(self.runs, key=lambda r: (0 if r.label in rank else 1 if r.ok else 2,
                                                      rank.get(r.label, 0), _natural_key(r.label)))
        self.best = set(self.ranked[(self.ranked["horizon"] == self.headline_h) & self.ranked["best"]]["label"]) \
            if self.headline_h is not None and "best" in self.ranked else set()
        self.risk_head = headline_risk(self.runs)

    def color(self, label: str) -> str:
        return self.colors.get(label, CF.INK)


# ---------------------------------------------------------------------------------------------- pages
def _para_height(text: str, size: float, width_pt: float = BODY_W_PT, after: float = 0.5) -> float:
    """Points a :meth:`TextColumn.para` takes, about (generous: DejaVu Sans averages ~0.55 em a character)."""
    lines = max(math.ceil(len(text) * 0.53 * size / (width_pt - 14)), 1)
    return lines * 1.4 * size + after * size


def _answer_pages(b: ReportBuilder, v: View) -> None:
    """The answer in plain words: the mixed-runs warning first (boxed), then the findings, how "best" and the
    tests are decided and what was compared; continued on further pages when it does not fit one."""
    result = v.result
    ref = v.reference or "the reference"
    ok = sum(r.ok for r in v.runs)
    models = len({r.model for r in v.runs})
    shas = sorted({str(r.metrics.get("data_sha256"))[:12] for r in v.runs if r.ok})
    settings = common_settings(v.runs)
    items = [("finding", line) for line in result.findings]
    items += [("head", "How this is decided")] + [("note", line) for line in (
        f"Best: {BEST_RULE}.", f"Tests: {TEST_RULE}.",
        f"Against {ref}: the skill and the paired test each run's record holds ({ref} forecast on the same backtest "
        "origins); lower log score is better.",
        "Current risk: each run's forecast from its last day of data (risk.csv): the probability of at least k "
        "attacks and the expected total in the next h days, with 90% intervals.")]
    items += [("head", "What was compared")] + [("note", line) for line in (
        f"{len(v.runs)} runs of {models} model{'s' if models > 1 else ''} ({ok} ended ok); labels add the overrides "
        "that tell runs of one model apart.",
        "Settings all runs share: " + (", ".join(settings) if settings else "none beyond the defaults") + ".",
        f"Data: sha256 {', '.join(shas) or 'n/a'}; report created {created_at():%Y-%m-%d %H:%M} UTC.")]
    style = {"finding": dict(size=10.5, bullet="•", after=0.55), "head": dict(size=9, weight="bold", after=0.2),
             "note": dict(size=8.5, color=CF.MUTED, bullet="–", after=0.25)}
    warning_pt = 0.0
    if result.warning:
        warning_pt = 30 + _para_height(result.warning, 9, BODY_W_PT - 20) + _para_height("x" * 120, 10.5)
    pages, current, used = [], [], warning_pt
    for kind, text in items:
        need = _para_height(text, style[kind]["size"]) + (6 if kind == "head" else 0)
        if current and used + need > BODY_H_PT:
            pages.append(current)
            current, used = [], 0.0
        current.append((kind, text))
        used += need
    pages.append(current)

    for n, chunk in enumerate(pages):
        def draw(fig, chunk=chunk, first=n == 0):
            col = TextColumn(fig)
            if first and result.warning:
                top = col.y
                col.y -= 8 / 72 / PAGE[1]
                col.para("Mixed comparison: these runs do not share data or backtest periods, so the ranking below "
                         "compares unlike things.", size=10.5, weight="bold", color=CF.WARN, indent=10, after=0.3,
                         width_pt=BODY_W_PT - 20)
                col.para(result.warning, size=9, color=CF.WARN, indent=10, after=0.2, width_pt=BODY_W_PT - 20)
                bottom = col.y - 6 / 72 / PAGE[1]
                fig.add_artist(Rectangle((MARGIN, bottom), 1 - 2 * MARGIN, top - bottom, transform=fig.transFigure,
                                         facecolor="#fbeaea", edgecolor=CF.WARN, lw=1.2, zorder=0))
                col.y = bottom - 12 / 72 / PAGE[1]
            for kind, text in chunk:
                if kind == "head":
                    col.y -= 6 / 72 / PAGE[1]
                col.para(text, **style[kind])

        b.add("Which model forecasts best, and what do they say now?" + (" (continued)" if n else ""), draw,
              "The answers in plain words; the pages after this hold the numbers." if not n else "")


def _risk_tables(v: View, per_page: int = 12) -> list[dict]:
    """The risk table, models as columns (so a row reads one quantity across models), split into pages of
    ``per_page`` models; each page ends with the median (bold, the consensus) and the range across all models."""
    runs = [r for r in v.order if r.ok and r.risk is not None]
    if not runs:
        return []
    risk = pd.concat([r.risk.assign(label=r.label) for r in runs])
    horizons = sorted(risk["horizon_days"].unique())
    thresholds = sorted(risk["threshold"].unique())
    quantities = [(h, k) for h in horizons for k in thresholds] + [(h, None) for h in horizons]
    quantities.sort(key=lambda q: (q[0], q[1] is None, q[1] or 0))
    pages = []
    n_pages = math.ceil(len(runs) / per_page)
    size = math.ceil(len(runs) / n_pages)
    for start in range(0, len(runs), size):
        chunk = runs[start:start + size]
        header = ["", ""] + [wrap_label(r.label, 16) for r in chunk] + (["median", "range"] if len(runs) > 1 else [])
        rows, rules = [], []
        for h, k in quantities:
            sel = risk[risk["horizon_days"] == h]
            first = k == thresholds[0]
            row = [f"next {h} day{'s' if h > 1 else ''}" if first else "",
                   f"P(≥{k})" if k is not None else "expected (90%)"]
            for r in chunk:
                t = r.risk[r.risk["horizon_days"] == h]
                if k is not None:
                    p = t[t["threshold"] == k]["probability"]
                    row.append(pct(float(p.iloc[0])) if len(p) else "")
                else:
                    e = t[["expected_total", "lo90", "hi90"]]
                    row.append(expected(*e.iloc[0].to_numpy(float)) if len(e) else "")
            if len(runs) > 1:
                if k is not None:
                    p = sel[sel["threshold"] == k]["probability"]
                    row += [pct(float(p.median())), f"{pct(float(p.min()))} – {pct(float(p.max()))}"]
                else:
                    e = sel.groupby("label")["expected_total"].first().dropna()
                    row += [num(float(e.median()), 2), f"{e.min():.2f} – {e.max():.2f}"] if len(e) else ["", ""]
            rows.append(row)
            if k is None and h != horizons[-1]:
                rules.append(len(rows) - 1)
        n = len(chunk)
        pages.append({"header": header, "rows": rows, "aligns": ["left", "left"] + ["right"] * (len(header) - 2),
                      "shade_cols": [2 + i for i, r in enumerate(chunk) if r.label in v.best],
                      "bold_cells": [(i, 2 + n) for i in range(len(rows))] if len(runs) > 1 else [],
                      "rules_after": rules})
    return pages


def _risk_page(table: dict) -> Callable:
    def draw(fig):
        CF.draw_table(body_axes(fig, (0, 0, 1, 1)), table["header"], table["rows"], aligns=table["aligns"], size=8.5,
                      min_size=5.0, shade_cols=table["shade_cols"], bold_cells=table["bold_cells"],
                      rules_after=table["rules_after"], stretch=1.3)
    return draw


def _spread_page(v: View) -> Callable | None:
    runs = [r for r in v.order if r.ok and r.risk is not None]
    if len(runs) < 1 or v.risk_head is None:
        return None
    k = v.risk_head[1]
    horizons = sorted({int(h) for r in runs for h in r.risk["horizon_days"]})

    def series(kind: str) -> list[dict]:
        out = []
        for r in runs:
            t = r.risk
            vals, lo, hi = [], [], []
            for h in horizons:
                row = t[(t["horizon_days"] == h) & (t["threshold"] == k)] if kind == "p" else t[t["horizon_days"] == h]
                if kind == "p":
                    vals.append(100 * float(row["probability"].iloc[0]) if len(row) else np.nan)
                    lo.append(np.nan), hi.append(np.nan)
                else:
                    first = row.iloc[0] if len(row) else None
                    vals.append(float(first["expected_total"]) if first is not None else np.nan)
                    lo.append(float(first["lo90"]) if first is not None else np.nan)
                    hi.append(float(first["hi90"]) if first is not None else np.nan)
            out.append({"label": r.label, "color": v.color(r.label), "values": vals, "lo": lo, "hi": hi})
        return out

    groups = [f"next {h} d" for h in horizons]

    def draw(fig):
        left = body_axes(fig, (0.0, 0.06, 0.36, 0.88))
        arts = CF.plot_offset_points(left, groups, series("p"))
        left.set_ylabel(f"P(≥{k} attack{'s' if k > 1 else ''}) in the next h days, %")
        left.set_ylim(bottom=0)
        left.set_title(f"Probability of at least {k} attack{'s' if k > 1 else ''}")
        right = body_axes(fig, (0.43, 0.06, 0.36, 0.88))
        s = series("e")
        CF.plot_offset_points(right, groups, s)
        tops = [x for d in s for x in (*d["values"], *d["hi"]) if np.isfinite(x)]
        CF.sqrt_axis(right, max(tops + [1.0]) * 1.08)
        right.set_ylabel("attacks in the next h days (square-root scale)")
        right.set_title("Expected total with 90% interval")
        handles = [a for a in arts if hasattr(a, "get_label") and a.get_label() in {x.label for x in runs}]
        legend_ax = body_axes(fig, (0.82, 0.06, 0.18, 0.88))
        legend_ax.axis("off")
        legend_ax.legend(handles=handles, labels=[wrap_label(h.get_label(), 30) for h in handles],
                         loc="upper left", frameon=False, fontsize=7.5, handletextpad=0.3, labelspacing=0.7,
                         title="model (rank order)", title_fontproperties={"weight": "bold", "size": 8},
                         alignment="left")

    return draw


def _leaderboard_blocks(v: View) -> list[dict]:
    ref = v.reference or "reference"
    blocks = []
    for h in v.horizons:
        g = v.ranked[v.ranked["horizon"] == h].sort_values(["rank", "label"])
        n = g["n_shared_origins"].iloc[0]
        origins = f"{int(n)} shared origins" if np.isfinite(n) else "each run's own origins"
        best = ", ".join(g[g["best"]]["label"])
        header = ["Rank", "Model", "Log score", "Δ", "p (Holm)", "Δ", "p", "p (Holm)", "verdict", "RPS", "MAE",
                  "cover 50%", "cover 90%"]
        brier = "brier_ge1" if "brier_ge1" in g else None
        if brier:
            header.append("Brier ≥1")
        rows, shade, bold = [], [], []
        for i, r in enumerate(g.itertuples()):
            d = r._asdict()
            rows.append([str(int(d["rank"])), d["label"], num(d["log_score_shared"]),
                         signed(d["log_score_diff_vs_best"]) if not d["best"] else "best", pval(d["dm_p_vs_best_holm"]),
                         signed(d.get("log_score_diff_vs_reference", np.nan)), pval(d.get("dm_p_vs_reference", np.nan)),
                         pval(d.get("dm_p_vs_reference_holm", np.nan)), short_verdict(d.get("versus_reference")),
                         num(d.get("rps", np.nan)), num(d.get("mae", np.nan)), pct(d.get("coverage_50", np.nan)),
                         pct(d.get("coverage_90", np.nan))] + ([num(d.get(brier, np.nan))] if brier else []))
            if d["best"]:
                shade.append(i)
        for col, name in ((2, "log_score_shared"), (9, "rps"), (10, "mae"), (13, brier)):
            if name and name in g and g[name].notna().any():
                values = g[name].to_numpy(float)
                bold += [(i, col) for i in np.flatnonzero(values == np.nanmin(values))]
        groups = [("against the best", 3, 4), (f"against {ref} (record)", 5, 8),
                  ("other mean scores", 9, len(header) - 1)]
        blocks.append({"title": f"{h}-day totals · ranked by mean log score over {origins} · best: {best}",
                       "header": header, "rows": rows, "groups": groups, "shade_rows": shade, "bold_cells": bold,
                       "aligns": ["right", "left"] + ["right"] * (len(header) - 2)})
    return blocks


def _table_pages(b: ReportBuilder, heading: str, caption: str, blocks: list[dict], size: float = 8.0) -> None:
    """Stack table blocks down the body, starting a new page when the next one does not fit (a block taller
    than a page is split into row chunks, its title marked 'continued')."""
    pieces = []
    for blk in blocks:
        fixed = CF.table_height(blk["header"], [], size, groups=bool(blk.get("groups")), title=True)
        per_row = CF.table_rows_height(1, size)
        chunk = max(int((BODY_H_PT - fixed) / per_row), 1)
        for start in range(0, max(len(blk["rows"]), 1), chunk):
            part = dict(blk, rows=blk["rows"][start:start + chunk],
                        shade_rows=[i - start for i in blk.get("shade_rows", []) if start <= i < start + chunk],
                        bold_cells=[(i - start, c) for i, c in blk.get("bold_cells", []) if start <= i < start + chunk])
            if start:
                part["title"] = blk["title"] + " (continued)"
            pieces.append(part)
    pages, current, used = [], [], 0.0
    for part in pieces:
        need = CF.table_height(part["header"], part["rows"], size, groups=bool(part.get("groups")), title=True) + 14
        if current and used + need > BODY_H_PT:
            pages.append(current)
            current, used = [], 0.0
        current.append(part)
        used += need
    if current:
        pages.append(current)
    for i, parts in enumerate(pages):
        def draw(fig, parts=parts):
            top = 1.0
            for part in parts:
                ax = body_axes(fig, (0, 0, 1, top))
                drawn = CF.draw_table(ax, part["header"], part["rows"], aligns=part.get("aligns"),
                                      groups=part.get("groups", ()), title=part.get("title"), size=size,
                                      shade_rows=part.get("shade_rows", ()), bold_cells=part.get("bold_cells", ()),
                                      bold_rows=part.get("bold_rows", ()), rules_after=part.get("rules_after", ()))
                top -= drawn.height * top + 14 / BODY_H_PT
        b.add(heading + (f" ({i + 1}/{len(pages)})" if len(pages) > 1 else ""), draw, caption)


def _significance_page(v: View) -> Callable | None:
    sig, ref_tests = v.result.significance, v.result.versus_reference
    if not v.horizons or (sig.empty and ref_tests.empty):
        return None
    order = [r.label for r in v.order if r.ranked]
    groups = [f"{h}-day totals" for h in v.horizons]

    def vs_best() -> list[dict]:
        out = []
        for label in order:
            vals, lo, hi, filled = [], [], [], []
            for h in v.horizons:
                row = sig[(sig["horizon"] == h) & (sig["model"] == label)] if len(sig) else sig
                if len(row):
                    x = row.iloc[0]
                    vals.append(x["mean_log_score_diff"]), lo.append(x["ci95_lo"]), hi.append(x["ci95_hi"])
                    filled.append(bool(x["p_holm"] < ALPHA))
                else:
                    vals.append(np.nan), lo.append(np.nan), hi.append(np.nan), filled.append(False)
            out.append({"label": label, "color": v.color(label), "values": vals, "lo": lo, "hi": hi, "filled": filled})
        return out

    def vs_ref() -> list[dict]:
        sub = ref_tests[ref_tests["headline"] & (ref_tests["period"] == "all")] if len(ref_tests) else ref_tests
        out = []
        for label in order:
            vals, lo, hi, filled = [], [], [], []
            for h in v.horizons:
                row = sub[(sub["horizon"] == h) & (sub["label"] == label)] if len(sub) else sub
                x = row.iloc[0] if len(row) else None
                usable = x is not None and np.isfinite(x["p_value"])
                vals.append(x["mean_log_score_diff"] if usable else np.nan)
                lo.append(x["ci95_lo"] if usable else np.nan), hi.append(x["ci95_hi"] if usable else np.nan)
                filled.append(bool(usable and x["p_holm"] < ALPHA))
            out.append({"label": label, "color": v.color(label), "values": vals, "lo": lo, "hi": hi, "filled": filled})
        return out

    def draw(fig):
        left = body_axes(fig, (0.0, 0.08, 0.37, 0.86))
        arts = CF.plot_offset_points(left, groups, vs_best(), zero=0)
        left.set_ylabel("mean log score, model − best (shared origins)")
        left.set_title("Against the best model at each horizon")
        for i, h in enumerate(v.horizons):
            best = v.ranked[(v.ranked["horizon"] == h) & v.ranked["best"]]["label"].tolist()
            left.annotate("best: " + wrap_label(", ".join(best), 22), (i, 0), xycoords=("data", "axes fraction"),
                          xytext=(0, -18), textcoords="offset points", ha="center", va="top", fontsize=6.5,
                          color=CF.MUTED, annotation_clip=False)
        right = body_axes(fig, (0.44, 0.08, 0.37, 0.86))
        CF.plot_offset_points(right, groups, vs_ref(), zero=0)
        right.set_ylabel(f"mean log score, model − {v.reference or 'reference'} (each run's origins)")
        right.set_title(f"Against {v.reference or 'the reference'}")
        handles = [a for a in arts if hasattr(a, "get_label") and a.get_label() in set(order)]
        legend_ax = body_axes(fig, (0.84, 0.08, 0.16, 0.86))
        legend_ax.axis("off")
        legend_ax.legend(handles=handles, labels=[wrap_label(h.get_label(), 26) for h in handles], loc="upper left",
                         frameon=False, fontsize=7.5, handletextpad=0.3, labelspacing=0.7, alignment="left",
                         title="model (rank order)", title_fontproperties={"weight": "bold", "size": 8})
        legend_ax.text(0, 0, "filled: Holm-adjusted p < 0.05\nhollow: not significant\nabove 0: worse", fontsize=7,
                       color=CF.MUTED, va="bottom", transform=legend_ax.transAxes)

    return draw


def _heatmap_page(v: View) -> Callable | None:
    t = v.result.versus_reference
    if t.empty or not v.reference:
        return None
    t = t[t["headline"] & (t["reference"] == v.reference)]
    periods = list(dict.fromkeys(t["period"]))
    named = [p for p in periods if p != "all"]
    if len(named) == 1:  # one period: "all" says the same
        periods = named
    order = [r.label for r in v.order if r.ranked and r.label in set(t["label"])]
    if not order or not periods:
        return None
    cols = [(p, h) for p in periods for h in v.horizons]
    names = [f"{p}\n{h}-day" for p, h in cols]
    diff = pd.DataFrame(np.nan, index=order, columns=names)
    padj = diff.copy()
    for (p, h), name in zip(cols, names):
        sub = t[(t["period"] == p) & (t["horizon"] == h)].set_index("label")
        for label in order:
            if label in sub.index and np.isfinite(sub.loc[label, "p_value"]):
                diff.loc[label, name] = sub.loc[label, "mean_log_score_diff"]
                padj.loc[label, name] = sub.loc[label, "p_holm"]

    diff = diff.dropna(how="all").dropna(axis=1, how="all")  # the reference's own run: no test against itself
    padj = padj.loc[diff.index, diff.columns]
    names = list(diff.columns)
    if diff.empty:
        return None
    order = list(diff.index)

    def draw(fig):
        renderer = fig.canvas.get_renderer()
        label_w = max(CF._text_width(renderer, s, 7.5, False) for s in order) + 10
        left = min(label_w / BODY_W_PT, 0.5)
        width = min(0.86 - left, 0.075 * len(names))
        height = min(0.85, 0.09 * len(order) + 0.05)
        ax = body_axes(fig, (left, 0.9 - height, width, height))
        arts = CF.plot_skill_heatmap(ax, diff, padj, alpha=ALPHA, blank="no test")
        ax.tick_params(axis="y", labelsize=7.5)
        cax = body_axes(fig, (left + width + 0.03, 0.9 - height + 0.1 * height, 0.012, 0.8 * height))
        bar = fig.colorbar(arts[0], cax=cax)
        bar.set_label(f"mean log score − {v.reference}\n(< 0 better, > 0 worse)", fontsize=7.5)
        bar.ax.tick_params(labelsize=7)

    return draw


def _read_history(v: View) -> pd.Series | None:
    """The last observed days (counts.csv of the first ok run that has one)."""
    for r in v.runs:
        path = r.folder / "counts.csv"
        if r.ok and path.exists():
            try:
                frame = pd.read_csv(path, usecols=["date", "count"])
                s = pd.Series(pd.to_numeric(frame["count"], errors="coerce").to_numpy(),
                              index=pd.to_datetime(frame["date"], format="ISO8601")).dropna()
                return s.iloc[-HISTORY_DAYS:] if len(s) else None
            except (OSError, ValueError, KeyError):
                continue
    return None


def _panel_pages(b: ReportBuilder, heading: str, caption: str, runs: list[Run],
                 panel: Callable, legend: Callable | None = None) -> None:
    per = GRID[0] * GRID[1]
    chunks = [runs[i:i + per] for i in range(0, len(runs), per)]
    for n, chunk in enumerate(chunks):
        def draw(fig, chunk=chunk):
            w, h = 1 / GRID[0], 0.92 / GRID[1]
            first = None
            for i, r in enumerate(chunk):
                c, row = i % GRID[0], i // GRID[0]
                ax = body_axes(fig, (c * w + 0.045, 0.08 + (GRID[1] - 1 - row) * h + 0.02, w - 0.07, h - 0.13))
                panel(ax, r, c == 0, row == (len(chunk) - 1) // GRID[0])
                first = first or ax
            if legend and first is not None:
                legend(fig, first)
        b.add(heading + (f" ({n + 1}/{len(chunks)})" if len(chunks) > 1 else ""), draw, caption)


def _forecast_pages(b: ReportBuilder, v: View) -> None:
    runs = [r for r in v.order if r.ok and r.forecast is not None]
    if not runs:
        return
    history = _read_history(v)
    top = max([float(np.nanmax(r.forecast[["q95", "mean"]].to_numpy(float))) for r in runs]
              + ([float(history.max())] if history is not None and len(history) else []) + [1.0])
    ymax = top * 1.12
    days = int(max(len(r.forecast) for r in runs))
    risk_h = v.risk_head

    def panel(ax, r: Run, first_col: bool, bottom: bool):
        note = None
        if risk_h and r.risk is not None:
            t = r.risk[(r.risk["horizon_days"] == risk_h[0])]
            p = t[t["threshold"] == risk_h[1]]["probability"]
            e = t["expected_total"]
            note = (f"P(≥{risk_h[1]} in {risk_h[0]} d) {pct(float(p.iloc[0])) if len(p) else 'n/a'}\n"
                    f"expected {num(float(e.iloc[0]), 2) if len(e) else 'n/a'} in {risk_h[0]} d")
        CF.plot_forecast_panel(ax, r.forecast, v.color(r.label), history=history, ymax=ymax, note=note)
        ax.set_title(wrap_label(r.label, 34), fontsize=8, loc="left", color=v.color(r.label), fontweight="bold",
                     pad=22 if note else 6)
        if first_col:
            ax.set_ylabel("attacks per day")
        else:
            ax.tick_params(labelleft=False)

    def legend(fig, ax):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [Patch(color="#bdbdbd", label=f"observed (last {HISTORY_DAYS} days)"),
                   Patch(color=CF.MUTED, alpha=0.2, lw=0, label="90% interval"),
                   Patch(color=CF.MUTED, alpha=0.42, lw=0, label="50% interval"),
                   Line2D([], [], color=CF.MUTED, lw=1.5, label="mean"),
                   Line2D([], [], color=CF.MUTED, lw=0.7, ls=":", label="last observed day")]
        fig.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False, fontsize=7.5,
                   bbox_to_anchor=(0.5, BODY_BOTTOM - 0.005))

    origin = sorted({str(r.metrics.get("origin")) for r in runs})
    _panel_pages(b, f"Forecasts of the next {days} days on one scale", (
        f"Daily attacks forecast after {', '.join(origin)} (forecast.csv): 90% and 50% intervals and the mean; "
        f"grey: the last {HISTORY_DAYS} observed days. One square-root y-axis for every panel: heights compare "
        f"across models."),
        runs, panel, legend)


def _reliability_pages(b: ReportBuilder, v: View) -> None:
    """Reliability of P(>=1 in h days) at the headline horizon: one panel per run when the backtest has one
    period, else a grid of runs (rows) by periods (columns), a few runs per page."""
    h = v.headline_h
    if h is None:
        return
    runs, all_periods = [], []
    for r in v.order:
        periods = ((r.metrics.get("calibration") or {}).get("periods") or {}) if r.ranked else {}
        curves = {}
        for p, body in periods.items() if isinstance(periods, dict) else ():
            rel = (((body or {}).get("horizons") or {}).get(str(h)) or {}).get("reliability") or {}
            if isinstance(rel.get("ge1"), dict):
                curves[p] = rel["ge1"]
        if curves:
            runs.append((r, curves))
            all_periods += list(curves)
    if not runs:
        return
    periods = list(dict.fromkeys(all_periods))
    heading = f"Calibration: P(≥1 attack in {h} days)"
    caption = (f"Reliability of each model's P(≥1 attack in {h} days) over the backtest: bins of the forecast "
               "probability (x) against how often it happened (y), bars 90% intervals (overlap-adjusted), "
               "numbers: forecasts per bin. On the diagonal: calibrated.")
    if len(periods) == 1:
        curves_of = {r.label: c for r, c in runs}

        def panel(ax, r: Run, first_col: bool, bottom: bool):
            CF.plot_reliability_panel(ax, list(curves_of[r.label].items()), v.color(r.label))
            ax.set_title(wrap_label(r.label, 34), fontsize=8, loc="left", color=v.color(r.label), fontweight="bold")
            if first_col:
                ax.set_ylabel("observed frequency")
            if bottom:
                ax.set_xlabel(f"forecast P(≥1 in {h} d)")

        _panel_pages(b, heading, caption + f" Backtest period: {periods[0]}.", [r for r, _ in runs], panel)
        return
    cols = min(len(periods), 5)
    per_page = 3 if cols > 3 else 4
    period_pages = [periods[i:i + cols] for i in range(0, len(periods), cols)]
    chunks = [(runs[i:i + per_page], ps) for ps in period_pages for i in range(0, len(runs), per_page)]
    for n, (chunk, ps) in enumerate(chunks):
        def draw(fig, chunk=chunk, ps=ps):
            rh = 0.96 / per_page
            for i, (r, curves) in enumerate(chunk):
                top = 1 - i * rh
                fig.text(MARGIN, BODY_BOTTOM + (top - 0.01) * (BODY_TOP - BODY_BOTTOM), r.label, fontsize=8.5,
                         fontweight="bold", color=v.color(r.label), va="top", ha="left")
                for j, p in enumerate(ps):
                    ax = body_axes(fig, (0.06 + j / len(ps) * 0.94, top - rh + 0.045, 0.94 / len(ps) - 0.04,
                                         rh - 0.1))
                    if p in curves:
                        CF.plot_reliability_panel(ax, [(p, curves[p])], v.color(r.label))
                    else:
                        ax.axis("off")
                    ax.set_title(p, fontsize=7.5, loc="center", color=CF.MUTED, pad=3)
                    ax.tick_params(labelsize=6.5)
                    if j == 0:
                        ax.set_ylabel("observed", fontsize=7)
                    if i == len(chunk) - 1:
                        ax.set_xlabel(f"forecast P(≥1 in {h} d)", fontsize=7)
        b.add(heading + (f" ({n + 1}/{len(chunks)})" if len(chunks) > 1 else ""), draw, caption)


STATE_NAMES = (("pit", "PIT"), ("coverage_50", "50% intervals"), ("coverage_90", "90% intervals"),
               ("ge1", "P(≥1)"))


def calibration_sentences(run: Run, horizons: list[int]) -> list[str]:
    """One sentence per horizon from the record's calibration states: each aspect's state and the periods
    in which it holds (numbers when there is one period)."""
    periods = (run.metrics.get("calibration") or {}).get("periods") or {}
    out = []
    for h in horizons:
        per = {p: ((body or {}).get("horizons") or {}).get(str(h)) for p, body in periods.items()}
        per = {p: x for p, x in per.items() if isinstance(x, dict)}
        if not per:
            continue
        parts = []
        for key, name in STATE_NAMES:
            states = {p: (x.get("states") or {}).get(key) for p, x in per.items()}
            states = {p: s.replace("above nominal, as intervals of discrete counts can be",
                                   "above nominal (as discrete counts can be)") for p, s in states.items() if s}
            if not states:
                continue
            if len(per) == 1:
                p, x = next(iter(per.items()))
                s = states.get(p, "")
                extra = (f" (p={pval(x.get('pit_p_value', np.nan) or np.nan)})" if key == "pit" else
                         f" (held {pct(x.get(key, np.nan) or np.nan)})" if key.startswith("coverage") else "")
                parts.append(f"{name} {s}{extra}")
                continue
            by_state: dict[str, list[str]] = {}
            for p, s in states.items():
                by_state.setdefault(s, []).append(p)
            if len(by_state) == 1:
                parts.append(f"{name} {next(iter(by_state))} in every period")
            else:
                parts.append(f"{name} " + ", ".join(f"{s} in {', '.join(ps)}" for s, ps in by_state.items()))
        if parts:
            out.append(f"{h}-day totals: " + "; ".join(parts) + ".")
    return out


def _verdict_pages(b: ReportBuilder, v: View) -> None:
    items = [(r, calibration_sentences(r, v.horizons)) for r in v.order if r.ranked]
    items = [(r, s) for r, s in items if s]
    if not items:
        return
    rules = next(((r.metrics.get("calibration") or {}).get("rules") for r, _ in items
                  if (r.metrics.get("calibration") or {}).get("rules")), [])
    size = 8.5
    chars = (BODY_W_PT - 12) / (0.5 * size)  # characters per line, about

    def height(sentences: list[str], size: float = size) -> float:  # points, about (measured when drawn)
        return sum(math.ceil(len(s) / chars) * 1.3 * size + 0.25 * size for s in sentences)

    pages, current, used = [], [], 0.0
    for r, sentences in items:
        need = 9.5 * 1.5 + height(sentences) + 6
        if current and used + need > BODY_H_PT * 0.95:
            pages.append(current)
            current, used = [], 0.0
        current.append((r, sentences))
        used += need
    if rules and used + 20 + height(rules, 7) > BODY_H_PT * 0.95:
        pages.append(current)
        current = []
    pages.append(current)
    for i, chunk in enumerate(pages):
        def draw(fig, chunk=chunk, last=i == len(pages) - 1):
            col = TextColumn(fig)
            for r, sentences in chunk:
                col.para(r.label, size=9.5, weight="bold", color=v.color(r.label), after=0.15)
                for s in sentences:
                    col.para(s, size=size, indent=12, after=0.2)
                col.y -= 4 / 72 / PAGE[1]
            if last and rules:
                col.y -= 4 / 72 / PAGE[1]
                col.para("The rules behind the words", size=8, weight="bold", color=CF.MUTED, after=0.15)
                for rule in rules:
                    col.para(rule, size=7, color=CF.MUTED, bullet="–", after=0.1)
        b.add("Calibration verdicts" + (f" ({i + 1}/{len(pages)})" if len(pages) > 1 else ""), draw,
              "What each model's backtest says about its calibration, from the calibration summary of its record.")


def _parameter_pages(b: ReportBuilder, v: View) -> None:
    runs = [r for r in v.order if r.ok and isinstance(r.metrics.get("params"), dict) and r.metrics["params"]]
    if not runs:
        return
    names = list(dict.fromkeys(k for r in runs for k in r.metrics["params"]))
    rows_per_page = 34
    per_page = math.ceil(len(runs) / math.ceil(len(runs) / 8))
    for i in range(0, len(runs), per_page):
        chunk = runs[i:i + per_page]
        shown = [n for n in names if any(r.metrics["params"].get(n) is not None for r in chunk)]
        for j in range(0, len(shown), rows_per_page):
            part = shown[j:j + rows_per_page]
            header = ["parameter"] + [wrap_label(r.label, 22) for r in chunk]
            rows = []
            for name in part:
                row = [name]
                for r in chunk:
                    value = r.metrics["params"].get(name)
                    se = (r.metrics.get("stderr") or {}).get(name)
                    text = f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else \
                        ("" if value is None else str(value))
                    if text and isinstance(se, (int, float)) and math.isfinite(se):
                        text += f" ± {se:.2g}"
                    row.append(text)
                rows.append(row)
            b.add("Parameters across runs", lambda fig, h=header, rr=rows: CF.draw_table(
                body_axes(fig, (0, 0, 1, 1)), h, rr, size=7.5, min_size=4.5, stretch=1.2),
                "Fitted parameters (± standard error where the record has one); blank: not a parameter of that model.")


def _runs_page(b: ReportBuilder, v: View) -> None:
    """Every run read: label, status, folder (relative to the folder they share) and the error, if any."""
    import os

    parents = {str(r.folder.parent) for r in v.runs}
    common = os.path.commonpath(list(parents)) if parents else ""
    header = ["Model", "status", "folder" + (f" (in {common})" if common else ""), "note"]
    rows = []
    for r in v.order:
        note = r.metrics.get("error") or ("" if r.ranked else "no backtest scores" if r.ok else "")
        folder = os.path.relpath(r.folder, common) if common else str(r.folder)
        rows.append([r.label, str(r.metrics.get("status")), folder, str(note or "")])
    per = 30
    for i in range(0, len(rows), per):
        b.add("Runs compared", lambda fig, rr=rows[i:i + per]: CF.draw_table(
            body_axes(fig, (0, 0, 1, 1)), header, rr, size=7.5, min_size=4.0, stretch=1.1,
            aligns=["left"] * len(header)),
            "Every run read, in rank order; unranked runs last. Labels: model plus the overrides that tell runs "
            "apart; run ids and full paths are in leaderboard.csv.")


# ---------------------------------------------------------------------------------------------- entry
def write_compare_report(result: Comparison, path: Path) -> Path:
    """Write the comparison PDF of ``result`` to ``path`` (atomically) and return the path."""
    v = View(result)
    models = len({r.model for r in result.runs})
    names = ", ".join(dict.fromkeys(r.model for r in v.order))
    b = ReportBuilder("Model comparison", "Comparison of escalation-risk forecasts across runs",
                      "forecast, comparison, leaderboard, Diebold-Mariano, Holm, risk",
                      result.name or result.compare_id,
                      names if len(names) <= 90 else f"{models} models")
    _answer_pages(b, v)
    tables = _risk_tables(v)
    if tables:
        origins = sorted({str(r.metrics.get("origin")) for r in result.runs if r.ok and r.metrics.get("origin")})
        head = f" at {v.headline_h}-day totals" if v.headline_h else ""
        for i, table in enumerate(tables):
            b.add("Current risk: every model's numbers" + (f" ({i + 1}/{len(tables)})" if len(tables) > 1 else ""),
                  _risk_page(table), (
                      f"P(≥k): probability of at least k attacks in the next h days after {', '.join(origins)}; "
                      f"expected total with 90% interval. Models in rank order{head}; shaded: the best; bold: the "
                      f"median "
                      f"across models (the consensus)."))
        spread = _spread_page(v)
        if spread:
            b.add("How far apart the models are", spread, (
                "Each model's current risk side by side (colours as everywhere in this report; runs of one model "
                "share a hue). The spread between models is uncertainty no single model's interval shows."))
    blocks = _leaderboard_blocks(v)
    if blocks:
        ref = v.reference or "the reference"
        _table_pages(b, "Leaderboard", (
            f"Δ: difference in mean log score (above 0 = worse). Against the best: shared origins, DM p "
            f"Holm-adjusted. Against {ref}: the record's test on its own origins, raw and Holm-adjusted p. "
            f"Shaded: best; bold: lowest."),
            blocks)
    sig_page = _significance_page(v)
    if sig_page:
        b.add("Paired significance: against the best and against " + (v.reference or "the reference"), sig_page, (
            "Mean log-score difference with its 95% interval (from the Diebold-Mariano statistic); filled points: "
            "significant after Holm adjustment across the models tested at that horizon."))
    heat = _heatmap_page(v)
    if heat:
        b.add(f"Skill against {v.reference} by backtest period", heat, (
            f"Mean log score minus {v.reference}'s on the same origins, per period and horizon (blue: better, red: "
            f"worse; colours saturate), with the DM p-value Holm-adjusted across the models tested in that cell; "
            f"framed: p < {ALPHA:g}."))
    _forecast_pages(b, v)
    _reliability_pages(b, v)
    _verdict_pages(b, v)
    _parameter_pages(b, v)
    _runs_page(b, v)
    return b.save(path)
