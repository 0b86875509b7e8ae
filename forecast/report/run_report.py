"""The PDF report of one run, rendered from its record folder alone.

Pages: the bottom line (headline risk and how far to trust it) · the forecast (daily and cumulative
fan, risk table, other models of the same sweep) · the scenario (when one ran) · backtest scores ·
calibration by period · forecasts around onsets · the model (parameters, trigger effects, notes) ·
its fit over time · the data (daily counts, lulls, exposure, triggers; months; coverage) · glossary ·
appendix (provenance, versions, configuration).

Everything model-specific reaches this module as data: the parameter table, ``effect_scale``, the
``effect_<kind>`` naming of the contract, the model's notes and named series. No model option is
named here.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from forecast.report import figures as F
from forecast.report.builder import (
    GOOD,
    INK,
    MUTED,
    PAGE,
    WARN,
    Flow,
    ReportBuilder,
    body_axes,
    body_box,
    created_at,
    line_height,
    plain,
    shorten_to,
    table_at,
    text_lines,
    text_width,
    wrap,
)
from forecast.report.record import RunView, load_record

__all__ = ["write_run_report", "build_report", "headline", "skill_sentence", "effect_sentence", "interval_trust",
           "outcome_sentence", "fmt_p", "fmt_prob", "GLOSSARY"]

HEADLINE_K = 5  # the escalation threshold of the headline: P(at least k attacks in 14 days)
ALPHA = 0.05  # paired tests: p below this reads "better"/"worse", else "indistinguishable"


# ---- number words --------------------------------------------------------------------------------------
def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(float(x))


def fmt_p(p) -> str:
    """A p-value: '<0.001', '0.004', '0.03', '0.41'."""
    if not _finite(p):
        return "n/a"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    if p < 0.01:
        return f"{p:.3f}"
    return f"{p:.2f}"


def fmt_prob(p) -> str:
    """A probability as a percentage that never rounds to a false 0% or 100%."""
    if not _finite(p):
        return "n/a"
    p = float(p)
    if p < 0.001:
        return "<0.1%"
    if p < 0.0995:
        return f"{p:.1%}".replace(".0%", "%") if p >= 0.01 else f"{p:.1%}"
    if p > 0.999:
        return ">99.9%"
    if p > 0.99:
        return f"{p:.1%}"
    return f"{p:.0%}"


def fmt_num(x, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, no scientific notation for everyday sizes."""
    if not _finite(x):
        return "-"
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) < 0.001:
        return f"{x:.1e}"
    mag = int(math.floor(math.log10(abs(x))))
    decimals = max(digits - 1 - mag, 0)
    return f"{x:,.{decimals}f}"


def fmt_signed(x, decimals: int = 2) -> str:
    if not _finite(x):
        return "-"
    x = float(x)
    if abs(x) < 0.5 * 10 ** -decimals:
        return f"{0:.{decimals}f}"
    return f"{x:+.{decimals}f}"


def fmt_mult(x) -> str:
    """A rate multiplier: ×0.14, ×1.0, ×7.1, ×120."""
    if not _finite(x):
        return "-"
    x = float(x)
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 0.1:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_date(d) -> str:
    return pd.Timestamp(d).strftime("%-d %b %Y")


def likelihood_words(p: float) -> str:
    """Words for a probability (the US intelligence community's scale, ICD 203)."""
    if p < 0.01:
        return "remote"
    if p < 0.05:
        return "almost no chance"
    if p < 0.20:
        return "very unlikely"
    if p < 0.45:
        return "unlikely"
    if p <= 0.55:
        return "roughly even chance"
    if p <= 0.80:
        return "likely"
    if p <= 0.95:
        return "very likely"
    return "almost certain"


def _days(h: int) -> str:
    return f"{h} day" if int(h) == 1 else f"{h} days"


