"""Annotations of a daily count series: lull periods and trigger features."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecast.data.events import TRIGGER_KINDS
from forecast.errors import ForecastInputError

ENCODINGS = ("impulse", "decay", "step")


def detect_lulls(counts: pd.Series, min_days: int = 14) -> pd.DataFrame:
    """Maximal runs of at least ``min_days`` consecutive attack-free days.

    Returns a frame with ``start``, ``end`` (both attack-free days, inclusive), ``days`` and
    ``ongoing`` (the run reaches the last day of the series).
    """
    if min_days < 1:
        raise ForecastInputError(f"min_days must be >= 1, got {min_days}", column="data.lull_min_days")
    zero = np.concatenate([[False], counts.to_numpy() == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    keep = (stops - starts) >= min_days
    starts, stops = starts[keep], stops[keep]
    index = counts.index
    return pd.DataFrame({"start": index[starts], "end": index[stops - 1], "days": stops - starts,
                         "ongoing": stops == len(counts)})


def _kinds(kinds: Sequence[str] | None) -> list[str]:
    kinds = list(kinds) if kinds else list(TRIGGER_KINDS)
    bad = [k for k in kinds if k not in TRIGGER_KINDS]
    if bad:
        raise ForecastInputError(f"unknown trigger kind '{bad[0]}'", column="model.trigger_kinds",
                                 hint=f"use a subset of {', '.join(TRIGGER_KINDS)}")
    return kinds


def trigger_features(index: pd.DatetimeIndex, triggers: pd.DataFrame | None, *,
                     kinds: Sequence[str] | None = None, encoding: str = "decay",
                     half_life: float = 7.0, lag: int = 1) -> pd.DataFrame:
    """One feature column per trigger kind on the days of ``index``.

    A trigger on day d first acts on day d + ``lag``. With a = 0.5**(1/half_life):

    * impulse: x_t = number of triggers on day t - lag;
    * decay:   x_t = sum over triggers d <= t - lag of a**(t - lag - d);
    * step:    x_t = 1 once a trigger of the kind has happened by day t - lag.

    Models pass only the triggers known at their origin (``Forecaster.fit`` cuts them), so features on
    later days carry the decay of known triggers and nothing else.
    """
    kinds = _kinds(kinds)
    x = trigger_matrix(index, triggers, kinds, encoding, half_life, lag)
    return pd.DataFrame(x, index=index, columns=kinds)


def trigger_matrix(index: pd.DatetimeIndex, triggers: pd.DataFrame | None, kinds: Sequence[str],
                   encoding: str = "decay", half_life: float = 7.0, lag: int = 1) -> np.ndarray:
    """``trigger_features`` as a plain ``len(index) x len(kinds)`` array (no pandas overhead; ``kinds``
    are taken as given). Days are whole calendar days counted from ``index[0]``."""
    if encoding not in ENCODINGS:
        raise ForecastInputError(f"unknown trigger encoding '{encoding}'", column="model.trigger_encoding",
                                 hint=f"use one of {', '.join(ENCODINGS)}")
    if half_life <= 0:
        raise ForecastInputError(f"half_life must be > 0, got {half_life}", column="model.trigger_half_life")
    n = len(index)
    out = np.zeros((n, len(kinds)))
    if triggers is None or len(triggers) == 0 or n == 0:
        return out
    dates = _days(triggers["date"].to_numpy())
    kind_of = triggers["kind"].to_numpy()
    day = dates - _days(index[:1].to_numpy())[0] + lag
    decay = 0.5 ** (1.0 / half_life)
    for j, kind in enumerate(kinds):
        d = day[kind_of == kind]
        impulses = np.bincount(d[(d >= 0) & (d < n)], minlength=n)[:n].astype(float)
        before = d[d < 0]  # triggers acting before the window starts
        if encoding == "impulse":
            out[:, j] = impulses
        elif encoding == "step":
            out[:, j] = (np.cumsum(impulses) + len(before)) > 0
        else:
            carried = np.sum(decay ** (-before)) * decay ** np.arange(n)
            out[:, j] = _exp_filter(impulses, decay) + carried
    return out


def _days(dates) -> np.ndarray:
    """Whole days since the epoch of datetime64 values."""
    return np.asarray(dates).astype("datetime64[D]").astype(np.int64)


def _exp_filter(impulses: np.ndarray, decay: float) -> np.ndarray:
    """x_t = sum_{s <= t} decay**(t - s) * impulses_s."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -decay], impulses)
