"""The estimator base class and the one predictive-distribution object every model returns."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve
from scipy.special import gammaln
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from forecast.distributions import MAX_SUPPORT, TAIL, CountDistribution, negbin_pmfs, poisson_pmfs
from forecast.errors import ForecastInputError, ModelFitError

MAX_TOTAL = 100_000  # a simulated total above this means an explosive fit, not a forecast


class CountForecast(ABC):
    """Predictive distribution of daily counts on ``index`` (the days after the origin).

    Every quantity is derived from two primitives: the pmf of day ``step``'s count and the pmf of
    the total count over the first ``window`` days. Totals are what escalation risk is about.
    """

    def __init__(self, index: pd.DatetimeIndex):
        self.index = index

    @property
    def horizon(self) -> int:
        return len(self.index)

    @abstractmethod
    def daily_pmf(self, step: int) -> np.ndarray:
        """pmf of the count on day ``step`` (1-based) on 0, 1, ..., K."""

    @abstractmethod
    def total_pmf(self, window: int) -> np.ndarray:
        """pmf of the total over days 1..``window`` on 0, 1, ..., K."""

    def day(self, step: int) -> CountDistribution:
        """The predictive distribution of the count on day ``step`` (1-based)."""
        if not 1 <= int(step) <= self.horizon:
            raise ValueError(f"step must be in 1..{self.horizon}, got {step}")
        return CountDistribution(self.daily_pmf(int(step)))

    def total(self, window: int | None = None) -> CountDistribution:
        """The predictive distribution of the total over days 1..``window`` (default: the horizon)."""
        return CountDistribution(self.total_pmf(self._window(window)))

    def _window(self, window: int | None) -> int:
        window = self.horizon if window is None else int(window)
        if not 1 <= window <= self.horizon:
            raise ValueError(f"window must be in 1..{self.horizon}, got {window}")
        return window

    # ---- per-day summaries and the statsmodels-style names (thin aliases of day() and total()) -------
    @property
    def predicted_mean(self) -> pd.Series:
        return pd.Series([self.day(s).mean for s in range(1, self.horizon + 1)], index=self.index, name="mean")

    def quantile(self, q: float) -> pd.Series:
        """Per-day q-quantile of the count (smallest k with F(k) >= q)."""
        return pd.Series([self.day(s).quantile(q) for s in range(1, self.horizon + 1)], index=self.index,
                         name=f"q{q:g}")

    def interval(self, level: float = 0.9) -> pd.DataFrame:
        """Central per-day count interval with the given coverage level."""
        a = (1 - level) / 2
        return pd.DataFrame({"lower": self.quantile(a), "upper": self.quantile(1 - a)})

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """statsmodels-style alias: the central (1 - alpha) count interval."""
        return self.interval(1 - alpha)

    def pmf(self, k, window: int | None = None) -> np.ndarray:
        """P(total over the first ``window`` days = k); ``total(window).pmf(k)``."""
        return self.total(window).pmf(k)

    def cdf(self, k, window: int | None = None) -> np.ndarray:
        return self.total(window).cdf(k)

    def prob_at_least(self, k: int, window: int | None = None) -> float:
        """P(at least ``k`` attacks in total over the first ``window`` days)."""
        return self.total(window).prob_at_least(k)

    def total_mean(self, window: int | None = None) -> float:
        return self.total(window).mean

    def total_quantile(self, q: float, window: int | None = None) -> int:
        return self.total(window).quantile(q)

    def summary_frame(self, levels: tuple[float, ...] = (0.5, 0.9)) -> pd.DataFrame:
        """Per-day mean, central-interval quantiles and P(>=1), as written to ``forecast.csv`` (the
        default levels give q05, q25, q50, q75, q95)."""
        frame = pd.DataFrame({"date": self.index.strftime("%Y-%m-%d"), "step": np.arange(1, self.horizon + 1),
                              "mean": self.predicted_mean.to_numpy()})
        qs = sorted({0.5, *((1 - lv) / 2 for lv in levels), *((1 + lv) / 2 for lv in levels)})
        for q in qs:
            pct = round(q * 100, 6)
            frame[f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:04.1f}"] = self.quantile(q).to_numpy()
        frame["p_ge1"] = [self.day(s).prob_at_least(1) for s in range(1, self.horizon + 1)]
        return frame


class IndependentCountForecast(CountForecast):
    """Days independent with given daily pmfs; totals by convolution (exact)."""

    def __init__(self, index: pd.DatetimeIndex, daily: list[np.ndarray]):
        super().__init__(index)
        if len(daily) != len(index):
            raise ValueError("one pmf per day is needed")
        self._daily = [np.asarray(p, float) / np.sum(p) for p in daily]
        self._totals: dict[int, np.ndarray] = {}

    def daily_pmf(self, step: int) -> np.ndarray:
        return self._daily[step - 1]

    def total_pmf(self, window: int) -> np.ndarray:
        """Exact by convolution (FFT for long supports: O(K log K)); a total needing more than MAX_SUPPORT
        counts is an explosive forecast (ModelFitError)."""
        window = self._window(window)
        if window not in self._totals:
            total = np.array([1.0])
            for p in self._daily[:window]:
                if len(total) + len(p) > MAX_SUPPORT:
                    raise ModelFitError(f"the {window}-day total needs more than {MAX_SUPPORT:,} counts of support: "
                                        "the fitted model is explosive on this data")
                total = np.convolve(total, p) if min(len(total), len(p)) < 256 else np.clip(
                    fftconvolve(total, p), 0.0, None)
                cut = np.flatnonzero(np.cumsum(total[::-1]) > TAIL)
                total = total[: len(total) - (cut[0] if len(cut) else 0)]
            self._totals[window] = total / total.sum()
        return self._totals[window]


class SampleCountForecast(CountForecast):
    """Predictive distribution from simulated paths (``n_paths x horizon`` integer counts).

    Empirical pmfs are smoothed so that no count has probability zero: one pseudo-path's worth of
    mass (weight 1/(n+1)) is spread as a negative binomial with the samples' mean and variance
    (Poisson if under-dispersed). This keeps log scores finite without moving the distribution.
    """

    def __init__(self, index: pd.DatetimeIndex, paths: np.ndarray):
        super().__init__(index)
        paths = np.asarray(paths)
        if paths.ndim != 2 or paths.shape[1] != len(index):
            raise ValueError("paths must be n_paths x horizon")
        self.paths = paths.astype(np.int64)
        self._cum = np.cumsum(self.paths, axis=1)
        if self._cum[:, -1].max(initial=0) > MAX_TOTAL:
            raise ModelFitError(f"simulated totals reach {self._cum[:, -1].max():,} attacks in {len(index)} days: "
                                "the fitted model is explosive on this data")
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _smoothed(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        m, v = float(x.mean()), float(x.var())
        ref = (negbin_pmfs([m], (v - m) / m**2) if m > 0 and v > m else poisson_pmfs([max(m, 1e-3)]))[0]
        p = np.bincount(x, minlength=len(ref)) / (n + 1.0)
        p[: len(ref)] += ref / (n + 1.0)
        return p / p.sum()

    def daily_pmf(self, step: int) -> np.ndarray:
        key = ("day", step)
        if key not in self._cache:
            self._cache[key] = self._smoothed(self.paths[:, step - 1])
        return self._cache[key]

    def total_pmf(self, window: int) -> np.ndarray:
        window = self._window(window)
        key = ("total", window)
        if key not in self._cache:
            self._cache[key] = self._smoothed(self._cum[:, window - 1])
        return self._cache[key]

    @property
    def predicted_mean(self) -> pd.Series:
        return pd.Series(self.paths.mean(axis=0), index=self.index, name="mean")


class MixtureCountForecast(CountForecast):
    """Predictive distribution from simulated paths, Rao-Blackwellised (no smoothing, no empty counts).

    Each path p carries its simulated counts y_{p,s} and the conditional mean mu_{p,s} of day s given the
    path's earlier days; given that history the day's count is NB2(mu_{p,s}, ``alpha``) (Poisson for
    alpha = 0). So, exactly given the paths,

        P(y_s = k)     = (1/N) sum_p NB(k; mu_{p,s}, alpha)
        P(Y_{1..w} = k) = (1/N) sum_p NB(k - S_{p,w-1}; mu_{p,w}, alpha),  S_{p,w-1} = y_{p,1} + ... + y_{p,w-1}

    An outcome no path reached keeps its real conditional probability, so a log score does not depend
    on luck or on the number of paths beyond Monte Carlo error of the mixture. Work is done in blocks
    of paths holding at most ``BLOCK_BYTES`` of pmf values.
    """

    BLOCK = 2000
    BLOCK_BYTES = 16 * 2**20  # pmf values per block while mixing (16 MB; with temporaries about 5x that)

    def __init__(self, index: pd.DatetimeIndex, paths: np.ndarray, means: np.ndarray, alpha: float = 0.0):
        super().__init__(index)
        paths, means = np.asarray(paths), np.asarray(means, float)
        if paths.ndim != 2 or paths.shape[1] != len(index) or means.shape != paths.shape:
            raise ValueError("paths and means must both be n_paths x horizon")
        self.paths, self.means, self.alpha = paths.astype(np.int64), means, float(alpha)
        self._cum = np.cumsum(self.paths, axis=1)
        if self._cum[:, -1].max(initial=0) > MAX_TOTAL:
            raise ModelFitError(f"simulated totals reach {self._cum[:, -1].max():,} attacks in {len(index)} days: "
                                "the fitted model is explosive on this data")
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _mixture(self, mu: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """(1/N) sum_p pmf(k - shift_p; mu_p) on 0..max(shift) + L, L the support of the largest mean.

        Bounded: a conditional mean above MAX_TOTAL is an explosive fit (ModelFitError), and paths are taken
        in blocks of at most ``BLOCK`` rows and ``BLOCK_BYTES`` of pmf values."""
        top = float(mu.max(initial=0.0))
        if not top <= MAX_TOTAL:
            raise ModelFitError(f"a simulated path expects {top:,.0f} attacks in one day: the fitted model is "
                                "explosive on this data")
        upper = len(negbin_pmfs([top], self.alpha)[0])
        out = np.zeros(int(shift.max(initial=0)) + upper)
        k = np.arange(upper, dtype=float)
        n = 1.0 / self.alpha if self.alpha > 1e-8 else None
        block = max(1, min(self.BLOCK, self.BLOCK_BYTES // (8 * upper)))
        for lo in range(0, len(mu), block):
            m = np.maximum(mu[lo: lo + block], 1e-12)[:, None]
            if n is None:
                logp = k * np.log(m) - m - gammaln(k + 1.0)
            else:
                logp = gammaln(k + n) - gammaln(n) - gammaln(k + 1.0) - n * np.log1p(m / n) + k * (
                    np.log(m) - np.log(n + m))
            rows = np.exp(logp)
            for sh in np.unique(shift[lo: lo + block]):
                out[sh: sh + upper] += rows[shift[lo: lo + block] == sh].sum(axis=0)
        return out / out.sum()

    def daily_pmf(self, step: int) -> np.ndarray:
        key = ("day", step)
        if key not in self._cache:
            self._cache[key] = self._mixture(self.means[:, step - 1], np.zeros(len(self.paths), dtype=np.int64))
        return self._cache[key]

    def total_pmf(self, window: int) -> np.ndarray:
        """The Rao-Blackwellised total pmf, with F_w(k) <= F_{w-1}(k) imposed (a longer window can only
        hold more attacks): the estimates of different windows condition on different days, so Monte
        Carlo noise could otherwise make P(total >= k) dip by ~1e-5 from one window to the next."""
        window = self._window(window)
        key = ("total", window)
        if key not in self._cache:
            before = self._cum[:, window - 2] if window > 1 else np.zeros(len(self.paths), dtype=np.int64)
            p = self._mixture(self.means[:, window - 1], before)
            if window > 1:
                prev = np.cumsum(self.total_pmf(window - 1))
                cdf = np.cumsum(np.pad(p, (0, max(len(prev) - len(p), 0))))
                cdf[: len(prev)] = np.minimum(cdf[: len(prev)], prev)
                p = np.diff(cdf, prepend=0.0)
            self._cache[key] = p / p.sum()
        return self._cache[key]

    @property
    def predicted_mean(self) -> pd.Series:
        return pd.Series(self.means.mean(axis=0), index=self.index, name="mean")


@dataclass
class FitSummary:
    """Fitted parameters with standard errors, log-likelihood and AIC, the same shape for every model."""

    model: str
    params: dict[str, float]
    stderr: dict[str, float]
    loglik: float
    n_obs: int
    diagnostics: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # plain-language findings for the report
    # how an ``effect_<kind>`` parameter acts: "log_rate" (exp(effect) multiplies the attack rate), "log_odds"
    # (exp(effect) multiplies the odds of a regime change), "sqrt_level" (adds to sqrt(count)); None: no effects
    effect_scale: str | None = None

    def record(self) -> tuple[dict, pd.DataFrame]:
        """The summary as the run record holds it: a JSON-serialisable dict (parameter table, fit
        statistics, scalar diagnostics, tables, notes) and the date-indexed diagnostic series (fitted
        values, residuals, ...) as one frame. Split by type, never by key, so every model is recorded
        the same way."""
        scalars, tables, series = {}, {}, {}
        for key, value in self.diagnostics.items():
            if isinstance(value, pd.Series) and isinstance(value.index, pd.DatetimeIndex):
                series[key] = value
            elif isinstance(value, pd.DataFrame) and isinstance(value.index, pd.DatetimeIndex):
                series.update({f"{key}_{column}": value[column] for column in value.columns})
            elif isinstance(value, (pd.DataFrame, pd.Series)):
                tables[key] = value.reset_index().to_dict(orient="list")
            elif isinstance(value, (dict, list, tuple, np.ndarray)):
                tables[key] = np.asarray(value).tolist() if isinstance(value, np.ndarray) else value
            else:
                scalars[key] = value
        table = self.table().reset_index(names="parameter")
        doc = {"model": self.model, "params": table.to_dict(orient="records"), "loglik": self.loglik,
               "aic": self.aic, "n_obs": self.n_obs, "n_params": self.n_params, "diagnostics": scalars,
               "tables": tables, "notes": list(self.notes), "effect_scale": self.effect_scale}
        frame = pd.DataFrame(series)
        frame.index.name = "date"
        return doc, frame

    @property
    def n_params(self) -> int:
        """Number of estimated parameters (those reported as NaN were not estimated, e.g. dropped columns)."""
        return int(sum(1 for v in self.params.values() if np.isfinite(v)))

    @property
    def aic(self) -> float:
        return float(2 * self.n_params - 2 * self.loglik) if np.isfinite(self.loglik) else float("nan")

    def table(self) -> pd.DataFrame:
        """Parameters with standard errors and 95% Wald intervals."""
        est = pd.Series(self.params, dtype=float)
        se = pd.Series(self.stderr, dtype=float).reindex(est.index)
        return pd.DataFrame({"estimate": est, "stderr": se, "ci_lower": est - 1.96 * se,
                             "ci_upper": est + 1.96 * se})

    def __str__(self) -> str:
        lines = [f"{self.model}: n_obs={self.n_obs}  loglik={self.loglik:.3f}  AIC={self.aic:.3f}",
                 self.table().to_string(float_format=lambda v: f"{v:.4f}")]
        for key, value in self.diagnostics.items():
            if not isinstance(value, (dict, list, np.ndarray, pd.DataFrame, pd.Series)):
                lines.append(f"{key}: {value}")
        return "\n".join(lines)


MAX_PATHS = 50_000  # simulated paths per forecast at most
MAX_HORIZON = 366  # forecast days at most: paths x days of int64 counts stay under 150 MB


@dataclass(frozen=True)
class Param:
    """The allowed values of one estimator parameter: a numeric range (``low``/``high`` inclusive, the
    low end open with ``low_open``), whole numbers only (``integer``), a set of ``choices``, a list of
    ``length`` such numbers, and whether None is allowed."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    choices: tuple | None = None
    length: int | None = None
    none_ok: bool = False

    def problem(self, value) -> str | None:
        """What is wrong with ``value`` (None when it is allowed)."""
        if value is None:
            return None if self.none_ok else "must be set"
        if self.length is not None:
            if not isinstance(value, (list, tuple)) or len(value) != self.length:
                return f"must be a list of {self.length} numbers, got {value!r}"
            return next((p for p in (Param(self.low, self.high, self.integer).problem(v) for v in value) if p), None)
        if self.choices is not None:
            values = value if isinstance(value, (list, tuple)) else [value]
            bad = [v for v in values if v not in self.choices]
            return f"must be one of {', '.join(map(str, self.choices))}, got {bad[0]!r}" if bad else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            return f"must be a number, got {value!r}"
        if self.integer and float(value) != int(value):
            return f"must be a whole number, got {value!r}"
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        if not low_ok or (self.high is not None and value > self.high):
            lo = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
            hi = "" if self.high is None else f"<= {self.high:g}"
            return f"must be {' and '.join(x for x in (lo, hi) if x)}, got {value!r}"
        return None