def _join(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def humanise(kind: str) -> str:
    """A trigger kind in words: 'us_strike' -> 'US strike' (several kinds joined by '; ' each in words)."""
    parts = []
    for part in str(kind).split(";"):
        words = part.strip().split("_")
        parts.append(" ".join(w.upper() if w.lower() in ("us", "uk", "un", "irgc") else w for w in words))
    return "; ".join(parts)


# ---- the headline --------------------------------------------------------------------------------------
def _nearest(values: list[int], target: int) -> int | None:
    return min(values, key=lambda v: (abs(v - target), v)) if values else None


def headline(view: RunView) -> dict:
    """The headline numbers from ``risk.csv``: P(>=1 in 7 days), P(>=k in 14 days), expected 14-day
    total with its 90% interval (nearest recorded horizons/threshold when 7, 14 or k are not recorded)."""
    horizons, thresholds = view.risk_horizons, view.thresholds
    h7, h14 = _nearest(horizons, 7), _nearest(horizons, 14)
    k = HEADLINE_K if HEADLINE_K in thresholds else _nearest([t for t in thresholds if t > 1] or thresholds, HEADLINE_K)
    r1, rk = view.risk_row(h7, 1 if 1 in thresholds else thresholds[0]), view.risk_row(h14, k)
    return {"h7": h7, "h14": h14, "k": k, "k1": 1 if 1 in thresholds else thresholds[0],
            "p_ge1_7": float(r1["probability"]), "p_gek_14": float(rk["probability"]),
            "mean_14": float(rk["expected_total"]), "lo90_14": int(round(rk["lo90"])),
            "hi90_14": int(round(rk["hi90"]))}


def headline_sentence(view: RunView, hl: dict) -> str:
    """One plain-English sentence with the headline numbers."""
    p1, pk = hl["p_ge1_7"], hl["p_gek_14"]
    lo, hi = hl["lo90_14"], hl["hi90_14"]
    span = f"{lo} to {hi}"
    return (f"At least one attack in the next {_days(hl['h7'])} is {likelihood_words(p1)} ({fmt_prob(p1)}); "
            f"{hl['k']} or more in {_days(hl['h14'])} is {likelihood_words(pk)} ({fmt_prob(pk)}), with "
            f"{fmt_num(hl['mean_14'], 2)} attacks expected (90% interval {span}).")


def activity_sentence(view: RunView) -> str:
    """Attacks in the last 30 and 90 days before the origin."""
    if view.counts is None or view.origin is None:
        return ""
    c = view.counts["count"].loc[:view.origin]
    last30, last90 = int(c.iloc[-30:].sum()), int(c.iloc[-90:].sum())
    return f"Attacks in the last 30 days before the origin: {last30}; in the last 90 days: {last90}."


def lull_sentence(view: RunView) -> str:
    lull = view.metrics.get("lull") or {}
    if not lull:
        return ""
    last = lull.get("last_attack")
    when = f" since {fmt_date(last)}" if last else ""
    if lull.get("in_lull"):
        return f"The series is in a lull: {lull.get('quiet_days')} days without an attack{when}."
    q = lull.get("quiet_days", 0)
    return ("The last attack was on the origin day." if q == 0 else
            f"The last attack was {_days(q)} before the origin{' (' + fmt_date(last) + ')' if last else ''}.")


def _recent_period(view: RunView, horizon: int) -> tuple[str, dict] | None:
    """The calibration entry of the backtest period nearest the origin (the last one that starts on or
    before it) at ``horizon``."""
    periods = (view.calibration.get("periods") or {})
    if not periods:
        return None
    origin = view.origin
    best = None
    for name, p in periods.items():
        entry = (p.get("horizons") or {}).get(str(horizon))
        if not entry:
            continue
        start = pd.Timestamp(p.get("start")) if p.get("start") else None
        if best is None or origin is None or (start is not None and start <= origin and
                                              (best[2] is None or start >= best[2])):
            best = (name, entry, start)
    return (best[0], best[1]) if best else None


def _coverage_state(entry: dict, level: int = 90) -> str:
    states = entry.get("states") or {}
    state = states.get(f"coverage_{level}")
    if state:
        return str(state)
    cov, band = entry.get(f"coverage_{level}"), entry.get(f"coverage_{level}_band")
    if not _finite(cov) or not band:
        return ""
    return "too narrow" if cov < band[0] else ("as nominal" if cov <= band[1] else "above nominal")


def _band(band) -> str:
    lo, hi = (float(band[0]), min(float(band[1]), 1.0)) if band and all(_finite(b) for b in band) else (np.nan, np.nan)
    return f"{lo:.0%} to {hi:.0%}" if _finite(lo) else "n/a"


def interval_trust(view: RunView, horizon: int) -> tuple[str, bool]:
    """How far the headline's 90% interval held in the backtest: (sentence, warn).

    Judged in the backtest period nearest the origin (the last that starts on or before it): ``warn`` when
    the coverage of 90% intervals of ``horizon``-day totals there is outside its expected range, and the
    sentence then says how to treat the interval ("treat as too narrow"); periods elsewhere outside their
    range are named. Without calibration periods, the pooled coverage is judged against a binomial range
    with one independent outcome per ``horizon`` origins."""
    horizons = view.horizons
    if not horizons:
        return "No backtest: how often such intervals hold is unknown.", True
    h = _nearest(horizons, horizon)
    what = f"90% intervals of {h}-day totals"
    recent = _recent_period(view, h)
    if recent is None:
        s = view.scores.get(str(h)) or {}
        cov, n = s.get("coverage_90"), s.get("n_origins")
        if not _finite(cov):
            return "", False
        n_eff = max(float(n or 0) / h, 1.0)
        half = 1.96 * math.sqrt(0.09 / n_eff)
        band = [0.9 - half, 0.9 + half]
        state = "too narrow" if cov < band[0] else ("as nominal" if cov <= band[1] else "above nominal")
        name = "all origins"
    else:
        name, entry = recent
        cov, band = entry.get("coverage_90"), entry.get("coverage_90_band") or [np.nan, np.nan]
        state = _coverage_state(entry)
    text = f"Backtest ({name}): {what} held {fmt_prob(cov)} of outcomes (expected {_band(band)})"
    warn = state.startswith(("too narrow", "too wide"))
    if warn:
        text += f": treat as {'too narrow' if state.startswith('too narrow') else 'too wide'}"
    others = []
    for p, v in (view.calibration.get("periods") or {}).items():
        e = (v.get("horizons") or {}).get(str(h))
        if e and p != name and _coverage_state(e).startswith(("too narrow", "too wide")):
            others.append(f"{p} ({fmt_prob(e.get('coverage_90'))}, {_coverage_state(e).split(',')[0]})")
    if others:
        text += f". Outside the expected range in {_join(others)}"
    return text + ".", warn


def outcome_sentence(view: RunView, hl: dict) -> str:
    """For a past origin: what happened, and whether it fell inside the 90% interval."""
    if not view.is_past_origin:
        return ""
    after = view.observed_after()
    parts = []
    h = hl["h14"]
    if len(after) >= h:
        total = int(after.iloc[:h].sum())
        lo, hi = hl["lo90_14"], hl["hi90_14"]
        where = "inside" if lo <= total <= hi else ("above" if total > hi else "below")
        verb = "fell inside" if where == "inside" else f"fell outside ({where})"
        parts.append(f"What happened: {total} attack{'s' if total != 1 else ''} in the {_days(h)} after "
                     f"{fmt_date(view.origin)}, which {verb} the 90% interval ({lo} to {hi}).")
    else:
        parts.append(f"What happened: only {len(after)} days after the origin are in the data.")
    h7 = hl["h7"]
    if len(after) >= h7:
        hit = int(after.iloc[:h7].sum()) > 0
        first = after[after > 0]
        when = f" (first on {fmt_date(first.index[0])})" if hit else ""
        parts.append(f"At least one attack {'did' if hit else 'did not'} come within {_days(h7)}{when}; the "
                     f"forecast gave it {fmt_prob(hl['p_ge1_7'])}.")
    return " ".join(parts)


# ---- skill in words ------------------------------------------------------------------------------------
def verdict(mean_diff, p, alpha: float = ALPHA) -> str:
    """'better' / 'worse' (log score, paired test p < alpha) or 'indistinguishable'. ``mean_diff`` is
    model minus reference log score: negative = the model is better."""
    if not _finite(mean_diff) or not _finite(p):
        return "untested"
    if float(p) < alpha:
        return "better" if float(mean_diff) < 0 else "worse"
    return "indistinguishable"


def skill_sentence(tests: dict, reference: str, where: str = "") -> str:
    """Paired-test results of every horizon in words, e.g. "better than nb_window at 14 days (p=0.03);
    indistinguishable at 1 and 7 days (p=0.22, 0.41)". ``tests``: horizon -> {mean_diff, dm_p}."""
    groups: dict[str, list[tuple[int, float]]] = {}
    for h in sorted(tests, key=int):
        t = tests[h] or {}
        groups.setdefault(verdict(t.get("mean_diff"), t.get("dm_p")), []).append((int(h), t.get("dm_p")))
    parts = []
    for word in ("better", "worse", "indistinguishable", "untested"):
        if word not in groups:
            continue
        hs = groups[word]
        days = _join([str(h) for h, _ in hs]) + (" day" if len(hs) == 1 and hs[0][0] == 1 else " days")
        ps = ", ".join(fmt_p(p) for _, p in hs)
        scope = f" {where}" if where else ""
        if word in ("better", "worse"):
            parts.append(f"{word} than {reference} at {days}{scope} (p={ps})")
        elif word == "indistinguishable":
            parts.append(f"indistinguishable from {reference} at {days}{scope} (p={ps})" if not parts else
                         f"indistinguishable at {days} (p={ps})")
        else:
            parts.append(f"not tested at {days}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""


def _pattern(tests: dict) -> tuple:
    return tuple(verdict((tests.get(h) or {}).get("mean_diff"), (tests.get(h) or {}).get("dm_p"))
                 for h in sorted(tests, key=int))


# ---- trigger effects in words --------------------------------------------------------------------------
def effect_sentence(kind: str, estimate, lower, upper, scale: str | None) -> str:
    """A trigger effect as its multiplier with the 95% interval, in words, on the model's ``scale``."""
    name = f"A {humanise(kind)} trigger"
    if not (_finite(estimate) and _finite(lower) and _finite(upper)):
        return f"{name}: effect not estimated (no variation in the data)."
    clear = lower > 0 or upper < 0
    if scale in ("log_rate", "log_odds"):
        m, lo, hi = math.exp(estimate), math.exp(lower), math.exp(upper)
        what = "the attack rate" if scale == "log_rate" else "the odds of a change of regime"
        text = f"{name} is followed by ×{fmt_mult(m)} ({fmt_mult(lo)} to {fmt_mult(hi)}) {what}"
        if not clear:
            return text + ": not distinguishable from no effect."
        up = "raises it (backlash)" if scale == "log_rate" else "makes a change more likely"
        down = "lowers it (deterrence)" if scale == "log_rate" else "makes a change less likely"
        return text + f": {up if estimate > 0 else down}."
    if scale == "sqrt_level":
        text = (f"{name} shifts the square root of the daily attack level by {fmt_signed(estimate)} "
                f"({fmt_signed(lower)} to {fmt_signed(upper)})")
    else:
        text = (f"{name} has an effect of {fmt_signed(estimate)} ({fmt_signed(lower)} to {fmt_signed(upper)}) on "
                "the model's scale")
    if not clear:
        return text + ": not distinguishable from no effect."
    return text + (": raises the attack level." if estimate > 0 else ": lowers the attack level.")


def effect_sentences(view: RunView) -> list[str]:
    if view.fit is None:
        return []
    eff = view.fit.effects
    return [effect_sentence(kind, r["estimate"], r["ci_lower"], r["ci_upper"], view.fit.effect_scale)
            for kind, r in eff.iterrows()]


# ---- parameter units (for the glossary) ----------------------------------------------------------------
def parameter_unit(name: str, scale: str | None) -> str:
    """Unit and meaning of a parameter named by the contract (``baseline``, ``adjacency``, ``decay``,
    ``effect_<kind>``) or by common statistical usage; a ``unit`` column in the record wins."""
    if name.startswith("effect_"):
        return {"log_rate": "log rate multiplier: exp(effect) x the rate",
                "log_odds": "log odds multiplier: exp(effect) x the odds",
                "sqrt_level": "change in sqrt(attacks per day)"}.get(scale or "", "the model's own scale")
    if name.startswith("weight_"):
        return "share of the pooled forecast (0 to 1)"
    if name.startswith(("ar.", "ma.")):
        return "ARMA coefficient (no unit)"
    fixed = {"baseline": "attacks per day, with no triggers or recent attacks",
             "adjacency": "further attacks per attack (branching ratio)",
             "decay": "per day: excitation falls as exp(-decay x days)",
             "alpha": "dispersion: variance = mean + alpha x mean^2",
             "sigma2": "variance of the innovations (model scale)",
             "intercept": {"log_rate": "log attacks per day", "sqrt_level": "sqrt(attacks per day)"}.get(
                 scale or "", "model scale"),
             "log_baseline": "log attacks per day", "mean_daily": "attacks per day", "rate": "attacks per day",
             "mean": "attacks per day"}
    if name in fixed:
        return fixed[name]
    if scale == "log_rate":
        return "log rate change per unit of the regressor"
    return "model scale (see the model's notes)"


# ---- the report ----------------------------------------------------------------------------------------
def write_run_report(folder: str | Path, path: str | Path) -> Path:
    """Render the PDF of the run record in ``folder`` to ``path`` (from the record alone)."""
    return build_report(load_record(folder)).save(path)


def default_pdf_path(view: RunView) -> Path:
    """Where ``forecast-report`` writes by default: where the run put its PDF (``report_path``, else
    ``paths.reports_dir/<run_id>.pdf``) when that folder exists, else the run folder."""
    recorded = view.metrics.get("report_path")
    if recorded and Path(recorded).parent.is_dir():
        return Path(recorded)
    reports = (view.config.get("paths") or {}).get("reports_dir")
    if reports and Path(str(reports)).is_dir():
        return Path(str(reports)) / f"{view.run_id}.pdf"
    return view.folder / f"{view.run_id}.pdf"


def build_report(view: RunView) -> ReportBuilder:
    """The pages of the run report of ``view`` (render with ``.render()`` or ``.save(path)``)."""
    from forecast.report.record import RecordError

    if view.risk is None or view.forecast is None or view.counts is None:
        raise RecordError(f"{view.folder}: the record holds no forecast (a task=data or failed run): nothing to "
                          "report")
    model = view.model
    b = ReportBuilder(f"{view.title}: {view.name}", f"Escalation-risk forecast, model {model}",
                      f"forecast, escalation risk, {model}, backtest", view.run_id, model)
    ctx = _Context(view)
    _bottom_line(b, ctx)
    _forecast_page(b, ctx)
    if view.scenario is not None:
        _scenario_page(b, ctx)
    if view.scores:
        _backtest_page(b, ctx)
        _calibration_pages(b, ctx)
    if view.onsets is not None and len(view.onsets):
        _onsets_page(b, ctx)
    if view.fit is not None:
        _model_page(b, ctx)
    _data_pages(b, ctx)
    _glossary_page(b, ctx)
    _appendix(b, ctx)
    return b


class _Context:
    """What several pages share, computed once."""

    def __init__(self, view: RunView):
        self.view = view
        self.color = F.model_color(view.model)
        self.hl = headline(view)
        self.ref = view.skill_reference
        desc = view.references.get(self.ref, "") if self.ref else ""
        self.ref_desc = desc
        self.origin = view.origin or view.data_end
        counts = view.counts
        self.lull_mask = counts["in_lull"] if "in_lull" in counts else None


def _period_span(view: RunView) -> str:
    bt = view.backtest
    if bt is None or not len(bt):
        return ""
    o = pd.to_datetime(bt["origin"])
    return f"{fmt_date(o.min())} - {fmt_date(o.max())}"


def _coverage_cell(view: RunView, h: int) -> tuple[str, bool]:
    """Periods whose 90% intervals of ``h``-day totals held outside the expected range, with the direction."""
    out = []
    for p, v in (view.calibration.get("periods") or {}).items():
        state = _coverage_state(((v.get("horizons") or {}).get(str(h))) or {})
        if state.startswith(("too narrow", "too wide")):
            out.append(f"{p} ({state.split(',')[0].removeprefix('too ')})")
    return (_join(out), True) if out else ("none", False)


def _bottom_line(b: ReportBuilder, ctx: _Context) -> None:
    view, hl, color = ctx.view, ctx.hl, ctx.color
    trust, warn = interval_trust(view, hl["h14"])
    lo, hi = hl["lo90_14"], hl["hi90_14"]
    span = f"{lo} to {hi}"
    cards = [(fmt_prob(hl["p_ge1_7"]), f"chance of at least one attack in the next {_days(hl['h7'])}", None),
             (fmt_prob(hl["p_gek_14"]), f"chance of {hl['k']} or more attacks in the next {_days(hl['h14'])}", None),
             (fmt_num(hl["mean_14"], 2), f"attacks expected in the next {_days(hl['h14'])}; 90% interval: {span}",
              (trust, warn))]
    sentence = headline_sentence(view, hl)
    outcome = outcome_sentence(view, hl)
    lull = lull_sentence(view)
    findings = _findings(view)

    tests = (view.paired_tests.get(ctx.ref) or {}) if ctx.ref else {}
    pooled = tests.get("all") or {}
    rows, colors = [], {}
    for i, h in enumerate(view.horizons):
        s = view.scores.get(str(h)) or {}
        t = pooled.get(str(h)) or {}
        where, bad = _coverage_cell(view, h)
        v = verdict(t.get("mean_diff"), t.get("dm_p"))
        rows.append([_days(h), fmt_prob(s.get("coverage_90")), where, fmt_signed(t.get("mean_diff")),
                     f"{v} (p={fmt_p(t.get('dm_p'))})" if v != "untested" else "-"])
        colors[(i, 4)] = GOOD if v == "better" else WARN if v == "worse" else INK
        if bad:
            colors[(i, 2)] = WARN
    same, period_lines = [], []
    if tests:
        base = _pattern(pooled)
        for period, pt in tests.items():
            if period == "all" or not pt:
                continue
            if _pattern(pt) != base:
                text = skill_sentence(pt, ctx.ref)
                period_lines.append(f"In {period}: {text[:1].lower()}{text[1:]}")
            else:
                same.append(period)

    def draw(fig):
        left = Flow(fig, 0, 0.46)
        for value, label, note in cards:
            top = left.top
            fig.text(left.x, top + 0.004, value, fontsize=24, fontweight="bold", color=color, va="top")
            lines = wrap(label, left.width_in - 1.65, 10)
            text_lines(fig, left.x + 1.65 / PAGE[0], top - 0.002, lines, size=10, spacing=1.25, color=INK)
            left.top = top - max(0.052, len(lines) * 10 * 1.25 / 72 / PAGE[1] + 0.006)
            if note:
                left.para(note[0], size=8.5, color=WARN if note[1] else MUTED, weight="bold" if note[1] else "normal",
                          after=0.9)
            else:
                left.skip(0.5)
        left.para(sentence, size=10.5, after=0.8)
        if outcome:
            left.para(outcome, size=10, weight="bold", after=0.8)
        if lull:
            left.para(lull, size=9.5, after=0.2)
        left.para(activity_sentence(view), size=9.5, after=0.8)
        if findings:
            left.heading("What the model says", size=9.5)
            for f in findings:
                left.para(f, size=8.5, bullet=True, after=0.25)

        right = Flow(fig, 0.52, 0.48)
        right.heading("How far to trust these numbers")
        n = (view.metrics.get("backtest_info") or {}).get("origins")
        if not view.horizons:
            right.para("This run has no backtest: nothing says how often its intervals hold or whether it beats a "
                       "simple baseline.", size=9.5, color=WARN, weight="bold")
            return
        right.para(f"Backtest: {n or 'all'} past origins, {_period_span(view)}; each forecast judged on the "
                   "total of the next h days.", size=8.5, color=MUTED, after=0.5)
        ref = ctx.ref or "reference"
        right.table(["horizon", "90% intervals held", "outside the expected range in",
                     f"log score vs {ref} (negative = better)", "paired test"], rows,
                    widths=[0.11, 0.1, 0.28, 0.15, 0.36], size=8, header_lines=2,
                    aligns=["left", "right", "left", "right", "left"], colors=colors, after=0.7)
        if pooled:
            right.para(skill_sentence(pooled, ref), size=9.5, weight="bold", after=0.4)
        if ctx.ref_desc:
            right.para(f"{ref}: {ctx.ref_desc}.".replace("..", "."), size=8, color=MUTED, after=0.6)
        if period_lines:
            right.para("Where the backtest periods differ:", size=9, weight="bold", after=0.15)
            for line in period_lines:
                right.para(line, size=8.5, bullet=True, after=0.2)
            if same:
                right.para(f"In {_join(same)}: as over all origins.", size=8.5, bullet=True, after=0.2)
        elif len(same) > 1:
            right.para(f"Every backtest period ({_join(same)}) gives the same verdicts.", size=8.5, after=0.3)
        right.skip(0.4)
        right.para(f"Paired test: Diebold-Mariano, p below {ALPHA:g} reads as better or worse (see the glossary).",
                   size=7.5, color=MUTED)

    origin = fmt_date(ctx.origin) if ctx.origin is not None else "?"
    b.add(f"Executive summary: attacks on US forces after {origin}", draw,
          f"Model {view.model} ({view.metrics.get('model_choice') or 'as configured'}) · experiment {view.name} · "
          f"data {fmt_date(view.data_start)} to {fmt_date(view.data_end)} · forecasts for the days after {origin}.")


def _findings(view: RunView) -> list[str]:
    """Up to four short findings from the model's own record: trigger effects that stand out (or that none
    does) and the model's first notes."""
    out = []
    if view.fit is not None:
        sentences = effect_sentences(view)
        clear = [s for s in sentences if not s.endswith("no effect.") and "not estimated" not in s]
        if clear:
            out += clear[:2]
        elif sentences:
            out.append("No trigger kind has an effect distinguishable from no effect (page 'Model').")
        out += view.fit.notes[:3 - len(out)]
    return out[:3]


def _totals(view: RunView) -> pd.DataFrame | None:
    """The cumulative-total distribution per window: ``forecast_totals.csv`` or, for records without it,
    the points of ``risk.csv`` (mean and 50/90% intervals at the risk horizons)."""
    if view.totals is not None and len(view.totals):
        return view.totals
    risk = view.risk
    if risk is None or not len(risk):
        return None
    first = risk.drop_duplicates("horizon_days").sort_values("horizon_days")
    dates = [(view.origin + pd.Timedelta(days=int(h))).strftime("%Y-%m-%d") for h in first["horizon_days"]]
    out = pd.DataFrame({"window": first["horizon_days"].to_numpy(), "date": dates,
                        "mean": first["expected_total"].to_numpy(), "q05": first["lo90"].to_numpy(),
                        "q95": first["hi90"].to_numpy()})
    if "lo50" in first:
        out["q25"], out["q75"] = first["lo50"].to_numpy(), first["hi50"].to_numpy()
    return out


def _risk_grid(view: RunView, hl: dict) -> tuple[list[str], list[list[str]], set]:
    horizons, thresholds = view.risk_horizons, view.thresholds
    header = ["within"] + [_days(h) for h in horizons]
    rows, bold = [], set()
    for i, k in enumerate(thresholds):
        row = [f"at least {k} attack{'s' if k > 1 else ''}"]
        for j, h in enumerate(horizons):
            r = view.risk_row(h, k)
            row.append(fmt_prob(r["probability"]) if r is not None else "-")
            if (h, k) in ((hl["h7"], hl["k1"]), (hl["h14"], hl["k"])):
                bold.add((i, j + 1))
        rows.append(row)
    exp_row, int_row = ["expected attacks"], ["90% interval"]
    for h in horizons:
        r = view.risk_row(h, thresholds[0])
        exp_row.append(fmt_num(r["expected_total"], 2))
        int_row.append(f"{int(r['lo90'])}-{int(r['hi90'])}")
    rows += [exp_row, int_row]
    if view.is_past_origin:
        after = view.observed_after()
        rows.append(["what happened"] + [str(int(after.iloc[:h].sum())) if len(after) >= h else "-" for h in horizons])
    return header, rows, bold


def _forecast_page(b: ReportBuilder, ctx: _Context) -> None:
    view, hl, color = ctx.view, ctx.hl, ctx.color
    counts = view.counts["count"]
    origin = ctx.origin
    history = counts.loc[:origin].iloc[-view.history_days:]
    fc = view.forecast.set_index("date")
    after = view.observed_after(len(fc))
    totals = _totals(view)
    header, rows, bold = _risk_grid(view, hl)
    lull = ctx.lull_mask.loc[history.index[0]:origin] if ctx.lull_mask is not None else None

    def draw(fig):
        ax = body_axes(fig, (0, 0.45, 0.42, 0.47))
        F.plot_recent(ax, history, fc["mean"], color, observed_after=after if len(after) else None, lulls_mask=lull)
        ax.set_title(f"Last {len(history)} days and the expected attacks per day", pad=4)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.06), ncols=4, fontsize=7, handlelength=1.2,
                  columnspacing=1.0)
        ax2 = body_axes(fig, (0.52, 0.45, 0.48, 0.47))
        if totals is not None:
            F.plot_total_fan(ax2, totals, color, observed=after if len(after) else None, origin=origin)
        ax2.set_title("Attacks in total from the day after the origin", pad=4)
        ax2.legend(loc="lower left", bbox_to_anchor=(0, 1.06), ncols=5, fontsize=7, handlelength=1.2,
                   columnspacing=1.0)
        flow = Flow(fig, 0, 0.46, top=0.34)
        flow.heading("Escalation risk: the chance of at least k attacks within h days", size=9.5)
        flow.table(header, rows, size=8, bold=bold, widths=[0.32] + [0.68 / (len(header) - 1)] * (len(header) - 1),
                   row_shade=(len(rows) - 1,) if view.is_past_origin else ())
        if view.siblings:
            _sibling_table(fig, view, hl)

    cap = ("Right: the cumulative total with nested 50/80/95% intervals" if view.totals is not None else
           "Right: the cumulative total at the risk horizons with its 50% and 90% intervals (no forecast_totals.csv)")
    cap += "; black: what happened after the origin." if view.is_past_origin else "."
    b.add("Forecast and escalation risk", draw, cap)


