"""forecast: escalation-risk forecasts of attack counts (Hawkes, count regression, regime models, ARIMA,
baselines). The public names load on first use, so ``forecast --help`` and signal handling start fast."""
from __future__ import annotations

__all__ = ["load_events", "load_triggers", "load_official_counts", "daily_counts", "detect_lulls",
           "trigger_features"]
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in __all__:
        from forecast import data

        return getattr(data, name)
    raise AttributeError(f"module 'forecast' has no attribute {name!r}")
