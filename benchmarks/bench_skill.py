"""Forecast skill and calibration of every model option on the shipped data (issue #14).

Setting: the rolling-origin backtest (``run_backtest``, expanding window, ``refit_every=7``, horizons 1/7/14,
thresholds 1/3/5/10, seed 0) over the periods of ``configs/backtest/default.yaml`` (run once over the union
of their origins, as the pipeline does), on the series of ``configs/data/default.yaml`` (its window and its
attacker / target_type / duplicates filters). Every model is ``build_model(name, seed=0, n_paths=...)``.

Targets printed (verdicts, not asserts):

* mean log score per period x horizon, with ``nb_window`` as the reference (difference and a
  Diebold-Mariano test per row, HAC lag h - 1 with the Harvey-Leybourne-Newbold adjustment:
  ``statsmodels.tsa.stattools.diebold_mariano_test``); the best non-baseline model beats ``nb_window``
  pooled over all origins at h = 7 and h = 14;
* reliability of P(>= 1 attack in 7 days): every bin with >= 20 origins within +-0.1;
* 90% intervals of 14-day totals cover 85-95% in every period;
* the onset table: what each model forecast the day before and 1, 3, 7 days after each wave onset.

The best non-baseline model is chosen by a rule fixed before looking at 2025-2026: the lowest mean log
score at h = 7 over the origins of the ``campaign`` and ``2024`` periods pooled (each origin once).
Baselines are the options whose estimator lives in ``forecast.models.baselines``.

Backtest frames are cached (``--cache DIR``, default ``$TMPDIR/forecast_bench_skill``) under a key of the
model's parameters, the data, the origins, the settings and the source of ``forecast/models`` and the
backtest code, so a re-run only recomputes what changed.

Run: ``python benchmarks/bench_skill.py [--models a,b] [--periods campaign,2024] [--n-paths N] [--quick]
[--cache DIR] [--no-cache] [--verdicts]`` (``--quick``: 200 paths, campaign and 2024 only). Fresh, all models,
1000 paths, 960 origins: about 5 min CPU on the 2-core box (ARIMA 80-100 s, negbin up to 75 s, regime 20-25 s,
the others under 10 s each); from the cache about 3 s.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import logging  # noqa: E402
import pickle  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from _common import ROOT, header, table, verdict  # noqa: E402
from hydra.utils import get_class  # noqa: E402
from statsmodels.tsa.stattools import diebold_mariano_test  # noqa: E402

from forecast import daily_counts, load_events, load_triggers  # noqa: E402
from forecast.config import build_model, model_names, model_target  # noqa: E402
from forecast.data import filter_events  # noqa: E402
from forecast.evaluate import backtest_origins, run_backtest  # noqa: E402

try:  # the refit policy object (newer backtest API), else the keyword of the older one
    from forecast.evaluate import RefitPolicy  # noqa: E402
except ImportError:  # pragma: no cover
    RefitPolicy = None
from forecast.evaluate.calibration import calibration_summary, reliability  # noqa: E402
from forecast.evaluate.onsets import find_onsets, onset_table  # noqa: E402

HORIZONS, THRESHOLDS, REFIT_EVERY, SEED = [1, 7, 14], [1, 3, 5, 10], 7, 0
REFERENCE = "nb_window"
SELECTION_PERIODS, SELECTION_HORIZON = ("campaign", "2024"), 7  # the fixed rule for the best model
DM_HORIZONS = (7, 14)
REL_MIN_N, REL_TOL = 20, 0.1
COVERAGE_BAND = (0.85, 0.95)
ONSET_QUIET_DAYS, ONSET_OFFSETS = 14, (-1, 1, 3, 7)
SOURCES = [ROOT / "forecast" / "models", ROOT / "forecast" / "evaluate" / "backtest.py",
           ROOT / "forecast" / "evaluate" / "scores.py", ROOT / "forecast" / "distributions.py"]


def load_data() -> tuple[pd.Series, pd.DataFrame | None, dict, list[dict]]:
    """Counts and triggers as ``configs/data/default.yaml`` sets them up; that YAML and the backtest periods."""
    data = yaml.safe_load((ROOT / "configs" / "data" / "default.yaml").read_text(encoding="utf-8"))
    backtest = yaml.safe_load((ROOT / "configs" / "backtest" / "default.yaml").read_text(encoding="utf-8"))

    def path(key):
        return ROOT / "data" / Path(str(data[key])).name if data.get(key) else None

    events = load_events(path("events"), format=data.get("format", "project"))
    kept = filter_events(events, country=data.get("country"), weapon=data.get("weapon"),
                         confirmation=data.get("confirmation"), attacker=data.get("attacker"),
                         target_type=data.get("target_type"), duplicates=data.get("duplicates") or "keep")
    counts = daily_counts(kept, data["start"], data["end"])
    triggers = load_triggers(path("triggers")) if path("triggers") else None
    periods = [{**p, "name": str(p["name"])} for p in backtest["periods"]]
    return counts, triggers, {**data, "min_train_days": backtest.get("min_train_days", 14)}, periods


def source_digest() -> str:
    h = hashlib.sha256()
    for src in SOURCES:
        for f in sorted(src.rglob("*.py")) if src.is_dir() else [src]:
            h.update(f.read_bytes())
    return h.hexdigest()


def cached_backtest(name: str, counts, triggers, origins, n_paths: int, cache: Path | None) -> dict:
    """``{"bt", "info", "seconds", "cpu_s", "cached"}`` for model option ``name``, from the cache if there."""
    model = build_model(name, seed=SEED, n_paths=n_paths)
    key = hashlib.sha256(repr((name, sorted(model.get_params().items()), counts.to_json(date_format="iso"),
                               None if triggers is None else triggers.to_json(date_format="iso"),
                               list(map(str, origins)),
                               HORIZONS, THRESHOLDS, REFIT_EVERY, n_paths, SEED, source_digest())).encode())
    file = cache / f"{name}_{key.hexdigest()[:16]}.pkl" if cache else None
    if file and file.exists():
        return pickle.loads(file.read_bytes()) | {"cached": True}
    t, c = time.perf_counter(), time.process_time()
    refit = {"policy": RefitPolicy(every=REFIT_EVERY)} if RefitPolicy else {"refit_every": REFIT_EVERY}
    bt, info = run_backtest(model, counts, triggers, origins, HORIZONS, THRESHOLDS, n_paths=n_paths, seed=SEED,
                            progress=False, **refit)
    info = info.as_dict() if hasattr(info, "as_dict") else dict(info)
    out = {"bt": bt, "info": info, "seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c}
    if file:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(out, f)
        os.replace(tmp, file)  # atomic: an interrupted run never leaves a partial cache file
    return out | {"cached": False}


def in_period(bt: pd.DataFrame, p: dict) -> pd.DataFrame:
    o = pd.to_datetime(bt["origin"])
    return bt[(o >= pd.Timestamp(p["start"])) & (o <= pd.Timestamp(p["end"]))]


def in_periods(bt: pd.DataFrame, periods: list[dict]) -> pd.DataFrame:
    return pd.concat([in_period(bt, p) for p in periods]).drop_duplicates(["origin", "horizon"])


def paired(bts: dict, a: str, b: str, h: int, score: str = "log_score") -> pd.DataFrame:
    """Scores of ``a`` and ``b`` at horizon ``h`` on their common origins, in origin order."""
    sa = bts[a][bts[a]["horizon"] == h].set_index("origin")[score]
    sb = bts[b][bts[b]["horizon"] == h].set_index("origin")[score]
    return pd.concat({"a": sa, "b": sb}, axis=1, join="inner").sort_index()


def dm(pair: pd.DataFrame, h: int) -> tuple[float, float]:
    """Diebold-Mariano of a - b (negative: a scores better), lag h - 1, Harvey adjustment."""
    if len(pair) < 3 or np.allclose(pair["a"], pair["b"]):
        return float("nan"), float("nan")
    res = diebold_mariano_test(np.zeros(len(pair)), pair["a"].to_numpy(), pair["b"].to_numpy(),
                               criterion=lambda y, f: f, lags=h - 1, harvey_adj=True, horizon=h)
    return float(res.statistic), float(res.pvalue)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help="comma-separated model options (default: all of configs/model/)")
    ap.add_argument("--periods", help="comma-separated period names of configs/backtest/default.yaml (default: all)")
    ap.add_argument("--n-paths", type=int, default=1000)
    ap.add_argument("--quick", action="store_true",
                    help="200 paths and, unless --periods is given, only the selection periods (campaign, 2024)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "forecast_bench_skill")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--verdicts", action="store_true", help="also print calibration verdicts (best and reference)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("forecast.models").setLevel(logging.ERROR)  # per-fit notes; the cost table counts them
    warnings.filterwarnings("ignore", module="statsmodels")
    n_paths = 200 if args.quick else args.n_paths
    t_script = time.perf_counter()
    header("skill and calibration (issue #14)")

    counts, triggers, data, all_periods = load_data()
    names = {p["name"]: p for p in all_periods}
    wanted = (args.periods.split(",") if args.periods else list(SELECTION_PERIODS) if args.quick
              else list(names))
    unknown = [n for n in list(wanted) + list(SELECTION_PERIODS) if n not in names]
    if unknown:
        raise SystemExit(f"--periods: unknown period(s) {', '.join(unknown)}; configs/backtest/default.yaml has "
                         f"{', '.join(names)} (the selection rule needs {', '.join(SELECTION_PERIODS)})")
    periods = [names[n] for n in wanted]
    run_periods = [names[n] for n in dict.fromkeys(list(wanted) + list(SELECTION_PERIODS))]
    models = args.models.split(",") if args.models else model_names()
    bad = [m for m in models if m not in model_names()]
    if bad:
        raise SystemExit(f"--models: unknown option(s) {', '.join(bad)}; use {', '.join(model_names())}")
    models = list(dict.fromkeys([REFERENCE] + models))
    baselines = {m for m in models if get_class(model_target(m)).__module__ == "forecast.models.baselines"}
    origins = backtest_origins(counts.index, run_periods, data["min_train_days"])
    print(f"data {counts.index[0].date()}..{counts.index[-1].date()} ({len(counts)} days, {int(counts.sum())} "
          f"attacks); {len(origins)} origins over {', '.join(p['name'] for p in run_periods)}; "
          f"refit_every {REFIT_EVERY}, {n_paths} paths, seed {SEED}; cache "
          f"{'off' if args.no_cache else args.cache}\n")

    runs, timing = {}, []
    for m in list(models):
        try:
            r = cached_backtest(m, counts, triggers, origins, n_paths, None if args.no_cache else args.cache)
        except Exception as e:  # a model that breaks is reported and left out, the others still compared
            if m == REFERENCE:
                raise
            print(f"  {m}: FAILED, left out ({type(e).__name__}: {str(e)[:200]})", flush=True)
            timing.append({"model": m, "baseline": m in baselines, "status": "FAILED", "origins": len(origins),
                           **dict.fromkeys(("fits", "failed", "not_conv", "seconds", "cpu_s"), float("nan"))})
            models.remove(m)
            continue
        runs[m] = r
        timing.append({"model": m, "baseline": m in baselines, "status": "cached" if r["cached"] else "run",
                       "origins": r["info"]["origins"], "fits": r["info"]["fits"],
                       "failed": r["info"]["failed_origins"], "not_conv": r["info"]["not_converged"],
                       "seconds": r["seconds"], "cpu_s": r["cpu_s"]})
        print(f"  {m}: {r['seconds']:.1f} s{' (cached)' if r['cached'] else ''}", flush=True)
    bts = {m: r["bt"] for m, r in runs.items()}
    print("\nbacktest cost per model (seconds of the run that made the cache entry)")
    print(table(timing, floatfmt={"seconds": ".1f", "cpu_s": ".1f", "fits": ".0f", "failed": ".0f",
                                  "not_conv": ".0f"}))

    # ---- the fixed selection rule -------------------------------------------------------------------
    sel = [names[n] for n in SELECTION_PERIODS]
    sel_scores = {m: in_periods(bts[m], sel).query("horizon == @SELECTION_HORIZON")["log_score"].mean()
                  for m in models if m not in baselines}
    best = min(sel_scores, key=lambda m: np.nan_to_num(sel_scores[m], nan=np.inf)) if sel_scores else None
    print(f"\nbest non-baseline model (rule: lowest mean log score at h={SELECTION_HORIZON} over "
          f"{' + '.join(SELECTION_PERIODS)} origins pooled): {best}")
    print(table([{"model": m, f"logS_h{SELECTION_HORIZON}": s} for m, s in sorted(sel_scores.items(),
                key=lambda kv: kv[1])], floatfmt={f"logS_h{SELECTION_HORIZON}": ".4f"}))

    # ---- mean log score per period x horizon ----------------------------------------------------------
    for p in periods:
        for h in HORIZONS:
            rows = []
            ref = in_period(bts[REFERENCE], p)
            for m in models:
                g = in_period(bts[m], p)
                pair = paired({"a": g, "b": ref}, "a", "b", h)
                stat, pv = dm(pair, h) if m != REFERENCE else (float("nan"), float("nan"))
                rows.append({"model": m + (" *" if m == best else "") + (" (ref)" if m == REFERENCE else ""),
                             "n": int((g["horizon"] == h).sum()), "logS": g.loc[g["horizon"] == h, "log_score"].mean(),
                             "diff_vs_ref": pair["a"].mean() - pair["b"].mean(), "dm_stat": stat, "p_value": pv})
            rows.sort(key=lambda r: np.nan_to_num(r["logS"], nan=np.inf))
            print(f"\nperiod {p['name']} ({p['start']}..{p['end']}), h={h}: mean log score (lower is better; "
                  f"diff = model - {REFERENCE}; DM lag {h - 1}, HLN; * = best non-baseline by the rule)")
            print(table(rows, floatfmt={"logS": ".4f", "diff_vs_ref": "+.4f", "dm_stat": ".2f", "p_value": ".3f"}))

    # ---- headline: best vs reference pooled over all origins ---------------------------------------------
    if best:
        print(f"\n{best} vs {REFERENCE}, pooled over all origins of {', '.join(p['name'] for p in periods)}")
        rows = []
        for h in DM_HORIZONS:
            pair = paired({"a": in_periods(bts[best], periods), "b": in_periods(bts[REFERENCE], periods)}, "a", "b", h)
            stat, pv = dm(pair, h)
            diff = pair["a"].mean() - pair["b"].mean()
            rows.append({"horizon": h, "n": len(pair), f"logS_{best}": pair["a"].mean(),
                         f"logS_{REFERENCE}": pair["b"].mean(), "diff": diff, "dm_stat": stat, "p_value": pv,
                         "verdict": verdict(diff < 0 and pv < 0.05)})
        print(table(rows, floatfmt={f"logS_{best}": ".4f", f"logS_{REFERENCE}": ".4f", "diff": "+.4f",
                                    "dm_stat": ".2f", "p_value": ".4f"}))
        print("(PASS: lower mean log score than the reference and DM p < 0.05)")

    # ---- reliability of P(>= 1 attack in 7 days) -------------------------------------------------------------
    print(f"\nreliability of P(>=1 attack in 7 days): bins of width 0.1 with >= {REL_MIN_N} origins must have "
          f"|observed - forecast| <= {REL_TOL}")
    rows = []
    for m in models:
        for p in [{"name": "pooled"}] + periods:
            g = (in_periods(bts[m], periods) if p["name"] == "pooled" else in_period(bts[m], p)).query("horizon == 7")
            tab = reliability(g["p_ge1"], g["observed_total"] >= 1)
            big = tab[tab["n"] >= REL_MIN_N]
            gap = (big["observed_freq"] - big["mean_forecast"]).abs()
            rows.append({"model": m, "period": p["name"], "origins": len(g), "bins_n>=20": len(big),
                         "within_0.1": int((gap <= REL_TOL).sum()),
                         "worst_gap": float(gap.max()) if len(gap) else float("nan"),
                         "verdict": verdict(bool((gap <= REL_TOL).all())) if len(big) else "n/a"})
    print(table(rows, floatfmt={"worst_gap": ".3f"}))
    for m in dict.fromkeys(x for x in (best, REFERENCE) if x):
        g = in_periods(bts[m], periods).query("horizon == 7")
        tab = reliability(g["p_ge1"], g["observed_total"] >= 1)
        tab = tab[tab["n"] > 0].assign(gap=lambda t: t["observed_freq"] - t["mean_forecast"])
        print(f"\n{m}: reliability table, pooled (Jeffreys 90% intervals, origins treated as independent)")
        print(table(tab.to_dict("records"), floatfmt={c: ".3f" for c in tab.columns if c != "n"}))

    # ---- coverage of 14-day totals ---------------------------------------------------------------------
    lo, hi = COVERAGE_BAND
    print(f"\n90% interval coverage of 14-day totals per period (target {lo:.2f}-{hi:.2f})")
    rows = []
    for m in models:
        row = {"model": m}
        for p in periods:
            g = in_period(bts[m], p).query("horizon == 14")
            row[p["name"]] = float(g["in90"].mean()) if len(g) else float("nan")
        row["verdict"] = verdict(all(lo <= row[p["name"]] <= hi for p in periods))
        rows.append(row)
    print(table(rows, floatfmt={p["name"]: ".3f" for p in periods}))

    # ---- onsets ---------------------------------------------------------------------------------------
    first, last = min(pd.Timestamp(p["start"]) for p in periods), max(pd.Timestamp(p["end"]) for p in periods)
    onsets = [d for d in find_onsets(counts, ONSET_QUIET_DAYS) if first <= d <= last + pd.Timedelta(days=1)]
    print(f"\nonsets (>= 1 attack after >= {ONSET_QUIET_DAYS} quiet days) in the periods: "
          f"{', '.join(str(d.date()) for d in onsets) or 'none'}")
    if onsets:
        tab = onset_table(bts, onsets, ONSET_OFFSETS, 7, triggers)
        tab["onset"] = tab["onset"].dt.strftime("%Y-%m-%d")
        if "trigger_date" in tab:
            tab["trigger_date"] = tab["trigger_date"].dt.strftime("%Y-%m-%d").fillna("")
            tab["trigger"] = (tab["trigger_kind"].fillna("") + ": " + tab["trigger_name"].fillna("")).str[:40]
            tab = tab.drop(columns=["trigger_name", "trigger_kind"])
        print("P(>=1 attack in the 7 days after the origin) and expected 7-day total at origins onset-1, +1, +3, +7;"
              " observed = total of the 7 days from the onset; trigger = latest on or before the onset")
        print(table(tab.to_dict("records"), floatfmt={c: ".2f" for c in tab.columns if c[:2] in ("p_", "me")}
                    | {"observed": ".0f", "days_since_trigger": ".0f"}))

    if args.verdicts:
        for m in dict.fromkeys(x for x in (best, REFERENCE) if x):
            s = calibration_summary(bts[m], THRESHOLDS, periods)
            print(f"\ncalibration verdicts, {m}")
            for p in s["periods"].values():
                for h in ("7", "14"):
                    for v in p["horizons"].get(h, {}).get("verdicts", []):
                        print("  " + v)
            print("rules: " + " ".join(s["rules"]))
    print(f"\n(script wall time {time.perf_counter() - t_script:.1f} s)")


if __name__ == "__main__":
    main()