def _sibling_table(fig, view: RunView, hl: dict) -> None:
    """Headline numbers of every run on the same data and origin in the sweep (model disagreement)."""
    entries = [(view.model, view.risk, True)] + [(s.model, s.risk, False) for s in view.siblings]
    rows, colors, bold = [], {}, set()

    def pick(risk, h, k, col):
        hit = risk[(risk["horizon_days"] == h) & (risk["threshold"] == k)]
        return float(hit[col].iloc[0]) if len(hit) and col in hit else float("nan")

    for i, (name, risk, me) in enumerate(entries):
        lo, hi = pick(risk, hl["h14"], hl["k"], "lo90"), pick(risk, hl["h14"], hl["k"], "hi90")
        rows.append([name, fmt_prob(pick(risk, hl["h7"], hl["k1"], "probability")),
                     fmt_prob(pick(risk, hl["h14"], hl["k"], "probability")),
                     fmt_num(pick(risk, hl["h14"], hl["k"], "expected_total"), 2),
                     f"{int(lo)} to {int(hi)}" if _finite(lo) and _finite(hi) else "-"])
        colors[(i, 0)] = F.model_color(name)
        if me:
            bold.update({(i, c) for c in range(5)})
    p1 = [r[1] for r in rows]
    flow = Flow(fig, 0.54, 0.46, top=0.34)
    flow.heading("The other models of this sweep (same data and origin)", size=9.5)
    flow.table(["model", f"P(1+ in {hl['h7']} days)", f"P({hl['k']}+ in {hl['h14']} days)",
                f"expected in {hl['h14']} days", "90% interval"], rows, size=8, colors=colors, bold=bold,
               widths=[0.28, 0.18, 0.18, 0.18, 0.18])
    if len(set(p1)) > 1:
        flow.para("The models disagree: their spread is uncertainty that no single model's interval shows.", size=8,
                  color=MUTED)


