"""A run record folder, loaded into one typed view: what the run PDF (and ``forecast-report``) reads.

Computing writes the record; presenting reads only this view. :func:`load_record` needs nothing but the
folder: every optional file that is missing becomes ``None`` (or an empty mapping), never an error.
A folder without a readable ``metrics.json`` is not a record (:class:`RecordError`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ForecastInputError

__all__ = ["FitView", "Period", "RecordError", "RunView", "ScenarioView", "SiblingView", "load_record",
           "describe_model", "reference_descriptions"]
SWEEP_MARKER = "multirun.yaml"  # Hydra writes it into a sweep folder: its run folders are siblings


class RecordError(ForecastInputError):
    """The folder is not a readable run record (the command line exits 2 with this one-line message)."""


@dataclass(frozen=True)
class Period:
    """A backtest period as configured (``backtest.periods``)."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass
class FitView:
    """``fit_summary.json`` and ``fit_series.csv``: what the model says about its own fit.

    ``params`` has one row per parameter (``parameter, estimate, stderr, ci_lower, ci_upper`` and any
    further columns a model adds, e.g. ``unit``); ``effect_scale`` says how an ``effect_<kind>`` acts
    (``log_rate``, ``log_odds``, ``sqrt_level`` or None); ``notes`` are plain sentences; ``series`` holds
    the named date-indexed diagnostic series.
    """

    params: pd.DataFrame
    loglik: float | None
    aic: float | None
    n_obs: int | None
    n_params: int | None
    diagnostics: dict
    tables: dict
    notes: list[str]
    effect_scale: str | None
    series: pd.DataFrame | None = None

    @property
    def effects(self) -> pd.DataFrame:
        """The rows of ``effect_<kind>`` parameters (the contract's naming convention), kind as index."""
        rows = self.params[self.params["parameter"].astype(str).str.startswith("effect_")].copy()
        rows.index = rows["parameter"].str.removeprefix("effect_")
        return rows


@dataclass
class ScenarioView:
    """A what-if run on the same fitted model (``scenario_*.csv``, ``scenario.json``).

    ``difference`` (when recorded) has one row per ``horizon_days`` x ``quantity`` (``p_ge<k>`` or
    ``expected_total``) with ``baseline, scenario, difference`` and the Monte Carlo standard error of the
    difference ``mc_se`` (scenario and baseline share random numbers); ``method`` says in words what
    uncertainty the difference does and does not include.
    """

    name: str
    description: str
    triggers: list[dict]
    forecast: pd.DataFrame | None
    risk: pd.DataFrame | None
    totals: pd.DataFrame | None = None
    difference: pd.DataFrame | None = None
    method: list[str] = field(default_factory=list)


@dataclass
class SiblingView:
    """Another run of the same sweep on the same data and origin (its headline numbers)."""

    run_id: str
    model: str
    folder: Path
    risk: pd.DataFrame
    metrics: dict


