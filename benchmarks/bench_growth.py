"""Growth of run time with the size of the event set: 1x, 10x and 100x the shipped series.

Target (issue "speed"): on synthetic event sets 10x and 100x larger (days and events), time per run
grows no more than 1.2x faster than linear, i.e. t(k) / (k t(1)) <= 1.2 for k = 10, 100
(equivalently a growth exponent log(t(k)/t(1)) / log(k) <= 1 + log(1.2)/log(k): 1.079 at 10x,
1.040 at 100x).

Synthetic sets tile the shipped data k times end to end (442 k days, 211 k events, 56 k triggers;
each copy shifted by 442 days), so the statistics stay those of the real series. Timed:

(a) ``Hawkes().fit`` on the tiled counts, plus one log-likelihood + gradient evaluation;
(b) a backtest with a fixed number of origins (the last 28 days, refit every 7, horizons 1/7/14,
    1000 paths) for Hawkes and PoissonGLM: every fit/update/forecast at an origin sees the whole
    history, so this is linear in the series length. (Origins proportional to the length would make
    an expanding-window backtest quadratic by construction: k times the origins, each k times longer.)
(c) ``load_events`` + ``daily_counts`` of a project-format event CSV with 211 k rows
    (unique event ids, ``source_url`` filled), written to a temporary folder.

Times are the best of several repetitions (least disturbed by other processes on a shared machine).

Run: ``python benchmarks/bench_growth.py [--scales 1 10 100]``
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import EVENTS, counting_calls, header, load_shipped, repeat, table, verdict  # noqa: E402

import forecast  # noqa: E402
from forecast.data.events import PROJECT_COLUMNS  # noqa: E402
from forecast.evaluate import RefitPolicy, run_backtest  # noqa: E402
from forecast.models import Hawkes, PoissonGLM  # noqa: E402
from forecast.models import hawkes as hk  # noqa: E402

LINEAR_SLACK = 1.2
N_ORIGINS, REFIT_EVERY, HORIZONS, THRESHOLDS, N_PATHS = 28, 7, [1, 7, 14], [1, 3, 5, 10], 1000
REPEATS = {1: 7, 10: 5, 100: 3}


def tile_counts(counts: pd.Series, k: int) -> pd.Series:
    index = pd.date_range(counts.index[0], periods=len(counts) * k, freq="D", name="date")
    return pd.Series(np.tile(counts.to_numpy(), k), index=index, name=counts.name)


def tile_triggers(triggers: pd.DataFrame, k: int, period_days: int) -> pd.DataFrame:
    parts = []
    for i in range(k):
        part = triggers.copy()
        part["date"] = part["date"] + pd.Timedelta(days=i * period_days)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def write_event_csv(path: Path, k: int, period_days: int) -> int:
    """The shipped events.csv repeated k times (dates shifted by period_days per copy, ids made unique)."""
    with open(EVENTS, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=PROJECT_COLUMNS)
        writer.writeheader()
        for i in range(k):
            shift = pd.Timedelta(days=i * period_days)
            for r in rows:
                out = {c: r.get(c, "") for c in PROJECT_COLUMNS}
                out["event_id"] = f"{r['event_id']}-{i:03d}"
                out["date"] = (pd.Timestamp(r["date"]) + shift).strftime("%Y-%m-%d")
                out["source_url"] = r["source_url"] or "https://example.org/synthetic"
                writer.writerow(out)
                n += 1
    return n


def growth_rows(name: str, unit: str, sizes: dict[int, float], times: dict[int, float]) -> list[dict]:
    """One row per scale: time per unit, t(k)/(k t(1)), exponent vs 1x, and the step ratio against the
    previous scale (fixed costs dominate at 1x, so the 10x -> 100x step shows the asymptotic slope)."""
    rows, prev = [], None
    for k, t in times.items():
        row = {"quantity": name, "scale": f"{k}x", "size": int(sizes[k]), "seconds": t,
               f"us/{unit}": t / sizes[k] * 1e6}
        if k != 1:
            ratio = t / (k * times[1])
            row["t/(k*t1)"] = ratio
            row["exponent"] = math.log(t / times[1]) / math.log(k)
            row["step"] = t / (k / prev * times[prev])
            row["verdict"] = verdict(ratio <= LINEAR_SLACK)
        rows.append(row)
        prev = k
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    scales = sorted(set(args.scales) | {1})
    logging.basicConfig(level=logging.ERROR)
    header("bench_growth: time vs size of the event set (tiled shipped data)")

    _, counts, triggers = load_shipped()
    period = len(counts)
    results: list[dict] = []

    # (a) Hawkes fit and one loglik + gradient evaluation --------------------------------------
    fit_t, llg_t, evals, days = {}, {}, {}, {}
    for k in scales:
        c_k, tr_k = tile_counts(counts, k), tile_triggers(triggers, k, period)
        days[k] = len(c_k)
        reps = REPEATS.get(k, 3)
        fit_t[k] = min(repeat(lambda: Hawkes().fit(c_k, tr_k), reps, warmup=1))
        model = Hawkes().fit(c_k, tr_k)
        _, y, X = model._fit_data
        inner = max(1, 200 // k)
        llg_t[k] = min(repeat(lambda: [hk.loglik_and_grad(model.theta_, y, X) for _ in range(inner)], 7)) / inner
        with counting_calls(hk, "_loglik_terms") as n_calls:
            hk.fit_mle(y, X, None, model.effect_prior_sd)
        evals[k] = n_calls["n"]
        print(f"  (a) {k:>3}x: {days[k]} days, {int(y.sum())} events: fit {fit_t[k]:.3f} s "
              f"({evals[k]} loglik evaluations), loglik+grad {llg_t[k] * 1e3:.3f} ms; "
              f"adjacency {model.adjacency_:.3f}", flush=True)
    results += growth_rows("(a) Hawkes().fit", "day", days, fit_t)
    results += growth_rows("(a) loglik+gradient", "day", days, llg_t)

    # (b) backtest with a fixed number of origins ------------------------------------------------
    for cls in (Hawkes, PoissonGLM):
        bt_t = {}
        for k in scales:
            c_k, tr_k = tile_counts(counts, k), tile_triggers(triggers, k, period)
            origins = c_k.index[-N_ORIGINS - 1:-1]

            def backtest():
                run_backtest(cls(), c_k, tr_k, origins, HORIZONS, THRESHOLDS, policy=RefitPolicy(REFIT_EVERY),
                             n_paths=N_PATHS, seed=0, progress=False)

            bt_t[k] = min(repeat(backtest, max(REPEATS.get(k, 3) - 2, 1), warmup=1 if k < 100 else 0))
            print(f"  (b) {cls.__name__} {k:>3}x: backtest over the last {N_ORIGINS} origins {bt_t[k]:.3f} s",
                  flush=True)
        results += growth_rows(f"(b) backtest {cls.__name__}, {N_ORIGINS} origins", "day", days, bt_t)

    # (c) load + daily_counts of an event CSV -------------------------------------------------------
    load_t, n_rows = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_growth_") as tmp:
        for k in scales:
            path = Path(tmp) / f"events_{k}x.csv"
            n_rows[k] = write_event_csv(path, k, period)
            end = counts.index[0] + pd.Timedelta(days=period * k - 1)

            def load():
                ev = forecast.load_events(path)
                return forecast.daily_counts(ev, counts.index[0], end)

            c_k = load()
            assert int(c_k.sum()) == n_rows[k] and len(c_k) == period * k
            load_t[k] = min(repeat(load, REPEATS.get(k, 3), warmup=1))
            print(f"  (c) {k:>3}x: {n_rows[k]} rows ({path.stat().st_size / 1e6:.1f} MB): load+daily_counts "
                  f"{load_t[k]:.3f} s", flush=True)
    results += growth_rows("(c) load_events+daily_counts", "row", n_rows, load_t)
    print()

    cols = ["quantity", "scale", "size", "seconds", "us/day", "us/row", "t/(k*t1)", "exponent", "step", "verdict"]
    print(f"growth (best of repetitions; PASS when t(k)/(k t(1)) <= {LINEAR_SLACK}; size = days or rows;")
    print(" step = t(k) / ((k/k_prev) t(k_prev)), the slope between neighbouring scales: 1.0 is linear)")
    print(table(results, cols, floatfmt={"seconds": ".4f", "us/day": ".3f", "us/row": ".2f",
                                         "t/(k*t1)": ".3f", "exponent": ".3f", "step": ".2f"}))
    fails = [r for r in results if r.get("verdict") == "FAIL"]
    print()
    steep = [r for r in results if r.get("step", 0) > LINEAR_SLACK]
    print(f"overall: {verdict(not fails)} ({len(fails)} of {sum('verdict' in r for r in results)} growth checks fail)")
    for r in steep:
        print(f"note: {r['quantity']} grows {r['step']:.2f}x faster than linear from the previous scale "
              f"to {r['scale']}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(script wall time {time.perf_counter() - t0:.1f} s)")
