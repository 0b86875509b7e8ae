"""The PDF report of one run: title, summary, data, model, forecast, backtest, appendix."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.summary import events_by_month
from forecast.records import resolved_yaml
from forecast.report import figures as F
from forecast.report.builder import ReportBuilder, body_axes, created_at, draw_table, text_block


def _pct(p: float) -> str:
    return "<1%" if 0 < p < 0.005 else (">99%" if 0.995 < p < 1 else f"{p:.0%}")


def headline(result) -> dict:
    """The headline risk numbers: P(>=1 in 7 days), P(>=5 in 14 days), expected 14-day total."""
    fc = result.forecast
    h7, h14 = min(7, fc.horizon), min(14, fc.horizon)
    return {"p_ge1_7": fc.prob_at_least(1, h7), "p_ge5_14": fc.prob_at_least(5, h14), "h7": h7, "h14": h14,
            "mean_14": fc.total_mean(h14), "lo90_14": fc.total_quantile(0.05, h14),
            "hi90_14": fc.total_quantile(0.95, h14)}


def findings(result) -> list[str]:
    """Three to six plain-language findings drawn from the run's numbers."""
    out, hl, lull = [], headline(result), result.lull
    if lull.get("in_lull"):
        p = lull["p_lull_ends"]
        out.append(f"The series is in a lull: {lull['quiet_days']} days without an attack since "
                   f"{lull['last_attack']}. The model puts the chance that it ends within 7 days at "
                   f"{_pct(p.get('7', hl['p_ge1_7']))} and within {max(map(int, p))} days at "
                   f"{_pct(p[str(max(map(int, p)))])}.")
    else:
        out.append(f"The last attack was {lull.get('quiet_days', 0)} day(s) before the origin; the chance of at "
                   f"least one attack in the next {hl['h7']} days is {_pct(hl['p_ge1_7'])}.")
    out.append(f"Expected attacks over the next {hl['h14']} days: {hl['mean_14']:.1f} "
               f"(90% interval {hl['lo90_14']}–{hl['hi90_14']}); P(at least 5) = {_pct(hl['p_ge5_14'])}.")
    table = result.summary.table()
    if "adjacency" in table.index:
        a = table.loc["adjacency"]
        d = result.summary.diagnostics
        text = (f"Branching ratio {a['estimate']:.2f} (95% CI {a['ci_lower']:.2f}–{a['ci_upper']:.2f}): each "
                f"attack is followed by about {a['estimate']:.1f} further attacks on average.")
        if "background_p_value" in d:
            text += (f" A time-varying background fits better (LR p = {d['background_p_value']:.2g}) and "
                     f"lowers it to {d['adjacency_time_varying_background']:.2f}, so part of the apparent "
                     "self-excitation is a shifting background." if d["background_p_value"] < 0.05 else
                     f" A time-varying background does not fit better (LR p = {d['background_p_value']:.2g}).")
        out.append(text)
    effects = table[table.index.str.startswith("effect_")].dropna(subset=["estimate", "stderr"])
    clear = effects[(effects["ci_lower"] > 0) | (effects["ci_upper"] < 0)]
    if len(effects):
        if len(clear):
            parts = [f"{k.removeprefix('effect_').replace('_', ' ')} triggers "
                     f"{'raise (backlash)' if r['estimate'] > 0 else 'lower (deterrence)'} the attack rate "
                     f"(effect {r['estimate']:+.2f}, CI {r['ci_lower']:+.2f} to {r['ci_upper']:+.2f})"
                     for k, r in clear.iterrows()]
            out.append("Trigger effects distinguishable from zero: " + "; ".join(parts) + ".")
        else:
            out.append("No trigger kind has an effect distinguishable from zero at the 95% level.")
    skill = result.metrics.get("skill") or {}
    if skill:
        h = max(skill, key=int)
        s = skill[h].get("rps_skill")
        if s is not None and np.isfinite(s):
            out.append(f"In the backtest the model's {h}-day RPS is {abs(s):.0%} "
                       f"{'better' if s > 0 else 'worse'} than climatology's "
                       f"({result.metrics['backtest_info']['origins']} origins).")
    cover = result.data.coverage
    if cover is not None and len(cover):
        worst = cover.loc[cover["coverage"].idxmin()]
        out.append(f"The event set holds {int(cover['in_set'].sum())} attacks against {int(cover['official'].sum())} "
                   f"in official statements up to {cover['to'].iloc[-1]}; the thinnest interval is "
                   f"{worst['from']}–{worst['to']} ({int(worst['in_set'])} of {int(worst['official'])}).")
    return out[:6]