def _scenario_page(b: ReportBuilder, ctx: _Context) -> None:
    view, color = ctx.view, ctx.color
    sc = view.scenario
    diff = sc.difference
    if diff is None and sc.risk is not None and view.risk is not None:  # records without scenario_difference.csv
        m = view.risk.merge(sc.risk, on=["horizon_days", "threshold"], suffixes=("_b", "_s"))
        rows_ = [{"horizon_days": r.horizon_days, "quantity": f"p_ge{r.threshold}", "baseline": r.probability_b,
                  "scenario": r.probability_s, "difference": r.probability_s - r.probability_b, "mc_se": np.nan}
                 for r in m.itertuples()]
        for h, g in m.groupby("horizon_days"):
            r = g.iloc[0]
            rows_.append({"horizon_days": h, "quantity": "expected_total", "baseline": r.expected_total_b,
                          "scenario": r.expected_total_s, "difference": r.expected_total_s - r.expected_total_b,
                          "mc_se": np.nan})
        diff = pd.DataFrame(rows_)
    table_rows, colors = [], {}
    if diff is not None and len(diff):
        order = {q: i for i, q in enumerate(["expected_total"] + [f"p_ge{k}" for k in view.thresholds])}
        diff = diff.assign(_o=diff["quantity"].map(order).fillna(99)).sort_values(["horizon_days", "_o"])
        prev = None
        for i, r in enumerate(diff.itertuples()):
            prob = str(r.quantity).startswith("p_ge")
            what = f"P({str(r.quantity)[4:]} or more)" if prob else "expected attacks"
            f = fmt_prob if prob else (lambda v: fmt_num(v, 2))
            d, se = r.difference, getattr(r, "mc_se", np.nan)
            dtext = f"{fmt_signed(d * 100, 2)} pts" if prob else fmt_signed(d, 3)
            setext = ("-" if not _finite(se) else "0" if se == 0 else
                      (f"{2 * se * 100:.2f} pts" if prob else f"{2 * se:.3f}"))
            table_rows.append([_days(int(r.horizon_days)) if r.horizon_days != prev else "", what,
                               f(r.baseline), f(r.scenario), dtext, setext])
            prev = r.horizon_days
            visible = abs(d) >= (0.00005 if prob else 0.0005) if _finite(d) else False
            if _finite(se) and visible and abs(d) > 2 * se:
                colors[(i, 4)] = WARN if d > 0 else GOOD
    effects = view.fit.effects if view.fit is not None else pd.DataFrame()
    scale = view.fit.effect_scale if view.fit is not None else None
    kinds = list(dict.fromkeys(str(t.get("kind")) for t in sc.triggers if isinstance(t, dict)))
    effect_lines = [effect_sentence(k, effects.loc[k, "estimate"], effects.loc[k, "ci_lower"],
                                    effects.loc[k, "ci_upper"], scale) for k in kinds if k in effects.index]
    no_features = not view.metrics.get("uses_triggers", True)
    totals = _totals(view)
    origin = ctx.origin
    trig = "; ".join(f"{t.get('name', 'trigger')} ({humanise(t.get('kind', ''))}, forecast day {t.get('offset_days')})"
                     for t in sc.triggers if isinstance(t, dict))

    def draw(fig):
        size = 7.5 if len(table_rows) <= 26 else 6.5
        table_at(fig, 0, 1, 0.54, ["within", "quantity", "baseline", "scenario", "scenario - baseline",
                                   "Monte Carlo error (2 s.e.)"], table_rows, size=size,
                 widths=[0.12, 0.22, 0.13, 0.13, 0.2, 0.2], aligns=["left", "left", "right", "right", "right", "right"],
                 colors=colors, rules_every=len(view.thresholds) + 1)
        ax = body_axes(fig, (0.62, 0.58, 0.38, 0.36))
        if totals is not None:
            F.plot_total_fan(ax, totals, color, levels=(0.9,), scenario=sc.totals, scenario_label=sc.name,
                             origin=origin)
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.08), ncols=3, fontsize=7, handlelength=1.2)
            ax.set_title("Cumulative attacks: baseline (band: 90%) and scenario", pad=4)
        flow = Flow(fig, 0.6, 0.4, top=0.46)
        if no_features:
            flow.para("This model has no trigger features: the scenario equals the baseline.", size=9, weight="bold",
                      color=WARN)
        if trig:
            flow.para(f"Hypothetical triggers: {trig}.", size=8.5, after=0.4)
        for line in effect_lines:
            flow.para(line, size=8.5, bullet=True, after=0.3)
        flow.skip(0.3)
        for line in sc.method or ["Scenario and baseline share random numbers. The uncertainty of the difference "
                                  "was not recorded (an older record)."]:
            flow.para(line, size=8, color=MUTED, bullet=True, after=0.2)

    b.add(f"Scenario: {sc.name}", draw, (sc.description + " " if sc.description else "") +
          "Scenario minus baseline (pts: percentage points), coloured where beyond twice the Monte Carlo error.")


