"""Data layer: loading and validating event files, daily counts, lulls and trigger features."""
from forecast.data.annotate import detect_lulls, trigger_features
from forecast.data.counts import daily_counts, days_since_last, filter_events
from forecast.data.events import load_events, load_official_counts, load_triggers

__all__ = ["load_events", "load_triggers", "load_official_counts", "daily_counts", "days_since_last",
           "filter_events", "detect_lulls", "trigger_features"]