@dataclass
class RunView:
    """Everything one run recorded, typed. Optional parts are None when their file is missing."""

    folder: Path
    metrics: dict
    config: dict
    counts: pd.DataFrame | None  # index: date; columns count, exposure (optional), in_lull
    lulls: pd.DataFrame | None
    triggers: pd.DataFrame | None
    coverage: pd.DataFrame | None
    forecast: pd.DataFrame | None
    bands: pd.DataFrame | None
    totals: pd.DataFrame | None
    risk: pd.DataFrame | None
    backtest: pd.DataFrame | None
    reference_backtests: dict[str, pd.DataFrame]
    fit: FitView | None
    onsets: pd.DataFrame | None
    data_summary: str | None
    scenario: ScenarioView | None
    references: dict[str, str]  # reference model -> one-line description
    siblings: list[SiblingView] = field(default_factory=list)

    # ---- identity -------------------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return str(self.metrics.get("run_id") or self.folder.name)

    @property
    def model(self) -> str:
        return str(self.metrics.get("model") or "model")

    @property
    def name(self) -> str:
        return str(self.metrics.get("name") or self.config.get("name") or "run")

    @property
    def status(self) -> str:
        return str(self.metrics.get("status") or "unknown")

    @property
    def origin(self) -> pd.Timestamp | None:
        o = self.metrics.get("origin")
        return pd.Timestamp(o) if o else None

    @property
    def data_end(self) -> pd.Timestamp | None:
        return None if self.counts is None or not len(self.counts) else self.counts.index[-1]

    @property
    def data_start(self) -> pd.Timestamp | None:
        return None if self.counts is None or not len(self.counts) else self.counts.index[0]

    @property
    def is_past_origin(self) -> bool:
        """The origin lies before the end of the data: what happened next is in ``counts``."""
        return self.origin is not None and self.data_end is not None and self.origin < self.data_end

    def observed_after(self, days: int | None = None) -> pd.Series:
        """Daily counts after the origin (at most ``days`` of them; empty when the origin is the data end)."""
        if not self.is_past_origin:
            return pd.Series(dtype=float)
        after = self.counts["count"].loc[self.origin + pd.Timedelta(days=1):]
        return after.iloc[:days] if days is not None else after

    # ---- numbers the report reads --------------------------------------------------------------------
    @property
    def scores(self) -> dict:
        return self.metrics.get("scores") or {}

    @property
    def skill_reference(self) -> str | None:
        return self.metrics.get("skill_reference")

    @property
    def paired_tests(self) -> dict:
        return self.metrics.get("paired_tests") or {}

    @property
    def calibration(self) -> dict:
        return self.metrics.get("calibration") or {}

    @property
    def horizons(self) -> list[int]:
        """Backtest horizons (days), ascending."""
        return sorted(int(h) for h in self.scores)

    @property
    def periods(self) -> list[Period]:
        bt = self.config.get("backtest") or {}
        out = []
        for p in bt.get("periods") or []:
            try:
                out.append(Period(str(p["name"]), pd.Timestamp(p["start"]), pd.Timestamp(p["end"])))
            except (KeyError, ValueError, TypeError):
                continue
        return out

    @property
    def thresholds(self) -> list[int]:
        if self.risk is not None and len(self.risk):
            return sorted(int(k) for k in self.risk["threshold"].unique())
        return [int(k) for k in (self.config.get("risk") or {}).get("thresholds") or [1]]

    @property
    def risk_horizons(self) -> list[int]:
        if self.risk is not None and len(self.risk):
            return sorted(int(h) for h in self.risk["horizon_days"].unique())
        return [int(h) for h in (self.config.get("risk") or {}).get("horizons") or []]

    def risk_row(self, horizon: int, threshold: int) -> pd.Series | None:
        if self.risk is None:
            return None
        hit = self.risk[(self.risk["horizon_days"] == horizon) & (self.risk["threshold"] == threshold)]
        return hit.iloc[0] if len(hit) else None

    @property
    def history_days(self) -> int:
        return int((self.config.get("report") or {}).get("history_days") or 120)

    @property
    def title(self) -> str:
        return str((self.config.get("report") or {}).get("title") or "Escalation-risk forecast")


# ---- loading -------------------------------------------------------------------------------------------
def _csv(path: Path, dates: tuple[str, ...] = ()) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, keep_default_na=True)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise RecordError(f"{path}: not a readable CSV file ({e})") from None
    for col in dates:
        if col in frame:
            frame[col] = pd.to_datetime(frame[col], errors="coerce")
    return frame


def _json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RecordError(f"{path}: not a readable JSON file ({e})") from None


def _yaml(path: Path) -> dict:
    if not path.is_file():
        return {}
    import yaml

    try:
        node = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise RecordError(f"{path}: not a readable YAML file ({e})") from None
    return node if isinstance(node, dict) else {}


def _fit(folder: Path) -> FitView | None:
    doc = _json(folder / "fit_summary.json")
    if doc is None:
        return None
    params = pd.DataFrame(doc.get("params") or [])
    for col in ("parameter", "estimate", "stderr", "ci_lower", "ci_upper"):
        if col not in params:
            params[col] = pd.Series(dtype=float if col != "parameter" else object)
    for col in ("estimate", "stderr", "ci_lower", "ci_upper"):
        params[col] = pd.to_numeric(params[col], errors="coerce")
    series = _csv(folder / "fit_series.csv", ("date",))
    if series is not None and "date" in series:
        series = series.set_index("date")

    def num(key):
        v = doc.get(key)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    n_obs, n_params = doc.get("n_obs"), doc.get("n_params")
    return FitView(params, num("loglik"), num("aic"), int(n_obs) if n_obs is not None else None,
                   int(n_params) if n_params is not None else None, dict(doc.get("diagnostics") or {}),
                   dict(doc.get("tables") or {}), [str(n) for n in doc.get("notes") or []],
                   doc.get("effect_scale"), series)


def _scenario(folder: Path, config: dict) -> ScenarioView | None:
    forecast = _csv(folder / "scenario_forecast.csv", ("date",))
    risk = _csv(folder / "scenario_risk.csv")
    meta = _json(folder / "scenario.json") or {}
    if forecast is None and risk is None:
        return None
    node = config.get("scenario") or {}
    return ScenarioView(str(meta.get("name") or node.get("name") or "scenario"),
                        str(meta.get("description") or node.get("description") or ""),
                        list(meta.get("triggers") or node.get("triggers") or []), forecast, risk,
                        _csv(folder / "scenario_totals.csv"), _csv(folder / "scenario_difference.csv"),
                        [str(s) for s in meta.get("method") or []])