def _backtest_page(b: ReportBuilder, ctx: _Context) -> None:
    view, color = ctx.view, ctx.color
    refs = list((view.metrics.get("reference_scores") or {}).keys())
    rows, bold, colors, shade = [], set(), {}, []
    cols = ["log_score", "rps", "mae"]
    for bi, h in enumerate(view.horizons):
        block = [(view.model, view.scores.get(str(h)) or {})] + [
            (r, ((view.metrics.get("reference_scores") or {}).get(r) or {}).get(str(h)) or {}) for r in refs]
        start = len(rows)
        for j, (name, s) in enumerate(block):
            rows.append([_days(h) if j == 0 else "", name] + [fmt_num(s.get(c), 3) for c in cols] +
                        [fmt_prob(s.get("coverage_50")), fmt_prob(s.get("coverage_90")),
                         str(int(s.get("n_origins"))) if _finite(s.get("n_origins")) else "-"])
            colors[(len(rows) - 1, 1)] = F.model_color(name)
        for c in range(len(cols)):
            finite = [(v, j) for j, (_, s) in enumerate(block) if _finite(v := s.get(cols[c]))]
            if finite:
                bold.add((start + min(finite)[1], 2 + c))
        if bi % 2 == 1:
            shade += list(range(start, len(rows)))
    header = ["horizon", "forecast", "log score", "RPS", "MAE", "50% intervals held", "90% intervals held", "origins"]

    tests = (view.paired_tests.get(ctx.ref) or {}) if ctx.ref else {}
    t_rows, t_colors = [], {}
    for i, (period, pt) in enumerate(tests.items()):
        row = ["all origins" if period == "all" else period]
        for j, h in enumerate(view.horizons):
            t = (pt or {}).get(str(h)) or {}
            v = verdict(t.get("mean_diff"), t.get("dm_p"))
            row.append(f"{fmt_signed(t.get('mean_diff'))} (p={fmt_p(t.get('dm_p'))})" if t else "-")
            t_colors[(i, j + 1)] = GOOD if v == "better" else WARN if v == "worse" else INK
        n = ((pt or {}).get(str(view.horizons[-1])) or {}).get("n_origins")
        row.append(str(int(n)) if _finite(n) else "-")
        t_rows.append(row)
    other_lines = [skill_sentence((view.paired_tests.get(r) or {}).get("all") or {}, r) for r in refs if r != ctx.ref]

    h = _nearest(view.horizons, ctx.hl["h14"])
    diff = None
    bt, ref_bt = view.backtest, view.reference_backtests.get(ctx.ref) if ctx.ref else None
    if bt is not None and ref_bt is not None and "log_score" in bt and "log_score" in ref_bt:
        a = bt[bt["horizon"] == h].set_index("origin")["log_score"]
        r = ref_bt[ref_bt["horizon"] == h].set_index("origin")["log_score"]
        diff = (a - r).dropna()

    def draw(fig):
        table_at(fig, 0, 1, 0.55, header, rows, size=7.5, bold=bold, colors=colors, row_shade=shade,
                 widths=[0.11, 0.2, 0.12, 0.1, 0.1, 0.13, 0.13, 0.11], aligns=["left", "left"] + ["right"] * 6)
        flow = Flow(fig, 0.6, 0.4)
        if tests:
            flow.heading(f"Log score vs {ctx.ref} (negative = better) and the paired test", size=9)
            nh = len(view.horizons)
            flow.table(["backtest period"] + [_days(x) for x in view.horizons] + ["origins"], t_rows, size=7.5,
                       widths=[0.2] + [0.67 / nh] * nh + [0.13], colors=t_colors, after=0.3)
            flow.para("Green: better, red: worse than the reference (p < 0.05); black: indistinguishable.", size=7.5,
                      color=MUTED, after=0.6)
            for line in other_lines:
                flow.para(line, size=8, after=0.3)
        if diff is not None and len(diff):
            ax = body_axes(fig, (0, 0.04, 1, 0.36))
            lull = ctx.lull_mask.loc[diff.index.min():diff.index.max()] if ctx.lull_mask is not None else None
            F.plot_rolling_difference(ax, diff, color, lulls_mask=lull, label=f"{view.model} - {ctx.ref}")
            ax.set_ylabel(f"log score vs {ctx.ref}\n(negative = better)")
            ax.set_title(f"{h}-day totals: log score vs {ctx.ref}, mean of the last 28 origins (grey: lulls)", pad=4)

    b.add("Backtest: scores (how far to trust the forecast)", draw,
          "Mean scores of the h-day total over the backtest origins (lower is better; best in bold).")


