"""Data layer: loading and validating event files, daily counts, lulls, trigger features and site exposure."""
from forecast.data.annotate import detect_lulls, trigger_features
from forecast.data.counts import daily_counts, days_since_last, filter_events
from forecast.data.events import load_events, load_official_counts, load_sites, load_triggers
from forecast.data.exposure import exposure, resolve_sites

__all__ = ["load_events", "load_triggers", "load_official_counts", "load_sites", "daily_counts", "days_since_last",
           "filter_events", "detect_lulls", "trigger_features", "exposure", "resolve_sites"]
