"""Do backtest log scores still depend on the number of simulated paths? (issue #14, exact predictive pmfs)

For every model option whose forecast is simulation-based (discovered: ``forecast(14)`` carries simulated
paths, or its pmf changes between 1000 and 2000 paths), ``run_backtest`` runs over the 2024 origins
(``--start/--end`` for another fixed period) with 1000 and with 10000 paths, the same seed, horizons 1/7/14.
Each model runs twice: with its own predictive distribution ("exact": Rao-Blackwellised or, for
HawkesContinuous' totals, exact outright) and, for comparison, with the smoothed empirical pmfs of the same
paths (``SampleCountForecast``, what ARIMA and HawkesContinuous returned before). Printed: the mean log
score per horizon for both path counts and their |difference|, the backtest wall times (s, after an
untimed warm-up) and the time ratio exact / empirical at 1000 paths. Target: |diff| < 0.01 nats at no
more than 2x the empirical backtest's time. The empirical variant still builds (then drops) the exact
forecast object, so its time overstates the old code's a little and the ratio understates the cost. A table, no asserts.

Data: ``load_events`` / ``daily_counts`` / ``load_triggers`` on the shipped files, the whole window they cover.
Each model's rows print as soon as it is done; address space is capped at 8 GB (``MEMORY_LIMIT``), so a
forecast that would need more fails with MemoryError (reported) instead of exhausting the machine.

Run: ``python benchmarks/bench_exact_pmf.py [--models arima hawkes_continuous] [--start 2024-01-01 --end 2024-03-31]``
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import EVENTS, TRIGGERS, header  # noqa: E402

from forecast import daily_counts, load_events, load_triggers  # noqa: E402
from forecast.config import build_model, model_names  # noqa: E402
from forecast.errors import ModelFitError  # noqa: E402
from forecast.evaluate import backtest_origins, run_backtest  # noqa: E402
from forecast.models.base import SampleCountForecast  # noqa: E402

HORIZONS, THRESHOLDS, PATHS, SEED = [1, 7, 14], [1, 3, 5, 10], (1000, 10000), 0
TOL, TIME_RATIO = 0.01, 2.0
MEMORY_LIMIT = 8 << 30  # bytes of address space: a model that needs more fails with MemoryError, not the machine


def empirical(model):
    """The same estimator, forecasting the smoothed empirical pmfs of its own simulated paths."""
    base = type(model)

    class Empirical(base):
        def _forecast(self, index, future_triggers, n_paths):
            return SampleCountForecast(index, base._forecast(self, index, future_triggers, n_paths).paths)

    Empirical.__name__ = Empirical.__qualname__ = f"{base.__name__}Empirical"
    return Empirical(**model.get_params())


def simulation_based(name: str, counts: pd.Series, triggers: pd.DataFrame) -> bool:
    """Does the forecast simulate paths, or does its pmf change with the number of paths (a pool of members)?"""
    model = build_model(name, seed=SEED).fit(counts, triggers)
    fc = model.forecast(14, n_paths=1000)
    a, b = fc.total_pmf(14), model.forecast(14, n_paths=2000).total_pmf(14)
    return hasattr(fc, "paths") or len(a) != len(b) or not np.allclose(a, b, rtol=0, atol=1e-12)


def backtest(model, counts, triggers, origins, n_paths: int) -> tuple[pd.Series, float]:
    """Mean log score per horizon and the wall time of one backtest (after an untimed two-origin warm-up:
    imports, compiled code, first-call caches)."""
    run_backtest(model, counts, triggers, origins[:2], HORIZONS, THRESHOLDS, n_paths=n_paths, seed=SEED,
                 progress=False)
    t = time.perf_counter()
    rows, _ = run_backtest(model, counts, triggers, origins, HORIZONS, THRESHOLDS, n_paths=n_paths, seed=SEED,
                           progress=False)
    return rows.groupby("horizon")["log_score"].mean(), time.perf_counter() - t


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model options (default: every simulation-based one)")
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2024-12-31")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, resource.getrlimit(resource.RLIMIT_AS)[1]))
    warnings.simplefilter("ignore")  # statsmodels' convergence chatter; fit problems are counted by run_backtest
    header("exact predictive pmfs: log score vs number of paths")

    events = load_events(EVENTS)
    counts = daily_counts(events)
    triggers = load_triggers(TRIGGERS)
    origins = backtest_origins(counts.index, [{"name": "bench", "start": args.start, "end": args.end}], 14)
    print(f"data {counts.index[0].date()}..{counts.index[-1].date()} ({counts.sum()} attacks); "
          f"{len(origins)} origins {origins[0].date()}..{origins[-1].date()}; seed {SEED}\n")
    first = counts[counts.index <= origins[0]]
    names = args.models or [n for n in model_names() if simulation_based(n, first, triggers)]

    columns = ["model", "pmf"] + [f"h{h} {c}" for h in HORIZONS for c in (*PATHS, "|diff|")] + [f"s {n}" for n in PATHS]
    widths = [18, 9] + [9] * (len(columns) - 2)
    print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths))), flush=True)
    for name in names:  # each model's rows and verdict as soon as they are known
        seconds, worst = {}, {}
        for kind in ("exact", "empirical"):
            scores = {}
            for n_paths in PATHS:
                model = build_model(name, seed=SEED, n_paths=n_paths)
                try:
                    scores[n_paths], seconds[kind, n_paths] = backtest(
                        model if kind == "exact" else empirical(model), counts, triggers, origins, n_paths)
                except (ModelFitError, AttributeError, MemoryError) as e:  # AttributeError: a forecast without paths
                    print(f"{name} ({kind}, {n_paths} paths): {type(e).__name__}: {e}", flush=True)
                    break
            if len(scores) < len(PATHS):
                continue
            diff = (scores[PATHS[0]] - scores[PATHS[1]]).abs()
            worst[kind] = float(diff.max())
            cells = [f"{v:.4f}" for h in HORIZONS for v in (scores[PATHS[0]][h], scores[PATHS[1]][h], diff[h])]
            cells = [name, kind] + cells + [f"{seconds[kind, n]:.1f}" for n in PATHS]
            print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))),
                  flush=True)
        if "exact" in worst:
            ratio = seconds["exact", PATHS[0]] / seconds.get(("empirical", PATHS[0]), np.nan)
            ok = worst["exact"] < TOL and not ratio > TIME_RATIO
            print(f"  -> {name}: max |diff| {worst['exact']:.4f} nats (target < {TOL:g}; empirical pmfs "
                  f"{worst.get('empirical', np.nan):.4f}); time exact / empirical at {PATHS[0]} paths {ratio:.2f} "
                  f"(target <= {TIME_RATIO:g}): {'PASS' if ok else 'FAIL'}", flush=True)


if __name__ == "__main__":
    main()
