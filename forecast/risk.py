"""Escalation-risk tables from any predictive distribution."""
from __future__ import annotations

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
