"""Ensemble: a linear pool of member forecasts, weighted by their recent out-of-sample log scores."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.base import clone

from forecast.config import build_model, model_dir, model_names, model_target
from forecast.errors import ForecastInputError, ModelFitError
from forecast.evaluate.scores import LOG_SCORE_FLOOR, log_score
from forecast.models.base import MAX_HORIZON, CountForecast, FitSummary, Forecaster, Param

log = logging.getLogger(__name__)

MIN_SCORE_TRAIN_DAYS = 14  # days up to T0 needed to fit the members for scoring (the backtest's default)
SELF_NAME = "ensemble"


@dataclass(frozen=True)
class MemberNames(Param):
    """A non-empty list of distinct model option names (files of ``configs/model/``), none an ensemble."""

    def problem(self, value) -> str | None:
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
            return f"must be a non-empty list of model option names, got {value!r}"
        if len(set(value)) != len(value):
            return f"must not repeat a member, got {list(value)!r}"
        known = [n for n in model_names() if n != SELF_NAME]
        for name in value:
            if name == SELF_NAME or (name in known and model_target(name).endswith(".Ensemble")):
                return f"cannot hold an ensemble, got {name!r}"
            if name not in known:
                return f"must be model option names ({', '.join(known)}), got {name!r}"
        return None


@lru_cache(maxsize=128)
def _built(name: str, path: str, mtime_ns: int, seed: int | None, n_paths: int) -> Forecaster:
    """``build_model`` (about 0.2 s of Hydra composition) once per config file version, seed and n_paths."""
    return build_model(name, seed=seed, n_paths=n_paths)


def _member_class(name: str):
    from hydra.utils import get_class

    return get_class(model_target(name))


class PooledCountForecast(CountForecast):
    """The linear pool sum_m w_m p_m of member forecasts on the same days (exact mixture).

    ``forecasts`` are the members' CountForecasts, ``weights`` their weights (normalised here); supports of
    different lengths are zero-padded before summing."""

    def __init__(self, index: pd.DatetimeIndex, forecasts: dict[str, CountForecast], weights: dict[str, float]):
        super().__init__(index)
        if not forecasts or set(forecasts) != set(weights):
            raise ValueError("one weight per member forecast is needed")
        w = np.array([weights[n] for n in forecasts], float)
        if np.any(w < 0) or not w.sum() > 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        for name, fc in forecasts.items():
            if not fc.index.equals(index):
                raise ValueError(f"member {name!r} forecasts other days")
        self.forecasts = dict(forecasts)
        self.weights = dict(zip(forecasts, w / w.sum()))
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _pool(self, pmfs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(max(len(p) for p in pmfs))
        for w, p in zip(self.weights.values(), pmfs):
            out[: len(p)] += w * p
        return out / out.sum()

    def daily_pmf(self, step: int) -> np.ndarray:
        key = ("day", int(step))
        if key not in self._cache:
            self._cache[key] = self._pool([fc.daily_pmf(int(step)) for fc in self.forecasts.values()])
        return self._cache[key]

    def total_pmf(self, window: int) -> np.ndarray:
        window = self._window(window)
        key = ("total", window)
        if key not in self._cache:
            self._cache[key] = self._pool([fc.total_pmf(window) for fc in self.forecasts.values()])
        return self._cache[key]

    @property
    def predicted_mean(self) -> pd.Series:
        mean = sum(w * fc.predicted_mean.to_numpy(float) for w, fc in zip(self.weights.values(),
                                                                          self.forecasts.values()))
        return pd.Series(mean, index=self.index, name="mean")


class Ensemble(Forecaster):
    """Linear pool of member forecasts with weights learned from the members' recent out-of-sample log scores.

    Pooling (exact mixture, no simulation of its own): with members m = 1..M, their predictive pmfs p_m and
    weights w_m >= 0, sum_m w_m = 1,

        P(y_s = k)          = sum_m w_m p_m(y_s = k)            (every day s of the horizon)
        P(Y_{1..w} = k)     = sum_m w_m p_m(Y_{1..w} = k)       (every window w: totals are pooled, not convolved)
        E[y_s]              = sum_m w_m E_m[y_s]

    Weights (``weighting="log_score"``), learned at origin T with no data after T: each member is fitted once
    on the days up to T0 = T - ``score_window_days`` - ``score_horizon`` (h); then, with its parameters kept,
    it is conditioned (``update``) on the days up to each past origin t = T0, T0 + k, ..., <= T - h
    (k = ``score_every``), forecasts h days and is scored on the observed total of days t+1..t+h (all
    observed by T): LS_{m,t} = -ln P_m(Y_{t+1..t+h} = y). With S_m the mean of LS_{m,t} over the origins,
    eta = ``learning_rate`` and f = ``weight_floor``,

        w_m = f + (1 - M f) exp(-eta S_m) / sum_j exp(-eta S_j)

    (a softmax of -eta S mixed with the uniform weights, so every member keeps at least f and the weights
    sum to one). ``weighting="equal"`` gives w_m = 1/M without scoring. With fewer than
    ``MIN_SCORE_TRAIN_DAYS`` days up to T0 the weights fall back to equal, and the summary says so. Then
    every member is fitted on all days up to T for the forecast.

    Failures: a member raising ModelFitError while scored or fitted is dropped (weight 0, a note in the
    summary's diagnostics); the weights are computed over the members left. A member failing in ``update``
    is dropped and the others' weights are rescaled to sum to one; one failing in ``forecast`` is left out
    of that forecast only (rescaled likewise). When every member fails the ensemble raises ModelFitError.
    A series with no attacks at all is refused (ModelFitError, like every fitted model) unless all members
    are baselines.

    Cost of one ``fit``: for each member 2 fits (at T0 and at T) plus about
    ``score_window_days / score_every`` (19 with the defaults) updates and ``score_horizon``-day forecasts;
    ``update`` and ``forecast`` cost one member update / forecast each. Measured with the default members,
    n_paths=1000 and one BLAS thread on the shipped series: 0.7 s a fit on 2023-10-17..2024-12-31 (442
    days), 1.0 s on 2023-10-17..2026-03-18 (884 days); a 30-day forecast 0.05 s.

    Attributes: ``members_`` (member name -> fitted estimator, the members left), ``weights_`` (name ->
    weight, 0 for dropped members), ``member_scores_`` (name -> mean log score S_m, NaN when not scored),
    ``score_table_`` (past origin x member log scores; empty when not scored), ``score_origins_``,
    ``notes_`` (what happened: fallbacks, dropped members).

    ``summary()`` reports ``weight_<member>`` (stderr NaN). Its ``loglik`` is the pooled forecasts' log
    predictive likelihood on the scored past origins, sum_t ln sum_m w_m P_m(Y_{t+1..t+h} = y_t), with the
    final weights (learned from these same origins, so slightly optimistic), ``n_obs`` the number of
    scored origins; both are NaN / 0 when nothing was scored (equal weights). It is a log score of h-day
    totals, not a likelihood of the daily series: its AIC is not comparable with the members'.
    """

    param_rules = {**Forecaster.param_rules, "members": MemberNames(),
                   "weighting": Param(choices=("equal", "log_score")),
                   "score_window_days": Param(1, 100_000, integer=True),
                   "score_horizon": Param(1, MAX_HORIZON, integer=True),
                   "score_every": Param(1, 100_000, integer=True),
                   "learning_rate": Param(0, 1_000),
                   "weight_floor": Param(0, 1)}

    def __init__(self, *, members: list[str] = ["nb_window", "negbin", "hawkes", "regime"],  # noqa: B006
                 weighting: str = "log_score", score_window_days: int = 56, score_horizon: int = 7,
                 score_every: int = 3, learning_rate: float = 1.0, weight_floor: float = 0.02,
                 n_paths: int = 1000, random_state: int | None = None):
        self.members = members
        self.weighting = weighting
        self.score_window_days = score_window_days
        self.score_horizon = score_horizon
        self.score_every = score_every
        self.learning_rate = learning_rate
        self.weight_floor = weight_floor
        self.n_paths = n_paths
        self.random_state = random_state

    # ---- parameters ----------------------------------------------------------------------------------
    def check_params(self) -> Ensemble:
        super().check_params()
        if self.weight_floor * len(self.members) > 1:
            raise ForecastInputError(f"must be <= 1/{len(self.members)} (one over the number of members), "
                                     f"got {self.weight_floor!r}", column="model.weight_floor")
        return self

    def _valid_members(self) -> bool:
        return MemberNames().problem(self.members) is None

    @property
    def is_baseline(self) -> bool:  # type: ignore[override]
        """True when every member is a baseline (then the ensemble is one too)."""
        return self._valid_members() and all(getattr(_member_class(n), "is_baseline", False) is True
                                             for n in self.members)

    @property
    def uses_triggers(self) -> bool:  # type: ignore[override]
        """True when any (fitted, else configured) member uses trigger features."""
        if hasattr(self, "members_"):
            return any(bool(m.uses_triggers) for m in self.members_.values())
        return self._valid_members() and any(bool(self._build(n).uses_triggers) for n in self.members)

    def _build(self, name: str) -> Forecaster:
        """A fresh (unfitted) member ``name`` as its config file sets it up (``config.build_model``), seeded with
        ``random_state``, with ``n_paths``."""
        path = model_dir() / f"{name}.yaml"
        seed = None if self.random_state is None else int(self.random_state)
        return clone(_built(name, str(path), path.stat().st_mtime_ns, seed, int(self.n_paths)))

    # ---- fitting -------------------------------------------------------------------------------------
    def _fit(self, counts: pd.Series, triggers: pd.DataFrame | None) -> None:
        names = list(self.members)
        if int(counts.sum()) == 0 and not self.is_baseline:
            raise ModelFitError("ensemble: no attacks in the training window; nothing to fit")
        templates = {n: self._build(n) for n in names}
        notes: list[str] = []
        failed: dict[str, str] = {}

        # (1) out-of-sample log scores at past origins, nothing after T used
        h, T = int(self.score_horizon), len(counts) - 1
        t0 = T - int(self.score_window_days) - h
        scores = pd.DataFrame(index=pd.DatetimeIndex([], name="origin"), columns=names, dtype=float)
        weighting = self.weighting
        if weighting == "log_score" and t0 + 1 < MIN_SCORE_TRAIN_DAYS:
            weighting = "equal"
            notes.append(f"equal weights: {len(counts)} days are too few to score the members "
                         f"({MIN_SCORE_TRAIN_DAYS + int(self.score_window_days) + h} needed)")
        if weighting == "log_score":
            origins = list(range(t0, T - h + 1, int(self.score_every)))
            y = counts.to_numpy()
            observed = [int(y[t + 1: t + h + 1].sum()) for t in origins]
            scores = pd.DataFrame(index=counts.index[origins].rename("origin"), columns=names, dtype=float)
            for name in names:
                try:
                    scores[name] = self._past_scores(clone(templates[name]), counts, triggers, origins, observed, h)
                except ModelFitError as e:
                    failed[name] = f"scoring: {e}"

        # (2) every member that survived, fitted on all days up to T
        fitted: dict[str, Forecaster] = {}
        for name in names:
            if name in failed:
                continue
            try:
                fitted[name] = clone(templates[name]).fit(counts, triggers, self.exposure_)
            except ModelFitError as e:
                failed[name] = f"fit: {e}"
        for name, why in failed.items():
            notes.append(f"{name} dropped ({why})")
            log.debug("ensemble: member %s dropped (%s)", name, why)  # in the notes; a backtest would repeat it
        if not fitted:
            raise ModelFitError("ensemble: every member failed: " + "; ".join(f"{n}: {w}" for n, w in failed.items()))

        alive = list(fitted)
        mean_scores = {n: float(scores[n].mean()) if n in alive and len(scores) else float("nan") for n in names}
        if weighting == "log_score":
            s = np.array([mean_scores[n] for n in alive])
            soft = np.exp(-float(self.learning_rate) * (s - s.min()))
            w = float(self.weight_floor) + (1.0 - len(alive) * float(self.weight_floor)) * soft / soft.sum()
        else:
            w = np.full(len(alive), 1.0 / len(alive))
        self.members_ = fitted
        self.weights_ = {n: 0.0 for n in names} | dict(zip(alive, map(float, w / w.sum())))
        self.member_scores_ = mean_scores
        self.score_table_ = scores[alive] if len(scores) else scores.iloc[:, :0]
        self.score_origins_ = self.score_table_.index
        self.weighting_used_ = weighting
        self.notes_ = notes

    def _past_scores(self, est: Forecaster, counts: pd.Series, triggers, origins: list[int], observed: list[int],
                     h: int) -> np.ndarray:
        """Log scores of ``est``'s h-day totals from each past origin: fitted once at the first origin, then
        conditioned on the days up to each later origin with its parameters kept."""
        out = []
        for i, (t, y) in enumerate(zip(origins, observed)):
            upto = counts.iloc[: t + 1]
            if i == 0:
                est.fit(upto, triggers, self.exposure_)
            else:
                est.update(upto, triggers, self.exposure_)
            out.append(log_score(est.forecast(h).total_pmf(h), y))
        return np.array(out)

    def _update(self, counts: pd.Series, triggers: pd.DataFrame | None) -> None:
        dropped = []
        for name, est in list(self.members_.items()):
            try:
                est.update(counts, triggers, self.exposure_)
            except ModelFitError as e:
                dropped.append(name)
                self.notes_ = [*self.notes_, f"{name} dropped (update: {e})"]
                log.debug("ensemble: member %s dropped in update (%s)", name, e)
        if len(dropped) == len(self.members_):
            raise ModelFitError("ensemble: every member failed to update: " + "; ".join(self.notes_[-len(dropped):]))
        if dropped:
            self.members_ = {n: m for n, m in self.members_.items() if n not in dropped}
            total = sum(self.weights_[n] for n in self.members_)
            self.weights_ = {n: (self.weights_[n] / total if n in self.members_ else 0.0) for n in self.weights_}

    # ---- forecasting ---------------------------------------------------------------------------------
    def _forecast(self, index, future_triggers, n_paths) -> PooledCountForecast:
        forecasts, errors = {}, []
        for name, est in self.members_.items():
            try:
                fc = est.forecast(len(index), future_triggers=future_triggers, n_paths=n_paths)
                fc.total_pmf(len(index))  # an explosive member fails here, not later inside the pool
            except ModelFitError as e:
                errors.append(f"{name}: {e}")
                log.debug("ensemble: member %s left out of the forecast from %s (%s)", name, index[0].date(), e)
                continue
            forecasts[name] = fc
        if not forecasts:
            raise ModelFitError("ensemble: every member failed to forecast: " + "; ".join(errors))
        return PooledCountForecast(index, forecasts, {n: self.weights_[n] for n in forecasts})

    # ---- summary -------------------------------------------------------------------------------------
    def pooled_past_log_scores(self) -> pd.Series:
        """-ln sum_m w_m P_m(observed total) at each scored past origin, with the current weights."""
        self._check_fitted()
        table = self.score_table_
        if table.empty:
            return pd.Series(dtype=float, name="log_score")
        w = np.array([self.weights_[n] for n in table.columns])
        p = np.exp(-table.to_numpy(float)) @ w
        return pd.Series(-np.log(np.maximum(p, LOG_SCORE_FLOOR)), index=table.index, name="log_score")

    def _summary(self) -> FitSummary:
        pooled = self.pooled_past_log_scores()
        loglik = -float(pooled.sum()) if len(pooled) else float("nan")
        params = {f"weight_{n}": float(w) for n, w in self.weights_.items()}
        diag: dict[str, object] = {
            "weighting": self.weighting_used_, "members": ", ".join(self.members_),
            "scored_origins": len(pooled), "score_horizon": int(self.score_horizon),
            "first_scored_origin": str(pooled.index[0].date()) if len(pooled) else "none",
            "last_scored_origin": str(pooled.index[-1].date()) if len(pooled) else "none",
            "pooled_mean_log_score": float(pooled.mean()) if len(pooled) else float("nan"),
            "notes": "; ".join(self.notes_) or "none"}
        diag.update({f"mean_log_score_{n}": s for n, s in self.member_scores_.items()})
        diag["member_scores"] = dict(self.member_scores_)
        diag["score_table"] = self.score_table_
        notes = ["Members and weights: " + ", ".join(f"{n} {w:.0%}" for n, w in sorted(
            self.weights_.items(), key=lambda kv: -kv[1])) + f" (learned from {len(pooled)} recent past forecasts "
            f"of {int(self.score_horizon)}-day totals)."] + list(self.notes_)
        return FitSummary("ensemble", params, {k: float("nan") for k in params}, loglik, len(pooled), diag, notes)