def _calibration_pages(b: ReportBuilder, ctx: _Context) -> None:
    view, color = ctx.view, ctx.color
    periods = list((view.calibration.get("periods") or {}).items())
    if not periods:
        return
    problems = ("too narrow", "too wide", "not uniform", "over-predicts", "under-predicts")
    h_rel = str(_nearest(view.horizons, ctx.hl["h7"]))
    per_page = 4
    for start in range(0, len(periods), per_page):
        chunk = periods[start:start + per_page]

        def draw(fig, chunk=chunk):
            n = len(chunk)
            row_h = 0.95 / max(n, 2)
            hs_all = sorted({h for _, p in chunk for h in (p.get("horizons") or {})}, key=int)
            for text, x in (("PIT histograms (flat = calibrated)", 0.13), (f"P(1+ attack in {h_rel} days)", 0.455),
                            ("Intervals held (expected range) and problems found", 0.64)):
                fig.text(body_box((x, 0, 1, 0))[0], body_box((0, 0.99, 1, 0))[1], text, fontsize=8,
                         fontweight="bold", va="bottom")
            bottom = 0.955 - n * row_h
            ax = body_axes(fig, (0.13, bottom, 0.29, n * row_h))
            F.plot_pit_grid(ax, [[(((p.get("horizons") or {}).get(h) or {}).get("pit_counts", []),
                                   ((p.get("horizons") or {}).get(h) or {}).get("pit_edges", [])) for h in hs_all]
                                 for _, p in chunk], [f"{h}-day totals" for h in hs_all], color)
            ax2 = body_axes(fig, (0.455, bottom, 0.15, n * row_h))
            F.plot_reliability_grid(ax2, [(((p.get("horizons") or {}).get(h_rel) or {}).get("reliability") or {})
                                          .get("ge1") or {} for _, p in chunk], color)
            for i, (name, p) in enumerate(chunk):
                top = 0.955 - i * row_h
                hz = p.get("horizons") or {}
                hs = sorted(hz, key=int)
                first = hz[hs[0]] if hs else {}
                flow = Flow(fig, 0, 0.12, top=top - 0.01)
                flow.para(name, size=9.5, weight="bold", after=0.1)
                flow.para(f"{p.get('start', '')} to {p.get('end', '')}; {first.get('n', '?')} origins", size=7.2,
                          color=MUTED)
                rows, colors = [], {}
                for j, h in enumerate(hs):
                    e = hz[h]
                    rows.append([f"{h}-day totals", fmt_prob(e.get("coverage_50")), _band(e.get("coverage_50_band")),
                                 fmt_prob(e.get("coverage_90")), _band(e.get("coverage_90_band"))])
                    for c, lv in ((1, 50), (3, 90)):
                        if _coverage_state(e, lv).startswith(("too narrow", "too wide")):
                            colors[(j, c)] = WARN
                text = Flow(fig, 0.64, 0.36, top=top - 0.005)
                text.table(["", "50% held", "expected", "90% held", "expected"], rows, size=7, colors=colors,
                           widths=[0.24, 0.15, 0.23, 0.15, 0.23], after=0.3)
                bad = [re.sub(rf"^{re.escape(name)}: ", "", v) for h in hs for v in hz[h].get("verdicts", [])
                       if any(w in v.rsplit(":", 1)[-1] for w in problems) and "intervals held" not in v]
                n_all = sum(len(hz[h].get("verdicts", [])) for h in hs)
                floor = body_box((0, top - row_h, 1, 0))[1] + 2.2 * line_height(7)
                shown = 0
                for v in bad:
                    need = len(wrap(v, text.width_in - 0.16, 7)) * line_height(7) + line_height(7) * 0.3
                    if text.top - need < floor:
                        break
                    text.para(v, size=7, bullet=True, color=WARN, after=0.05)
                    shown += 1
                more = f"{len(bad) - shown} more problems in metrics.json; " if len(bad) > shown else ""
                text.para(more + (f"{n_all - len(bad)} of {n_all} checks within their expected ranges." if bad else
                                  f"All {n_all} checks within their expected ranges."), size=7, color=MUTED)
                if i < n - 1:
                    y = body_box((0, top - row_h, 1, 0))[1]
                    fig.add_artist(Line2D([body_box((0, 0, 1, 0))[0], 1 - body_box((0, 0, 1, 0))[0]], [y, y],
                                          color="#cccccc", lw=0.5))

        suffix = f" ({start // per_page + 1}/{math.ceil(len(periods) / per_page)})" if len(periods) > per_page else ""
        b.add("Backtest: calibration by period" + suffix, draw,
              "Reliability: forecast chance against how often it happened (bars: 90% range; numbers: forecasts per "
              "bin). Red: outside the range chance allows.")


def _onsets_page(b: ReportBuilder, ctx: _Context) -> None:
    view = ctx.view
    on = view.onsets.copy()
    models = list(dict.fromkeys(on["model"]))
    onsets = list(dict.fromkeys(on["onset"]))
    offsets = [c[len("p_ge1_"):] for c in on.columns if c.startswith("p_ge1_")]
    words = {"m1": "day before", "p1": "+1 day", "p3": "+3 days", "p7": "+7 days"}
    off_words = [words.get(o, o.replace("m", "-").replace("p", "+") + " d") for o in offsets]

    def block(prefix, fmt):
        header = ["onset", "attacks in 7 days from it"]
        colors = {}
        for m in models:
            for j, w in enumerate(off_words):
                header.append(f"{m}\n{w}" if j == 0 else f"\n{w}")
                colors[(-1, len(header) - 1)] = F.model_color(m)
        rows = []
        for d in onsets:
            g = on[on["onset"] == d].set_index("model")
            obs = g["observed"].dropna()
            row = [fmt_date(d), str(int(obs.iloc[0])) if len(obs) else "-"]
            for m in models:
                for o in offsets:
                    row.append(fmt(g.at[m, f"{prefix}_{o}"] if m in g.index else np.nan))
            rows.append(row)
        return header, rows, colors

    p_header, p_rows, p_colors = block("p_ge1", fmt_prob)
    trig_rows = []
    for d in onsets:
        g = on[on["onset"] == d].iloc[0]
        name = g.get("trigger_name") if isinstance(g.get("trigger_name"), str) else ""
        ds = g.get("days_since_trigger")
        ago = "same day" if _finite(ds) and int(ds) == 0 else (f"{int(ds)} days before" if _finite(ds) else "")
        trig_rows.append([fmt_date(d), humanise(str(g.get("trigger_kind") or "")), ago, name])
    m_header, m_rows, m_colors = block("mean", lambda v: "<0.001" if _finite(v) and 0 <= v < 0.001 else fmt_num(v, 2))
    summary = []
    for m in models:
        v = on[on["model"] == m]["p_ge1_m1"].dropna() if "p_ge1_m1" in on else pd.Series(dtype=float)
        if len(v):
            summary.append(f"{m} {fmt_prob(v.mean())}")

    def draw(fig):
        n_cols = len(p_header)
        widths = [0.1, 0.08] + [0.82 / (n_cols - 2)] * (n_cols - 2)
        size = 7.5 if n_cols <= 16 else 6.5
        flow = Flow(fig, 0, 1)
        flow.para("Chance of at least one attack in the 7 days after the forecast origin; origins the day before the "
                  "onset and 1, 3 and 7 days after it", size=9, weight="bold", after=0.2)
        aligns = ["left"] + ["right"] * (n_cols - 1)
        flow.table(p_header, p_rows, widths=widths, size=size, colors=p_colors, aligns=aligns)
        flow.para("Expected attacks in those 7 days", size=9, weight="bold", after=0.2)
        flow.table(m_header, m_rows, widths=widths, size=size, colors=m_colors, aligns=aligns)
        if summary:
            flow.para("Mean chance of at least one attack in 7 days, the day before an onset: " + ", ".join(summary)
                      + ".", size=8.5, after=0.6)
        if any(r[3] for r in trig_rows):
            flow.para("The latest trigger on or before each onset", size=9, weight="bold", after=0.2)
            flow.table(["onset", "kind", "when", "trigger"], trig_rows, size=7, widths=[0.14, 0.22, 0.14, 0.5],
                       aligns=["left"] * 4, width=0.72)

    b.add("Onsets: what the forecasts said around the start of attack waves", draw,
          "Onset: the first attack after a lull. A useful forecast is higher before onsets and rises fast after.")


def _model_page(b: ReportBuilder, ctx: _Context) -> None:
    view = ctx.view
    fit = view.fit
    rows = []
    for r in fit.params.itertuples():
        ci = f"{fmt_num(r.ci_lower)} to {fmt_num(r.ci_upper)}" if _finite(r.ci_lower) and _finite(r.ci_upper) else "-"
        rows.append([str(r.parameter), fmt_num(r.estimate), fmt_num(r.stderr), ci])
    eff = fit.effects.dropna(subset=["estimate"])
    sentences = effect_sentences(view)
    groups = _fit_series(view)
    stats = []
    if fit.loglik is not None:
        stats.append(f"log-likelihood {fit.loglik:,.2f}")
    if fit.aic is not None:
        stats.append(f"AIC {fit.aic:,.1f}")
    if fit.n_obs is not None:
        stats.append(f"{fit.n_obs:,} days fitted")
    if fit.n_params is not None:
        stats.append(f"{fit.n_params} parameters")

    def draw(fig):
        flow = Flow(fig, 0, 0.5)
        flow.table(["parameter", "estimate", "std. error", "95% interval"], rows, size=7.5 if len(rows) <= 20 else 6.5,
                   widths=[0.36, 0.18, 0.18, 0.28], after=0.4)
        flow.para(" · ".join(stats) + ". Units: see the glossary.", size=8, color=MUTED, after=0.8)
        if fit.notes:
            flow.heading("What the model says", size=9.5)
            for n in fit.notes:
                flow.para(n, size=8.5, bullet=True, after=0.25)
        if groups:
            top = max(min(flow.y - 0.1, 0.4), 0.22)
            fig.text(body_box((0, 0, 1, 0))[0], body_box((0, top + 0.015, 1, 0))[1], "Over the fitted days (each "
                     "band on its own scale)", fontsize=8, fontweight="bold")
            _draw_fit(fig, ctx, (0, 0.03, 0.5, top - 0.03), groups)
        if len(eff):
            log = fit.effect_scale in ("log_rate", "log_odds")
            ax = body_axes(fig, (0.66, 0.6, 0.34, 0.36))
            what = ("multiplier of the attack rate" if fit.effect_scale == "log_rate" else
                    "multiplier of the odds of a change of regime") if log else "effect (model scale)"
            tf = np.exp if log else (lambda v: v)
            F.plot_multipliers(ax, [humanise(k) for k in eff.index], tf(eff["estimate"]), tf(eff["ci_lower"]),
                               tf(eff["ci_upper"]), [F.kind_color(k) for k in eff.index], log=log,
                               reference=1.0 if log else 0.0, xlabel=f"{what}, 95% interval")
            ax.set_title("Trigger effects (1 = no effect)" if log else "Trigger effects (0 = no effect)", pad=4)
            right = Flow(fig, 0.56, 0.44, top=0.5)
            right.heading("Trigger effects in words", size=9.5)
            for s in sentences:
                right.para(s, size=8.5, bullet=True, after=0.25)
        small, big = _small_tables(fit.tables)
        if small or big:
            side = Flow(fig, 0.56, 0.44, top=right.y - 0.02 if len(eff) else 1.0)
            for name, header, table_rows in small:
                if side.y < 0.15:
                    big.append(f"{name} ({len(table_rows)} rows)")
                    continue
                side.heading(f"Recorded table: {name.replace('_', ' ')}", size=9)
                side.table(header, table_rows, size=7, after=0.6)
            if big:
                side.para("Also in fit_summary.json: " + ", ".join(big) + ".", size=7.5, color=MUTED)

    b.add(f"Model: {view.model} parameters" + (" and trigger effects" if len(eff) else ""), draw,
          "Estimates, standard errors and 95% Wald intervals.")