def _config_hash(cfg) -> str:
    return hashlib.sha256(resolved_yaml(cfg).encode()).hexdigest()[:12]


def write_run_report(result, path: Path) -> Path:
    """Build and write the PDF of ``result`` (a :class:`forecast.pipeline.RunResult`)."""
    cfg = result.cfg
    name = str(cfg.model_name)
    b = ReportBuilder(f"{cfg.report.title}: {cfg.name}", f"Escalation-risk forecast, model {name}",
                      f"forecast, escalation risk, {name}, Hawkes, backtest", result.run_id, name)
    _title_page(b, result)
    _summary_page(b, result)
    _data_pages(b, result)
    _model_pages(b, result)
    _forecast_pages(b, result)
    if result.backtest is not None:
        _backtest_pages(b, result)
    _appendix(b, result)
    return b.save(path)


def _title_page(b: ReportBuilder, result) -> None:
    cfg, counts = result.cfg, result.data.counts
    lines = [f"Experiment: {cfg.name}", f"Model: {cfg.model_name}",
             f"Data window: {counts.index[0].date()} to {counts.index[-1].date()} "
             f"({int(counts.sum())} events, {len(counts)} days)",
             f"Forecast origin: {result.metrics.get('origin')} (the last day the model sees)",
             f"Run id: {result.run_id}", f"Created: {created_at().strftime('%Y-%m-%d %H:%M UTC')}",
             f"Package version: forecast {result.metrics['versions'].get('forecast')}",
             f"Config hash: {_config_hash(cfg)}", f"Data SHA-256: {result.data.sha256[:16]}…", "",
             "Contents: summary · data · model · forecast · backtest · appendix"]
    b.add(cfg.report.title, lambda fig: text_block(fig, lines, top=0.9, size=13, spacing=1.8),
          "Attacks by Iran-aligned militias on US forces in Iraq, Syria and Jordan: how likely is escalation?")


def _summary_page(b: ReportBuilder, result) -> None:
    hl = headline(result)
    boxes = [(f"P(≥1 attack in {hl['h7']} days)", _pct(hl["p_ge1_7"])),
             (f"P(≥5 attacks in {hl['h14']} days)", _pct(hl["p_ge5_14"])),
             (f"Expected attacks, {hl['h14']} days", f"{hl['mean_14']:.1f}  [{hl['lo90_14']}–{hl['hi90_14']}]")]

    def draw(fig):
        for i, (label, value) in enumerate(boxes):
            ax = body_axes(fig, (i / 3 + 0.01, 0.72, 1 / 3 - 0.02, 0.25))
            ax.set_xticks([]), ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(True), s.set_color("#bbbbbb")
            ax.text(0.5, 0.62, value, ha="center", va="center", fontsize=24, fontweight="bold",
                    color=F.model_color(str(result.cfg.model_name)), transform=ax.transAxes)
            ax.text(0.5, 0.2, label, ha="center", va="center", fontsize=10, transform=ax.transAxes)
        import textwrap

        lines = []
        for f in findings(result):
            lines += textwrap.wrap("• " + f, 150, subsequent_indent="   ")
        text_block(fig, lines, top=0.66, size=10, spacing=1.6)

    b.add("Executive summary", draw, f"Headline escalation risk from origin {result.metrics.get('origin')} "
                                     "([ ] = 90% interval), and what the numbers say.")


