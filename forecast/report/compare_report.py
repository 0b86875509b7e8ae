"""The comparison PDF: leaderboard, scores by horizon, significance, calibration, parameters, fans."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecast.report import figures as F
from forecast.report.builder import ReportBuilder, body_axes, created_at, draw_table, text_block


def _score_se(runs, score: str) -> pd.DataFrame:
    rows = []
    for r in runs:
        if r.ok and r.backtest is not None:
            for h, g in r.backtest.groupby("horizon"):
                rows.append({"model": r.label, "horizon": h, score: g[score].mean(),
                             f"{score}_se": g[score].std(ddof=1) / np.sqrt(len(g))})
    return pd.DataFrame(rows)


def write_compare_report(runs, board: pd.DataFrame, sig: pd.DataFrame, compare_id: str, path: Path) -> Path:
    b = ReportBuilder("Model comparison", "Comparison of escalation-risk forecasts across configs",
                      "forecast, comparison, leaderboard, Diebold-Mariano", compare_id, "several")
    ok = [r for r in runs if r.ok]
    failed = [r for r in runs if not r.ok]
    lines = [f"Runs compared: {len(runs)} ({len(ok)} ok, {len(failed)} failed)", f"Created: {created_at():%Y-%m-%d %H:%M UTC}",
             ""] + [f"  {r.label}: {r.metrics.get('status')}  ({r.folder})" for r in runs]
    if failed:
        lines += ["", "Failed runs:"] + [f"  {r.label}: {r.metrics.get('error')}" for r in failed]
    b.add("Model comparison", lambda fig: text_block(fig, lines, size=9, spacing=1.4),
          "Which model forecasts the attack counts most reliably? Lower scores are better.")

    for h, g in board.dropna(subset=["horizon"]).groupby("horizon"):
        cols = ["rank", "label", "log_score", "rps", "mae", "coverage_50", "coverage_90", "rps_skill"]
        cols += [c for c in g.columns if c.startswith("brier_ge")][:2]
        table = g[[c for c in cols if c in g]].rename(columns={"coverage_50": "cov50", "coverage_90": "cov90"})
        b.add(f"Leaderboard: {int(h)}-day totals",
              lambda fig, t=table: draw_table(body_axes(fig, (0, 0.1, 1, 0.9)), t, decimals=3, fontsize=8,
                                              bold_min=["log_score", "rps", "mae"] +
                                              [c for c in t.columns if c.startswith("brier")],
                                              bold_max=["rps_skill"]),
              "Mean scores over backtest origins (best in bold); skill is relative to climatology (> 0 better).")

    rps_table = _score_se(ok, "rps")
    log_table = _score_se(ok, "log_score")

    def horizons_page(fig):
        if len(rps_table):
            F.plot_scores_by_horizon(body_axes(fig, (0, 0.05, 0.46, 0.9)), rps_table, "rps")
            F.plot_scores_by_horizon(body_axes(fig, (0.54, 0.05, 0.46, 0.9)), log_table, "log_score")

    b.add("Scores by horizon", horizons_page, "Mean RPS (left) and log score (right) with 95% intervals of the mean "
                                              "over origins; each model keeps its colour.")
    if len(sig):
        b.add("Paired significance against the best model",
              lambda fig: draw_table(body_axes(fig, (0, 0.1, 1, 0.9)), sig, decimals=3, fontsize=8),
              "Diebold-Mariano tests of log-score differences (model − best) on shared origins, Newey-West "
              "variance; small p: the best model is reliably better.")

    def reliability_page(fig):
        pairs = []
        for r in ok:
            if r.backtest is None:
                continue
            h = r.backtest["horizon"].max()
            sub = r.backtest[r.backtest["horizon"] == h]
            pcols = [c for c in sub.columns if c.startswith("p_ge")]
            if pcols:
                k = int(pcols[0][4:])
                pairs.append((f"{r.label} P(≥{k} in {h} d)", sub[pcols[0]].to_numpy(),
                              (sub["observed_total"] >= k).to_numpy()))
        F.plot_reliability(body_axes(fig, (0.2, 0.05, 0.6, 0.9)), pairs)

    b.add("Calibration side by side", reliability_page,
          "Reliability of the lowest-threshold escalation probability at the longest horizon, for every model.")

    params = pd.DataFrame({r.label: pd.Series(r.metrics.get("params") or {}, dtype=float) for r in ok})
    if len(params):
        shown = params.reset_index(names="parameter").iloc[:40, :9]
        b.add("Parameters across configs", lambda fig: draw_table(body_axes(fig, (0, 0, 1, 1)), shown, decimals=3,
                                                                  fontsize=7),
              "Fitted parameters of each run (blank: not in that model); first 8 runs shown.")

    top = board.dropna(subset=["rank"]) if "rank" in board else board.iloc[0:0]
    if len(top):
        best_labels = list(dict.fromkeys(top.sort_values(["horizon", "rank"], ascending=[False, True])["label"]))[:3]
        by_label = {r.label: r for r in ok}

        def fans(fig):
            for i, label in enumerate(best_labels):
                r = by_label[label]
                if r.forecast is None:
                    continue
                ax = body_axes(fig, (i / 3 + 0.01, 0.05, 1 / 3 - 0.04, 0.85))
                fc = r.forecast.assign(date=pd.to_datetime(r.forecast["date"]))
                colour = F.model_color(str(r.metrics.get("model")))
                ax.fill_between(fc["date"], fc["q05"], fc["q95"], step="mid", color=colour, alpha=0.2, lw=0,
                                label="90% interval")
                ax.fill_between(fc["date"], fc["q25"], fc["q75"], step="mid", color=colour, alpha=0.45, lw=0,
                                label="50% interval")
                ax.plot(fc["date"], fc["mean"], color=colour, lw=1.4, label="mean")
                ax.set_title(label, fontsize=9)
                ax.set_ylabel("attacks per day")
                F.date_axis(ax)
                ax.legend(frameon=False, fontsize=7)

        b.add("Forecasts of the top models", fans, "Daily forecasts from each run's last origin (forecast.csv), "
                                                   "best-ranked models at the longest horizon first.")
    return b.save(path)