PARAM_N_PATHS = Param(10, MAX_PATHS, integer=True)
PARAM_SEED = Param(0, 2**32 - 1, integer=True, none_ok=True)


class Forecaster(BaseEstimator, ABC):
    """Base estimator: ``fit(counts, triggers)`` returns self; ``forecast(h)`` returns a CountForecast.

    Subclasses keep ``__init__`` to storing keyword parameters (scikit-learn convention), learn
    attributes ending in ``_`` and implement ``_fit`` and ``_forecast``.
    """

    uses_triggers = False
    is_baseline = False  # the simple references every other model must beat
    param_rules: dict[str, Param] = {"n_paths": PARAM_N_PATHS, "random_state": PARAM_SEED}

    def check_params(self) -> Forecaster:
        """Refuse parameter values outside ``param_rules``, naming ``model.<parameter>`` (called by ``fit``
        and by the pipeline before any data is read)."""
        params = self.get_params()
        for name, rule in self.param_rules.items():
            problem = rule.problem(params[name]) if name in params else None
            if problem:
                raise ForecastInputError(problem, column=f"model.{name}")
        return self

    def fit(self, counts: pd.Series, triggers: pd.DataFrame | None = None,
            exposure: pd.Series | None = None) -> Forecaster:
        """Fit on daily ``counts``; ``triggers`` (date, kind) and ``exposure`` (the number of sites with US
        forces present each day) up to the last day of ``counts`` are known to the model, nothing later."""
        self.check_params()
        counts = _check_counts(counts)
        self._observe(counts, triggers, exposure)
        self.rng_ = np.random.default_rng(getattr(self, "random_state", None))
        self._fit(counts, self.triggers_)
        return self

    def _observe(self, counts: pd.Series, triggers, exposure) -> None:
        last = counts.index[-1]
        self.counts_ = counts.copy()
        self.triggers_ = None if triggers is None else triggers[triggers["date"] <= last].copy()
        self.exposure_ = None if exposure is None else exposure.loc[:last].copy()

    def exposure_on(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Exposure on ``index``: as observed up to the last fitted day, then its last value carried forward
        (no look-ahead). Raises ForecastInputError when the model was fitted without exposure."""
        if getattr(self, "exposure_", None) is None or self.exposure_.empty:
            raise ForecastInputError("this model uses exposure, but none was given", column="data.sites",
                                     hint="set data.sites to a sites file (the shipped data/sites.csv by default)")
        known = self.exposure_.reindex(index)
        return known.ffill().fillna(float(self.exposure_.iloc[-1])).to_numpy(float)

    def forecast(self, horizon: int, future_triggers: pd.DataFrame | None = None,
                 n_paths: int | None = None) -> CountForecast:
        """Predictive distribution for the ``horizon`` days after the last fitted day.

        ``future_triggers`` (date, kind) are hypothetical triggers inside the horizon (scenarios);
        models without trigger features ignore them.
        """
        self._check_fitted()
        if not 1 <= int(horizon) <= MAX_HORIZON:
            raise ForecastInputError(f"horizon must be in 1..{MAX_HORIZON}, got {horizon}", column="horizon")
        if n_paths is not None and not 10 <= int(n_paths) <= MAX_PATHS:
            raise ForecastInputError(f"n_paths must be in 10..{MAX_PATHS}, got {n_paths}", column="n_paths")
        index = pd.date_range(self.counts_.index[-1] + pd.Timedelta(days=1), periods=int(horizon), freq="D",
                              name="date")
        return self._forecast(index, future_triggers, n_paths)

    def update(self, counts: pd.Series, triggers: pd.DataFrame | None = None,
               exposure: pd.Series | None = None) -> Forecaster:
        """Condition on a longer history with the fitted parameters kept (no refit)."""
        self._check_fitted()
        counts = _check_counts(counts)
        self._observe(counts, triggers, exposure)
        self._update(counts, self.triggers_)
        return self

    def _update(self, counts: pd.Series, triggers: pd.DataFrame | None) -> None:
        self._fit(counts, triggers)

    def summary(self) -> FitSummary:
        self._check_fitted()
        return self._summary()

    def _check_fitted(self) -> None:
        if not hasattr(self, "counts_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(counts) first")

    def forecast_rng(self, index: pd.DatetimeIndex) -> np.random.Generator:
        """The random numbers of the forecast from ``index[0]``: a function of (``random_state``, origin),
        so forecasting twice gives the same distribution and a scenario shares its baseline's draws."""
        seed = getattr(self, "random_state", None)
        if seed is None:
            return np.random.default_rng()
        return np.random.default_rng([int(seed), int(index[0].toordinal())])

    def _all_triggers(self, future_triggers: pd.DataFrame | None) -> pd.DataFrame | None:
        """Known triggers plus hypothetical future ones (a scenario)."""
        if future_triggers is None or len(future_triggers) == 0:
            return self.triggers_
        if self.triggers_ is None:
            return future_triggers
        return pd.concat([self.triggers_, future_triggers], ignore_index=True)

    @abstractmethod
    def _fit(self, counts: pd.Series, triggers: pd.DataFrame | None) -> None: ...

    @abstractmethod
    def _forecast(self, index: pd.DatetimeIndex, future_triggers, n_paths) -> CountForecast: ...

    @abstractmethod
    def _summary(self) -> FitSummary: ...


def _check_counts(counts: pd.Series) -> pd.Series:
    if not isinstance(counts, pd.Series) or not isinstance(counts.index, pd.DatetimeIndex):
        raise TypeError("counts must be a pandas Series with a daily DatetimeIndex (see daily_counts)")
    if len(counts) == 0:
        raise ForecastInputError("no days to fit", column="counts")
    y = counts.to_numpy()
    if np.any(y < 0) or not np.all(np.isfinite(y)):
        raise ForecastInputError("counts must be finite and >= 0", column="counts")
    stamps = counts.index.to_numpy()
    if len(counts) > 1 and np.any(np.diff(stamps) != np.timedelta64(1, "D")):
        raise ForecastInputError("counts must be calendar-complete daily data", column="counts")
    return counts if y.dtype == np.int64 else counts.astype(np.int64)