def _data_pages(b: ReportBuilder, result) -> None:
    data = result.data

    def counts_page(fig):
        F.plot_daily_counts(body_axes(fig, (0, 0.05, 1, 0.8)), data.counts, data.lulls, data.triggers)

    b.add("Data: daily attacks, lulls and triggers", counts_page,
          "Bars: attacks per day; line: 7-day mean; grey: lulls; rules: triggers by kind (US strikes labelled).")

    def composition(fig):
        if data.coverage is not None and len(data.coverage):
            F.plot_coverage(body_axes(fig, (0, 0.45, 0.62, 0.5)), data.coverage)
        by_country = data.events.groupby("country")["count"].sum()
        F.plot_breakdown(body_axes(fig, (0.72, 0.62, 0.28, 0.33)), by_country, "events by country")
        if "weapon" in data.events:
            F.plot_breakdown(body_axes(fig, (0.72, 0.08, 0.28, 0.4)), data.events.groupby("weapon")["count"].sum(),
                             "events by weapon")
        if "confirmation" in data.events:
            conf = data.events.groupby("confirmation")["count"].sum()
            text_block(fig, ["Confirmation of the events:"] + [f"  {k}: {v}" for k, v in conf.items()] +
                       ["", f"Lulls found: {len(data.lulls)} (≥ {result.cfg.data.lull_min_days} attack-free days)"],
                       top=0.3, size=9)

    b.add("Data: coverage and composition", composition,
          "Left: official attacks per interval between DoD statements vs events in the set — where the set is "
          "complete and where it is thin.")
    if data.coverage is not None and len(data.coverage):
        cover = data.coverage.copy()
        b.add("Data: coverage table", lambda fig: draw_table(body_axes(fig, (0.15, 0, 0.7, 1)), cover,
                                                             decimals={"coverage": 2}, fontsize=7),
              "Official attacks per interval (difference of cumulative counts) against events in the set; "
              "coverage > 1 means the set holds more (e.g. militia claims DoD did not count).")
    monthly = events_by_month(data.events).reset_index()
    b.add("Data: events by month", lambda fig: draw_table(body_axes(fig, (0.2, 0, 0.6, 1)), monthly, fontsize=8),
          "Events in the set per month and country.")


def _model_pages(b: ReportBuilder, result) -> None:
    s, name = result.summary, str(result.cfg.model_name)
    table = s.table()
    shown = table.reset_index(names="parameter")
    diag = [f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in s.diagnostics.items()
            if isinstance(v, (int, float, str, bool, np.generic))]

    def params_page(fig):
        draw_table(body_axes(fig, (0, 0.3, 0.62, 0.7)), shown, decimals=4, fontsize=8,
                   col_widths=[0.36, 0.16, 0.16, 0.16, 0.16])
        text_block(fig, [f"log-likelihood {s.loglik:.2f}   AIC {s.aic:.2f}   n_obs {s.n_obs}", ""] + diag,
                   top=0.28, size=8, spacing=1.35)
        if table.index.str.startswith("effect_").any():
            F.plot_effects(body_axes(fig, (0.7, 0.45, 0.3, 0.5)), table)

    b.add(f"Model: {name} parameters", params_page,
          "Estimates with standard errors and 95% Wald intervals; diagnostics below; right: trigger effects.")
    fitted = s.diagnostics.get("fitted")
    residuals = s.diagnostics.get("residuals")
    qq = s.diagnostics.get("qq")
    if fitted is not None or residuals is not None or qq is not None:
        def fit_page(fig):
            width = 0.64 if (residuals is not None or qq is not None) else 1.0
            if fitted is not None:
                F.plot_fitted(body_axes(fig, (0, 0.05, width, 0.85)), result.model.counts_, fitted, name,
                              result.data.lulls)
            if qq is not None:
                F.plot_qq(body_axes(fig, (0.72, 0.05, 0.28, 0.85)), np.asarray(qq["theoretical"]),
                          np.asarray(qq["empirical"]))
            elif residuals is not None:
                F.plot_acf(body_axes(fig, (0.72, 0.05, 0.28, 0.85)), residuals)

        b.add(f"Model: {name} fit and diagnostics", fit_page,
              "Fitted one-day-ahead mean over the observed counts; right: residual autocorrelation "
              "(GLM/ARIMA) or time-rescaling QQ plot (continuous Hawkes).")


def _forecast_pages(b: ReportBuilder, result) -> None:
    cfg, fc, name = result.cfg, result.forecast, str(result.cfg.model_name)
    counts = result.data.counts
    origin = pd.Timestamp(result.metrics["origin"])
    history = counts.loc[:origin].iloc[-int(cfg.report.history_days):]
    after = counts.loc[origin + pd.Timedelta(days=1): fc.index[-1]]
    scenario = (result.scenario[0], result.scenario[1]) if result.scenario else None
    risk = result.risk.rename(columns={"horizon_days": "days", "threshold": "k", "probability": "P(≥k)",
                                       "expected_total": "E[total]"})[["days", "k", "P(≥k)", "E[total]", "lo90", "hi90"]]

    def draw(fig):
        F.plot_fan(body_axes(fig, (0, 0.05, 0.62, 0.9)), history, fc, name, after, scenario)
        draw_table(body_axes(fig, (0.68, 0.0, 0.32, 1)), risk, decimals={"P(≥k)": 3, "E[total]": 2}, fontsize=7)

    b.add("Forecast and escalation risk", draw,
          f"Left: last {len(history)} days and the forecast with 50/80/95% bands"
          + (" (crosses: what happened after the origin)" if len(after) else "")
          + "; right: P(at least k attacks within h days).")
    if result.scenario:
        sname, fc_s, risk_s = result.scenario
        both = result.risk[["horizon_days", "threshold", "probability"]].rename(columns={"probability": "baseline"})
        both["scenario"] = risk_s["probability"].to_numpy()
        both["difference"] = both["scenario"] - both["baseline"]

        def scenario_page(fig):
            F.plot_fan(body_axes(fig, (0, 0.05, 0.62, 0.9)), history, fc, name, None, (sname, fc_s))
            draw_table(body_axes(fig, (0.68, 0, 0.32, 1)), both, decimals=3, fontsize=7)

        b.add(f"Scenario: {sname}", scenario_page,
              f"{cfg.scenario.description} Dashed: scenario mean; table: baseline vs scenario probabilities.")


