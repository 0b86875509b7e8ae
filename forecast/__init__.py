"""forecast: escalation-risk forecasts of attack counts (Hawkes, count regression, ARIMA, baselines)."""
from forecast.data import daily_counts, detect_lulls, load_events, load_official_counts, load_triggers, \
    trigger_features

__all__ = ["load_events", "load_triggers", "load_official_counts", "daily_counts", "detect_lulls",
           "trigger_features"]
__version__ = "0.1.1"