def describe_model(name: str) -> str:
    """One line on model option ``name`` from the first comment of its config file, with the option's
    parameter names replaced by their values ("the last window_days days" -> "the last 28 days");
    '' when the option is unknown. Used when a record has no ``references.json``."""
    try:
        from forecast.config import model_dir

        path = model_dir() / f"{name}.yaml"
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ImportError):
        return ""
    text = next((ln.strip().lstrip("#").strip() for ln in lines
                 if ln.strip().startswith("#") and "@package" not in ln), "")
    try:
        from forecast.config import build_model

        params = build_model(name).get_params()
    except Exception:  # noqa: BLE001 - a description is a courtesy, never a failure
        params = {}
    return fill_params(text, params)


def fill_params(text: str, params: dict) -> str:
    """``text`` with whole-word parameter names replaced by their (scalar) values; only identifier-like
    names (with an underscore), so that a parameter called e.g. ``rate`` leaves the word "rate" alone."""
    for key, value in params.items():
        if "_" in key and isinstance(value, (int, float, str)) and not isinstance(value, bool) and len(str(value)) < 20:
            text = re.sub(rf"\b{re.escape(key)}\b", f"{value:g}" if isinstance(value, float) else str(value), text)
    return text


def _references(folder: Path, metrics: dict) -> dict[str, str]:
    names = list((metrics.get("reference_scores") or {}).keys())
    recorded = _json(folder / "references.json") or {}
    out = {}
    for name in names:
        entry = recorded.get(name)
        text = str(entry.get("description", "")) if isinstance(entry, dict) else (str(entry) if entry else "")
        out[name] = text or describe_model(name)
    return out


def _siblings(folder: Path, metrics: dict) -> list[SiblingView]:
    """Other ok runs of the same sweep (a folder Hydra marked with ``multirun.yaml``) on the same data and
    origin, by folder name."""
    parent = folder.parent
    if not (parent / SWEEP_MARKER).is_file():
        return []
    out = []
    for other in sorted(p for p in parent.iterdir() if p.is_dir() and p.resolve() != folder.resolve()):
        try:
            m = json.loads((other / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (m.get("status") != "ok" or m.get("data_sha256") != metrics.get("data_sha256")
                or m.get("origin") != metrics.get("origin")):
            continue
        try:
            risk = pd.read_csv(other / "risk.csv")
        except (OSError, ValueError):
            continue
        out.append(SiblingView(str(m.get("run_id") or other.name), str(m.get("model") or other.name), other, risk,
                               {k: m.get(k) for k in ("scores", "skill", "skill_reference", "paired_tests")}))
    return out


def load_record(folder: str | Path, *, siblings: bool = True) -> RunView:
    """Load the run record in ``folder`` (see the module docstring). ``siblings=False`` skips the search
    for other runs of the same sweep."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordError(f"{folder}: not a folder (give a run folder holding metrics.json)")
    metrics = _json(folder / "metrics.json")
    if not isinstance(metrics, dict) or "run_id" not in metrics:
        raise RecordError(f"{folder}: not a run record (no readable metrics.json with a run_id)")
    config = _yaml(folder / "config_resolved.yaml")
    counts = _csv(folder / "counts.csv", ("date",))
    if counts is not None:
        counts = counts.set_index("date")
        counts["count"] = counts["count"].astype(np.int64)
        if "in_lull" in counts:
            counts["in_lull"] = counts["in_lull"].astype(str).str.lower().eq("true")
    lulls = _csv(folder / "lulls.csv", ("start", "end"))
    triggers = _csv(folder / "triggers_used.csv", ("date",))
    refs = {}
    for name in (metrics.get("reference_scores") or {}):
        frame = _csv(folder / f"backtest_reference_{name}.csv", ("origin",))
        if frame is not None:
            refs[name] = frame
    summary = folder / "data_summary.txt"
    return RunView(
        folder=folder, metrics=metrics, config=config, counts=counts, lulls=lulls, triggers=triggers,
        coverage=_csv(folder / "coverage.csv"), forecast=_csv(folder / "forecast.csv", ("date",)),
        bands=_csv(folder / "forecast_bands.csv", ("date",)), totals=_csv(folder / "forecast_totals.csv"),
        risk=_csv(folder / "risk.csv"), backtest=_csv(folder / "backtest.csv", ("origin",)),
        reference_backtests=refs, fit=_fit(folder), onsets=_csv(folder / "onsets.csv", ("onset", "trigger_date")),
        data_summary=summary.read_text(encoding="utf-8") if summary.is_file() else None,
        scenario=_scenario(folder, config), references=_references(folder, metrics),
        siblings=_siblings(folder, metrics) if siblings else [])


# ---- written by the pipeline -------------------------------------------------------------------------
def reference_descriptions(names) -> dict[str, dict]:
    """``references.json``: one line on each reference model of the backtest (from its config file, with
    its parameter values filled in) and its parameters."""
    out = {}
    for name in names:
        try:
            from forecast.config import build_model

            params = {k: v for k, v in build_model(name).get_params().items()
                      if isinstance(v, (int, float, str, bool)) or v is None}
        except Exception:  # noqa: BLE001 - a description is a courtesy, never a failure
            params = {}
        out[str(name)] = {"description": describe_model(name), "params": params}
    return out