def _score_table(result) -> pd.DataFrame:
    rows = []
    for h, s in result.metrics["scores"].items():
        sk = (result.metrics.get("skill") or {}).get(h, {})
        rows.append({"horizon": int(h), "log score": s["log_score"], "RPS": s["rps"], "MAE": s["mae"],
                     "cov 50%": s["coverage_50"], "cov 90%": s["coverage_90"],
                     "RPS skill": sk.get("rps_skill", np.nan), "Δ log score": sk.get("log_score_diff", np.nan),
                     "origins": int(s["n_origins"])})
    return pd.DataFrame(rows)


def _backtest_pages(b: ReportBuilder, result) -> None:
    name, bt = str(result.cfg.model_name), result.backtest
    ref = result.reference_backtests.get(result.metrics.get("skill_reference"))
    horizons = sorted(bt["horizon"].unique())
    h = horizons[-1]
    table = _score_table(result)
    k = int(result.cfg.risk.thresholds[0])

    def scores_page(fig):
        draw_table(body_axes(fig, (0, 0.55, 1, 0.42)), table, decimals=3, fontsize=8)
        F.plot_score_over_time(body_axes(fig, (0, 0.05, 1, 0.42)), bt, h, name, result.data.lulls, ref)

    info = result.metrics["backtest_info"]
    b.add("Backtest: scores", scores_page,
          f"Rolling origin ({info['origins']} origins, {info['fits']} refits): mean scores of the h-day total "
          "(lower is better); skill vs climatology (> 0 better). Below: RPS over time.")

    def calibration_page(fig):
        sub = bt[bt["horizon"] == h]
        pairs = [(f"{name} P(≥{k} in {h} d)", sub[f"p_ge{k}"].to_numpy(), (sub["observed_total"] >= k).to_numpy())]
        if ref is not None and ref is not bt:
            rs = ref[ref["horizon"] == h]
            pairs.append((f"climatology P(≥{k} in {h} d)", rs[f"p_ge{k}"].to_numpy(),
                          (rs["observed_total"] >= k).to_numpy()))
        F.plot_reliability(body_axes(fig, (0, 0.05, 0.3, 0.85)), pairs)
        F.plot_pit(body_axes(fig, (0.36, 0.05, 0.28, 0.85)), sub["pit"].to_numpy(), name)
        cov = table.rename(columns={"cov 50%": "coverage_50", "cov 90%": "coverage_90"})
        F.plot_interval_coverage(body_axes(fig, (0.72, 0.05, 0.28, 0.85)), cov, name)

    b.add("Backtest: calibration", calibration_page,
          f"Left: reliability of P(≥{k} attacks in {h} days); middle: randomised PIT ({h}-day totals; flat = "
          "calibrated); right: interval coverage vs nominal (dotted 50%, dashed 90%).")


def _appendix(b: ReportBuilder, result) -> None:
    m = result.metrics
    lines = ["Package versions:"] + [f"  {k}: {v}" for k, v in m["versions"].items()] + \
            ["", "Data provenance:"] + [f"  {k}: {v}" for k, v in result.data.files.items()] + \
            [f"  SHA-256 of the data files: {result.data.sha256}", "", "Run record: " + str(result.folder),
             "Timings: metrics.json (timings_s), left out here so that the PDF bytes are reproducible."]
    b.add_text_pages("Appendix: versions and provenance", lines)
    b.add_text_pages("Appendix: resolved configuration",
                     resolved_yaml(result.cfg).splitlines())