def _small_tables(tables: dict, max_rows: int = 12) -> tuple[list, list[str]]:
    """The model's recorded tables that fit a page: a mapping of scalars (2 columns) or of equally long
    lists (a column each) of at most ``max_rows`` rows, formatted; the names of the others."""
    small, big = [], []
    for name, table in (tables or {}).items():
        if isinstance(table, dict) and table and all(not isinstance(v, (list, dict)) for v in table.values()):
            if len(table) <= max_rows:
                small.append((name, ["", "value"], [[str(k), fmt_num(v, 4) if isinstance(v, float) else str(v)]
                                                    for k, v in table.items()]))
                continue
        elif isinstance(table, dict) and table and all(isinstance(v, list) for v in table.values()):
            lengths = {len(v) for v in table.values()}
            if len(lengths) == 1 and lengths.pop() <= max_rows and len(table) <= 6:
                cols = list(table)
                small.append((name, cols, [[fmt_num(v, 4) if isinstance(v, float) else str(v) for v in row]
                                           for row in zip(*table.values())]))
                continue
        size = len(next(iter(table.values()))) if isinstance(table, dict) and table and \
            isinstance(next(iter(table.values())), list) else len(table) if hasattr(table, "__len__") else 0
        big.append(f"{name} ({size} rows)")
    return small, big


def _fit_series(view: RunView) -> list[tuple[str, list[str]]]:
    """The model's named series (fit_series.csv) in groups: columns ``<name>_<part>`` of one recorded frame
    share a group (the record's naming of a date-indexed frame), others stand alone; at most 4 groups."""
    series = view.fit.series if view.fit is not None else None
    if series is None or view.counts is None or not len(series.columns):
        return []
    groups: dict[str, list[str]] = {}
    for name in series.columns:
        head = name.split("_", 1)[0]
        siblings = [c for c in series.columns if c.split("_", 1)[0] == head]
        groups.setdefault(head if len(siblings) > 1 else name, []).append(name)
    return list(groups.items())[:4]


def _draw_fit(fig, ctx: _Context, rect, groups: list[tuple[str, list[str]]]) -> None:
    view, color = ctx.view, ctx.color
    counts = view.counts["count"].loc[:ctx.origin]
    F.plot_series_bands(body_axes(fig, rect), counts, view.fit.series, groups, color, lulls=ctx.lull_mask)


