"""Escalation-risk tables from any predictive distribution."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.distributions import central_interval
from forecast.models.base import CountForecast


def risk_table(fc: CountForecast, horizons: list[int], thresholds: list[int]) -> pd.DataFrame:
    """P(total >= k in the next h days), expected total and 50/90% intervals of the total, for every
    configured horizon h (at most the forecast's horizon) and threshold k."""
    rows = []
    for h in horizons:
        pmf = fc.total_pmf(h)
        lo50, hi50 = central_interval(pmf, 0.5)
        lo90, hi90 = central_interval(pmf, 0.9)
        for k in thresholds:
            rows.append({"horizon_days": h, "threshold": k, "probability": fc.prob_at_least(k, h),
                         "expected_total": fc.total_mean(h), "lo90": lo90, "hi90": hi90, "lo50": lo50,
                         "hi50": hi50})
    return pd.DataFrame(rows)


def lull_status(counts: pd.Series, fc: CountForecast, horizons: list[int], min_days: int) -> dict:
    """Whether the series ends in a lull (at least ``min_days`` attack-free days) and, if so, the
    probability that it ends (at least one attack) within each horizon."""
    y = counts.to_numpy()
    nz = (y > 0).nonzero()[0]
    quiet = len(y) - 1 - nz[-1] if len(nz) else len(y)
    status = {"quiet_days": int(quiet), "in_lull": bool(quiet >= min_days),
              "last_attack": counts.index[nz[-1]].strftime("%Y-%m-%d") if len(nz) else None}
    if status["in_lull"]:
        status["p_lull_ends"] = {str(h): fc.prob_at_least(1, h) for h in horizons}
    return status


TOTAL_LEVELS = (0.5, 0.8, 0.9, 0.95)  # central intervals of forecast_totals.csv (the fan of the cumulative total)


def totals_frame(fc, thresholds) -> pd.DataFrame:
    """The distribution of the cumulative total over days 1..w for every window w of a CountForecast:
    ``window, date, mean``, the quantiles of the central ``TOTAL_LEVELS`` intervals (``q02.5`` .. ``q97.5``)
    and ``p_ge<k>``; what ``forecast_totals.csv`` / ``scenario_totals.csv`` hold (smooth fan-chart bands)."""
    qs = sorted({0.5, *((1 - lv) / 2 for lv in TOTAL_LEVELS), *((1 + lv) / 2 for lv in TOTAL_LEVELS)})
    rows = []
    for w in range(1, fc.horizon + 1):
        dist = fc.total(w)
        row = {"window": w, "date": fc.index[w - 1].strftime("%Y-%m-%d"), "mean": dist.mean}
        for q in qs:
            pct = round(q * 100, 6)
            row[f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:04.1f}"] = dist.quantile(q)
        for k in thresholds:
            row[f"p_ge{int(k)}"] = dist.prob_at_least(int(k))
        rows.append(row)
    return pd.DataFrame(rows)


SCENARIO_REPLICATES = 4  # further baseline/scenario pairs drawn with other seeds for the Monte Carlo error


def scenario_difference(model, baseline, scenario, future_triggers, horizons, thresholds,
                        replicates: int = SCENARIO_REPLICATES) -> tuple[pd.DataFrame, list[str]]:
    """Scenario minus baseline for P(total >= k in h days) and the expected h-day total, with its Monte
    Carlo standard error, and sentences saying what uncertainty that does and does not include.

    ``baseline`` and ``scenario`` are forecasts of the same fitted ``model`` from the same origin (they share
    random numbers: ``Forecaster.forecast_rng``), so their difference is the effect of the hypothetical
    triggers and not simulation noise. Its Monte Carlo error is the standard deviation of the difference
    over ``replicates`` further pairs drawn with other seeds (``set_params(random_state=...)`` on the fitted
    model, restored afterwards; a model without ``random_state`` is taken as exact). The uncertainty of the
    fitted trigger effects is not included: forecasters take their fitted effects as given and expose no
    way to forecast at other values, so the report prints each effect's 95% interval next to the difference.
    """
    horizon = baseline.horizon

    def table(fb, fs) -> list[tuple]:
        rows = []
        for h in horizons:
            b, s = fb.total(h), fs.total(h)
            rows.append((int(h), "expected_total", b.mean, s.mean))
            rows += [(int(h), f"p_ge{int(k)}", b.prob_at_least(int(k)), s.prob_at_least(int(k))) for k in thresholds]
        return rows

    main = table(baseline, scenario)
    diffs = [[s - b for *_, b, s in main]]
    params = model.get_params()
    seed = params.get("random_state")
    drawn = 0
    if seed is not None and replicates:
        try:
            for r in range(1, int(replicates) + 1):
                model.set_params(random_state=(int(seed) + 7919 * r) % 2**32)
                fb = model.forecast(horizon)
                fs = model.forecast(horizon, future_triggers=future_triggers)
                diffs.append([s - b for *_, b, s in table(fb, fs)])
                drawn += 1
        finally:
            model.set_params(random_state=seed)
    d = np.asarray(diffs, float)
    se = d.std(axis=0, ddof=1) if len(d) > 1 else np.full(d.shape[1], np.nan if seed is not None else 0.0)
    frame = pd.DataFrame([{"horizon_days": h, "quantity": q, "baseline": b, "scenario": s, "difference": s - b,
                           "mc_se": float(e)} for (h, q, b, s), e in zip(main, se)])
    method = ["Scenario and baseline are forecasts of the same fitted model from the same origin with the same "
              "random numbers: their difference is the effect of the hypothetical triggers, not simulation noise."]
    if np.all(d == 0):
        method.append("The scenario leaves the forecast unchanged in every draw: the difference is exactly zero.")
    elif drawn and np.all(se == 0):
        method.append(f"{drawn} further pairs drawn with other seeds gave the same difference: no Monte Carlo error "
                      "(the forecast is exact or does not depend on the seed).")
    elif drawn:
        method.append(f"Monte Carlo error: the standard deviation of the difference over {drawn} further pairs drawn "
                      "with other seeds.")
    elif seed is None:
        method.append("The model has no seed: its forecast is taken as exact (no Monte Carlo error).")
    method.append("Not included: the uncertainty of the fitted trigger effects. The difference is computed at their "
                  "point estimates; where an effect's 95% interval includes 'no effect', even the sign of the "
                  "difference is not established.")
    if not getattr(model, "uses_triggers", True):
        method.append("This model has no trigger features: the scenario equals the baseline.")
    return frame, method
