"""Regressors shared by the count models: self-history features and trigger features."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.data.annotate import ENCODINGS, _kinds, trigger_matrix
from forecast.data.counts import days_since_last_array
from forecast.data.events import TRIGGER_KINDS
from forecast.models.base import Param

# the allowed values of the trigger parameters shared by the GLM, Hawkes and ARIMA models
TRIGGER_PARAM_RULES = {"trigger_kinds": Param(choices=TRIGGER_KINDS, none_ok=True),
                       "trigger_encoding": Param(choices=ENCODINGS),
                       "trigger_half_life": Param(0, 3650, low_open=True),
                       "trigger_lag": Param(0, 365, integer=True),
                       "effect_prior_sd": Param(0, None, low_open=True, none_ok=True)}


def history_width(n_lags: int, rolling_days: int) -> int:
    return max(int(n_lags), int(rolling_days), 1)


def history_features(window: np.ndarray, quiet: np.ndarray, n_lags: int, rolling_days: int,
                     days_since_last: bool) -> np.ndarray:
    """Features of day t from the counts before it.

    ``window[..., -1]`` is y_{t-1}, ``window[..., -j]`` is y_{t-j}; ``quiet`` is the number of
    attack-free days immediately before t. Columns: log(1 + y_{t-j}) for j = 1..n_lags,
    log(1 + mean of the last ``rolling_days`` days), log(1 + quiet).
    """
    cols = [np.log1p(window[..., -j]) for j in range(1, int(n_lags) + 1)]
    if rolling_days:
        cols.append(np.log1p(window[..., -int(rolling_days):].mean(axis=-1)))
    if days_since_last:
        cols.append(np.log1p(quiet))
    return np.stack(cols, axis=-1) if cols else np.zeros(window.shape[:-1] + (0,))


def history_names(n_lags: int, rolling_days: int, days_since_last: bool) -> list[str]:
    names = [f"lag{j}" for j in range(1, int(n_lags) + 1)]
    if rolling_days:
        names.append(f"mean{int(rolling_days)}")
    if days_since_last:
        names.append("quiet_days")
    return names


def history_design(y: np.ndarray, n_lags: int, rolling_days: int, days_since_last: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """History features for every day of ``y`` (days before the series count as 0).

    Returns ``(X, last_window, last_quiet)``: the design and the state after the last day,
    from which a simulation continues.
    """
    width = history_width(n_lags, rolling_days)
    padded = np.concatenate([np.zeros(width), y.astype(float)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)  # windows[t] ends at y_{t-1}
    quiet = np.concatenate([[0], days_since_last_array(y)])  # quiet[t]: attack-free days before t
    X = history_features(windows[:-1], quiet[:-1], n_lags, rolling_days, days_since_last)
    return X, windows[-1], quiet[-1]


def calendar_design(index: pd.DatetimeIndex, day_of_week: bool) -> tuple[np.ndarray, list[str]]:
    """Day-of-week dummies (Monday is the reference) when ``day_of_week``."""
    if not day_of_week:
        return np.zeros((len(index), 0)), []
    dow = index.dayofweek.to_numpy()
    return np.stack([(dow == d).astype(float) for d in range(1, 7)], axis=1), \
        [f"dow_{n}" for n in ("tue", "wed", "thu", "fri", "sat", "sun")]


class TriggerDesign:
    """Trigger features with the model's settings; columns named ``effect_<kind>``."""

    def __init__(self, kinds, encoding: str, half_life: float, lag: int):
        self.kinds, self.encoding, self.half_life, self.lag = _kinds(kinds), encoding, half_life, lag
        self.names = [f"effect_{k}" for k in self.kinds]

    def matrix(self, index: pd.DatetimeIndex, triggers: pd.DataFrame | None) -> np.ndarray:
        """The features as a ``len(index) x len(names)`` array."""
        return trigger_matrix(index, triggers, self.kinds, self.encoding, self.half_life, self.lag)

    def __call__(self, index: pd.DatetimeIndex, triggers: pd.DataFrame | None) -> pd.DataFrame:
        return pd.DataFrame(self.matrix(index, triggers), index=index, columns=self.names)


class TriggerFeatures:
    """Mixin of the models with trigger features (GLMs, Hawkes, regime, ARIMA): the design their four
    trigger parameters define (validated by ``TRIGGER_PARAM_RULES``)."""

    uses_triggers = True

    def trigger_design(self) -> TriggerDesign:
        return TriggerDesign(self.trigger_kinds, self.trigger_encoding, self.trigger_half_life, self.trigger_lag)


def informative(X: np.ndarray, keep=None) -> np.ndarray:
    """Columns of ``X`` that vary over the training window, or are in ``keep`` (e.g. the intercept): a
    trigger kind not yet seen is constant there and carries no information, so its effect is not estimated."""
    varying = X.std(axis=0) > 1e-12
    return varying if keep is None else varying | np.asarray(keep, bool)