def _month_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Every calendar month of the window (months without attacks included)."""
    c = counts.copy()
    c["month"] = c.index.to_period("M")
    agg = {"attacks": ("count", "sum"), "attack_days": ("count", lambda s: int((s > 0).sum())),
           "busiest": ("count", "max"), "days": ("count", "size")}
    if "exposure" in c:
        agg["sites"] = ("exposure", "mean")
    if "in_lull" in c:
        agg["lull_days"] = ("in_lull", "sum")
    return c.groupby("month").agg(**agg)


STRIP = (0, 0.62, 1, 0.37)  # the trigger strip of the data chart (body fractions)


def _data_pages(b: ReportBuilder, ctx: _Context) -> None:
    view = ctx.view
    counts = view.counts
    start, end = counts.index[0], counts.index[-1] + pd.Timedelta(days=1)
    triggers = view.triggers
    if triggers is not None:
        triggers = triggers[(triggers["date"] >= counts.index[0]) & (triggers["date"] <= counts.index[-1])]
        triggers = triggers.sort_values("date", kind="stable").reset_index(drop=True)
    has_exposure = "exposure" in counts and counts["exposure"].notna().any()
    lull_days = int((view.config.get("data") or {}).get("lull_min_days") or 0)

    def chart(fig):
        F.plot_trigger_strip(body_axes(fig, STRIP), triggers, start, end)
        ax = body_axes(fig, (0, 0.22 if has_exposure else 0.1, 1, 0.4 if has_exposure else 0.52))
        if "in_lull" in counts:
            F.shade_mask(ax, counts.index, counts["in_lull"].to_numpy(),
                         label=f"lull ({lull_days}+ days without attacks)" if lull_days else "lull")
        if triggers is not None and len(triggers):
            for kind, g in triggers.groupby("kind", sort=False):
                ax.vlines(g["date"], 0, 1, transform=ax.get_xaxis_transform(), color=F.kind_color(kind), lw=0.5,
                          alpha=0.45, zorder=0.5, label=humanise(kind))
        F.plot_counts(ax, counts["count"], label="attacks per day")
        ax.plot(counts.index, counts["count"].rolling(7, min_periods=1).mean(), color="#000000", lw=0.8,
                label="7-day mean")
        ax.set_xlim(start, end)
        ax.set_ylabel("attacks per day")
        F.integer_axis(ax)
        F.date_axis(ax)
        if has_exposure:
            ax.tick_params(labelbottom=False)
            ex = body_axes(fig, (0, 0.07, 1, 0.12))
            F.plot_exposure(ex, counts["exposure"])
            ex.set_xlim(start, end)
            F.date_axis(ex)
            ex.set_title("Sites with US forces present (exposure)", pad=2, fontsize=7.5, fontweight="normal")
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(body_box((0, 0, 1, 1))[0], 0.062), ncols=9,
                   fontsize=7, handlelength=1.2, columnspacing=1.2)

    n_trig = 0 if triggers is None else len(triggers)
    b.add("Data: daily attacks, lulls, exposure and triggers", chart,
          f"{int(counts['count'].sum())} attacks on {int((counts['count'] > 0).sum())} of {len(counts)} days"
          + (f"; {n_trig} triggers, named where the name fits (the rest: see the list)." if n_trig else "."))

    months = _month_table(counts)
    cover = view.coverage
    rest_entries = []
    if triggers is not None and len(triggers):
        _, _, w, h = body_box(STRIP)
        keep, _ = F.trigger_labels(triggers, start, end, w * PAGE[0], h * PAGE[1])
        rest_entries = [[r.date.strftime("%d %b %y"), shorten_to(plain(str(r.name)), 2.35, 6.5), r.kind]
                        for r in triggers[~keep].itertuples()]
    header = ["month", "attacks", "days with attacks", "most in a day"]
    header += ["sites (mean)"] if "sites" in months else []
    header += ["days in lulls"] if "lull_days" in months else []
    rows = []
    for m, r in months.iterrows():
        row = [m.strftime("%b %Y"), str(int(r["attacks"])), str(int(r["attack_days"])), str(int(r["busiest"]))]
        if "sites" in months:
            row.append(f"{r['sites']:.1f}" if _finite(r["sites"]) else "-")
        if "lull_days" in months:
            row.append(str(int(r["lull_days"])))
        rows.append(row)
    cover_text = ""
    if cover is not None and len(cover):
        tot_o, tot_s = int(cover["official"].sum()), int(cover["in_set"].sum())
        worst = cover.loc[cover["coverage"].idxmin()]
        cover_text = (f"Against official counts: DoD statements count {tot_o:,} attacks from "
                      f"{fmt_date(cover['from'].iloc[0])} to {fmt_date(cover['to'].iloc[-1])}; the event set holds "
                      f"{tot_s:,} in those intervals (coverage.csv). The thinnest interval is "
                      f"{fmt_date(worst['from'])} "
                      f"to {fmt_date(worst['to'])}: {int(worst['in_set'])} of {int(worst['official'])}.")
    list_rows = 48  # trigger-list rows per column

    def trigger_list(fig, part, top):
        cols = 3 if len(part) > 2 * list_rows else 2 if len(part) > 24 else 1
        per = math.ceil(len(part) / cols)
        for i in range(cols):
            chunk = part[i * per:(i + 1) * per]
            colors = {(j, 0): F.kind_color(r[2]) for j, r in enumerate(chunk)}
            table_at(fig, i / 3, top, 1 / 3 - 0.01, ["date", "trigger not named on the chart"], [r[:2] for r in chunk],
                     size=6.5, widths=[0.2, 0.8], aligns=["left"] * 2, colors=colors)
        x = body_box((0, 0, 1, 0))[0]
        fig.text(x, 0.075, "Dates coloured by kind:", fontsize=7, color=MUTED)
        x += (text_width("Dates coloured by kind:", 7) + 0.1) / PAGE[0]
        for kind in dict.fromkeys(r[2] for r in part):  # the colour key
            label = humanise(kind)
            fig.text(x, 0.075, label, fontsize=7, color=F.kind_color(kind))
            x += (text_width(label, 7) + 0.2) / PAGE[0]

    def month_page(fig):
        n_blocks = 1 if len(rows) <= 14 else 2 if len(rows) <= 28 else 3
        per = math.ceil(len(rows) / n_blocks)
        widths = [0.22] + [0.78 / (len(header) - 1)] * (len(header) - 1)
        h = 0.0
        for i in range(n_blocks):
            part = rows[i * per:(i + 1) * per]
            zero = [j for j, r in enumerate(part) if r[1] == "0"]
            h = max(h, table_at(fig, i / n_blocks, 1, 1 / n_blocks - 0.02, header, part, size=7, widths=widths,
                                row_shade=zero))
        flow = Flow(fig, 0, 1, top=1 - h - 0.015)
        if cover_text:
            flow.para(cover_text, size=8.5, after=0.6)

    b.add("Data: attacks by month and coverage", month_page,
          "Every month of the window (shaded: no attacks); sites with US forces present, monthly mean.")
    n_rest = len(rest_entries)
    for i in range(0, n_rest, 3 * list_rows):
        part = rest_entries[i:i + 3 * list_rows]
        more = f" ({i // (3 * list_rows) + 1})" if n_rest > 3 * list_rows else ""
        b.add("Data: triggers not named on the chart" + more, lambda fig, part=part: trigger_list(fig, part, 1),
              f"{n_rest} of {len(triggers)} triggers in the window; all are rules on the chart and in "
              "triggers_used.csv.")


GLOSSARY = [
    ("Chance of at least k attacks in h days", "the forecast probability that the total of the next h days reaches "
     "k. Words: remote (<1%), almost no chance (1-5%), very unlikely (5-20%), unlikely (20-45%), roughly even "
     "(45-55%), likely, very likely, almost certain (>95%)."),
    ("90% interval", "the totals the forecast gives a 90% chance: 9 outcomes in 10 should fall inside."),
    ("Coverage", "the share of backtest outcomes inside the 50% or 90% intervals; the expected range is what chance "
     "allows for that many overlapping forecasts. Below it: intervals too narrow."),
    ("Log score", "minus the log of the probability given to what happened (lower is better). 'Vs reference' = "
     "model minus reference: negative means the model is better; -0.1 is about 10% more probability."),
    ("RPS", "ranked probability score: squared gaps between forecast and outcome over all counts (lower is better)."),
    ("PIT", "where the outcome fell in its forecast distribution, 0 to 1. Flat histogram: calibrated; U: too narrow; "
     "hump: too wide; lopsided: biased."),
    ("Diebold-Mariano test", "is the mean log-score difference of two forecasts of the same origins more than "
     "chance, allowing for overlapping windows (HAC variance, Harvey correction)? p < 0.05: better or worse."),
    ("Skill", "1 - score / reference score: the improvement over a simple reference (positive = better)."),
    ("Branching ratio", "in a self-exciting (Hawkes) model, the mean number of further attacks each attack sets "
     "off; below 1 bursts die out."),
    ("Exposure", "the number of sites with US forces present: fewer sites, fewer targets."),
    ("Lull, onset", "a run of attack-free days at least data.lull_min_days long; the first attack after one."),
    ("Trigger effect", "the change in the attack rate after a trigger of a kind; an interval containing x1 (no "
     "effect) means no distinguishable effect."),
]


def _glossary_page(b: ReportBuilder, ctx: _Context) -> None:
    view = ctx.view
    params = view.fit.params if view.fit is not None else pd.DataFrame(columns=["parameter"])
    scale = view.fit.effect_scale if view.fit is not None else None
    units = [[str(p), str(u) if "unit" in params and isinstance(u, str) and u else parameter_unit(str(p), scale)]
             for p, u in zip(params["parameter"], params["unit"] if "unit" in params else [None] * len(params))]

    def draw(fig):
        flow = Flow(fig, 0, 0.55)
        for term, text in GLOSSARY:
            flow.para(f"{term}: {text}", size=8, after=0.45)
        right = Flow(fig, 0.58, 0.42)
        right.heading(f"Parameters of {view.model} and their units", size=9.5)
        if units:
            right.table(["parameter", "unit"], [[p, u] for p, u in units], size=7, widths=[0.33, 0.67],
                        aligns=["left", "left"])
        else:
            right.para("This model has no fitted parameters.", size=8)

    b.add("Glossary", draw)


def _flatten(node, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _flatten(v, f"{prefix}{k}.")
    elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        for i, v in enumerate(node):
            out += _flatten(v, f"{prefix}{i}.")
    else:
        out.append((prefix.rstrip("."), "null" if node is None else str(node)))
    return out


def _redact(value: str) -> str:
    """Absolute paths reduced to their last component (the PDF does not show this machine's folders)."""
    return re.sub(r"(?<![\w.])/(?:[^/\s,'\]]+/)+([^/\s,'\]]+)", r".../\1", value)


def _appendix(b: ReportBuilder, ctx: _Context) -> None:
    view = ctx.view
    m = view.metrics
    created = created_at().strftime("%Y-%m-%d %H:%M UTC")
    files = m.get("data_files") or {}
    prov = [["run id", view.run_id], ["experiment", view.name], ["model", view.model], ["seed", str(m.get("seed"))],
            ["origin", str(m.get("origin"))], ["report created", created],
            ["data SHA-256", str(m.get("data_sha256") or "")[:32] + "..."]]
    prov += [[f"{k} file", Path(str(v)).name] for k, v in files.items()]
    versions = [[k, str(v)] for k, v in (m.get("versions") or {}).items()]
    diag = []
    if view.fit is not None:
        for k, v in view.fit.diagnostics.items():
            diag.append([k.replace("_", " "), fmt_num(v, 4) if isinstance(v, float) else str(v)])
    refs = [[name, view.references.get(name) or "(no description recorded)"] for name in
            (m.get("reference_scores") or {})]
    warn = [[k, str(v)] for k, v in (m.get("warnings") or {}).items()]
    config = [(k, _redact(v)) for k, v in _flatten(view.config)
              if not k.startswith(("paths.", "hydra.", "backtest.periods.")) and v != "null"]
    if view.fit is not None and view.fit.notes:
        diag = []  # the model's sentences carry them (page "Model"); metrics.json has every value

    def page(fig, part, first):
        if first:
            flow = Flow(fig, 0, 0.3)
            for title, rows in (("Run", prov), ("Package versions", versions)):
                flow.heading(title, size=9)
                flow.table(["", ""], rows, size=7, widths=[0.42, 0.58], aligns=["left", "left"], after=0.6)
            if refs:
                flow.heading("Reference forecasts of the backtest", size=9)
                for name, d in refs:
                    flow.para(f"{name}: {d}", size=7.5, bullet=True, after=0.15)
            if warn:
                flow.para("Library warnings during the run: " + ", ".join(f"{k} x {v}" for k, v in warn) + ".",
                          size=7.5, after=0.3)
            flow.para("Every number here comes from the run record (metrics.json and the CSV files beside it); "
                      "forecast-report re-renders this PDF from it.", size=7.5, color=MUTED)
        per_col = math.ceil(len(part) / 2)
        head = Flow(fig, 0.33, 0.67)
        head.heading("Resolved configuration (config_resolved.yaml; paths and unset keys left out)", size=9)
        for c in range(2):
            chunk = part[c * per_col:(c + 1) * per_col]
            if chunk:
                col = Flow(fig, 0.33 + c * 0.34, 0.32, top=head.y)
                col.table(["key", "value"], chunk, size=6.5, widths=[0.55, 0.45], aligns=["left", "left"], after=0.8)
                if c == 1 and diag and first:
                    col.heading("Fit diagnostics as recorded", size=9)
                    col.table(["", ""], diag, size=6.5, widths=[0.6, 0.4], aligns=["left", "left"])

    per_page = 2 * 56 - len(diag)
    for i in range(0, max(len(config), 1), per_page):
        part = config[i:i + per_page]
        more = f" ({i // per_page + 1})" if len(config) > per_page else ""
        b.add("Appendix: resolved configuration, provenance and versions" + more,
              lambda fig, part=part, first=(i == 0): page(fig, part, first))
