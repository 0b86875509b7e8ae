"""Compare run records: a leaderboard CSV and a comparison PDF, read only from run-record files.

Runs are ranked together only when they share data (``data_sha256``), backtest periods (and origins) and
horizons, unless ``allow_mixed``. Records that cannot be read are skipped with a warning naming the file;
runs that did not end ``ok`` (``failed``, ``interrupted``, ``running``) are listed but not ranked.

One definition of best (:data:`BEST_RULE`): the lowest mean log score at each horizon over the backtest
origins all ranked runs share. Each run is also set against the simple baseline its record names
(``skill_reference``, e.g. ``nb_window``) with the record's own paired tests. Diebold-Mariano p-values,
against the best and against the reference, are Holm-adjusted across the models tested (:data:`TEST_RULE`).
Runs are labelled by their model plus the overrides (``.hydra/overrides.yaml``) that tell them apart.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from forecast.config import project_root
from forecast.errors import ForecastInputError
from forecast.evaluate.scores import diebold_mariano
from forecast.records import atomic_write_text, escape_formulas, write_csv

log = logging.getLogger(__name__)
REQUIRED_KEYS = ("status", "run_id", "model")  # plus data_sha256 when status is ok
BACKTEST_NUMERIC = ("horizon", "observed_total", "log_score", "rps")
FORECAST_NUMERIC = ("mean", "q05", "q25", "q75", "q95")
RISK_NUMERIC = ("horizon_days", "threshold", "probability", "expected_total", "lo90", "hi90")
ALPHA = 0.05  # significance level of every statement the comparison makes
HEADLINE_HORIZON = 7  # the horizon (days) of the headline risk number, when the runs forecast it
BEST_RULE = ("best = lowest mean log score (-ln P(observed total), lower is better) at each horizon over "
             "the backtest origins all ranked runs share")
TEST_RULE = (f"Diebold-Mariano tests (Harvey-Leybourne-Newbold, Newey-West variance) of paired log-score "
             f"differences; p-values Holm-adjusted across the models tested at each horizon (and period); "
             f"significant = adjusted p < {ALPHA:g}")
NOT_IN_LABEL = ("model", "sweep", "report")  # the label's name / what defines a sweep / output only


class UnreadableRecord(ValueError):
    """A run-record file that cannot be used; the run is skipped."""


@dataclass
class Run:
    """One run record as read from its folder.

    ``periods``: backtest (start, end) pairs of its config; ``overrides``: its Hydra overrides without
    ``paths.*`` and ``hydra.*``; ``variant``: the overrides (or config values) that tell it apart from the
    other runs of its model, as shown in ``label``; ``risk``: its risk.csv (or the risk of metrics.json).
    """

    folder: Path
    metrics: dict
    label: str
    backtest: pd.DataFrame | None
    forecast: pd.DataFrame | None
    periods: tuple[tuple[str, str], ...] | None = None
    overrides: tuple[str, ...] = ()
    config: dict | None = None
    risk: pd.DataFrame | None = None
    variant: str = ""
    choices: dict | None = None  # config group -> option (``.hydra/hydra.yaml``: hydra.runtime.choices)

    @property
    def ok(self) -> bool:
        return self.metrics.get("status") == "ok"

    @property
    def ranked(self) -> bool:
        """Ended ``ok`` with backtest scores."""
        return self.ok and bool(self.metrics.get("scores"))

    @property
    def horizons(self) -> list[int]:
        return sorted(int(h) for h in self.metrics.get("scores") or {})

    @property
    def model(self) -> str:
        return str(self.metrics.get("model", self.folder.name))

    @property
    def reference(self) -> str | None:
        """The baseline its skill and headline paired tests are against (None if the record names none)."""
        ref = self.metrics.get("skill_reference")
        return str(ref) if isinstance(ref, str) and ref else None

    @property
    def named_periods(self) -> list[tuple[str, str, str]]:
        """(name, start, end) of the backtest periods of its config."""
        periods = ((self.config or {}).get("backtest") or {}).get("periods") or []
        try:
            return [(str(p["name"]), str(p["start"]), str(p["end"])) for p in periods]
        except (TypeError, KeyError):
            return []


@dataclass
class Comparison:
    """What :func:`compare` wrote; ``warning`` says why the ranking mixes data or periods (None if it does not).

    ``findings`` are the plain-language answers of page 1 (also in ``summary.txt``); ``name`` says what was
    compared (the PDF's file name without ``.pdf``).
    """

    runs: list[Run]
    leaderboard: pd.DataFrame
    significance: pd.DataFrame
    by_period: pd.DataFrame
    leaderboard_path: Path
    report_path: Path | None
    compare_id: str
    warning: str | None = None
    versus_reference: pd.DataFrame = field(default_factory=pd.DataFrame)
    risk: pd.DataFrame = field(default_factory=pd.DataFrame)
    findings: list[str] = field(default_factory=list)
    name: str = ""


def _natural_key(path: Path) -> list:
    """Sort key that orders ``2_x`` before ``10_x``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_runs(dirs: list[str | Path]) -> list[Path]:
    """Run folders (holding ``metrics.json``) in or below the given folders, in a stable order (job numbers
    in folder names compared as numbers)."""
    found = []
    for d in dirs:
        d = Path(d)
        if not d.exists():
            raise ForecastInputError("no such folder", path=d, hint="give run or sweep folders under experiments/")
        found += sorted({p.parent for p in d.rglob("metrics.json")}, key=_natural_key)
    if not found:
        raise ForecastInputError("no run records (metrics.json) found", path=", ".join(map(str, dirs)),
                                 hint="give run or sweep folders under experiments/")
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------------------------------------- labels
def _override_key(override: str) -> str:
    """``model.trigger_half_life`` of ``model.trigger_half_life=14`` (``+``, ``++`` and ``~`` dropped)."""
    return override.strip().lstrip("+~").split("=", 1)[0].strip()


def _is_output_key(key: str) -> bool:
    """Keys that say where outputs go or how Hydra runs, never what is forecast."""
    return key in ("paths", "hydra") or key.startswith(("paths.", "hydra.", "hydra/"))


def read_overrides(folder: Path) -> tuple[str, ...]:
    """The run's Hydra overrides (``.hydra/overrides.yaml``) without ``paths.*`` and ``hydra.*``; () if none."""
    path = folder / ".hydra" / "overrides.yaml"
    if not path.exists():
        return ()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as e:
        log.warning("%s: cannot read the overrides (%s); the run is labelled by its model only", path, e)
        return ()
    if not isinstance(raw, list):
        return ()
    return tuple(o.strip() for o in raw if isinstance(o, str) and not _is_output_key(_override_key(o)))


def read_choices(folder: Path) -> dict | None:
    """The option chosen in each config group (``hydra.runtime.choices`` of ``.hydra/hydra.yaml``); None if
    not known."""
    path = folder / ".hydra" / "hydra.yaml"
    if not path.exists():
        return None
    try:
        choices = ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("hydra") or {})["runtime"]["choices"]
    except (OSError, ValueError, yaml.YAMLError, AttributeError, KeyError, TypeError):
        return None
    return choices if isinstance(choices, dict) else None


def _show(key: str, value: object) -> str:
    """``trigger_half_life=14`` for ``model.trigger_half_life`` (a model's parameters are named bare)."""
    if isinstance(value, str):  # as typed on the command line: 7 and 7.0 are the same number
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        value = parsed if isinstance(parsed, (int, float)) and not isinstance(parsed, bool) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        value = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    elif value is None:
        value = "null"
    return f"{key.removeprefix('model.')}={value}"


_MISSING = object()


def _lookup(config: dict | None, key: str) -> object:
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def assign_labels(runs: list[Run]) -> None:
    """Set each run's ``variant`` and ``label``: the model name plus, in brackets, the overrides that differ
    between the runs compared (``model.`` dropped from parameter names, e.g. ``hawkes (trigger_half_life=14)``).

    A run of the same model without such an override shows the value it used (the option of a config group
    from ``.hydra/hydra.yaml``, a parameter from its resolved config), so the default run of a sweep over a
    parameter is labelled by that parameter too. ``model``, ``sweep`` and
    ``report`` overrides are never shown (the name says the model; the others do not change forecasts).
    Runs whose labels still coincide get `` #2``, `` #3``... in folder order.
    """
    items = []
    for r in runs:
        shown = {}
        for o in r.overrides:
            key = _override_key(o)
            if key and key not in NOT_IN_LABEL:
                shown[key] = o.strip().lstrip("+")
        items.append(shown)
    keys = list(dict.fromkeys(k for it in items for k in it))
    varying = [k for k in keys if len({it.get(k) for it in items}) > 1]
    group_keys: dict[str, set[str]] = {}
    for r, it in zip(runs, items):
        group_keys.setdefault(r.model, set()).update(k for k in it if k in varying)
    seen: dict[str, int] = {}
    for r, it in zip(runs, items):
        parts = []
        for k in varying:
            if k in it:
                o = it[k]
                parts.append(_show(k, o.split("=", 1)[1]) if "=" in o else o)
            elif k in group_keys[r.model]:  # the value this run used without overriding it
                value = (r.choices or {}).get(k, _MISSING) if "." not in k else _MISSING
                if value is _MISSING:
                    value = _lookup(r.config, k)
                if value is not _MISSING and not isinstance(value, (dict, list)):
                    parts.append(_show(k, value))
        r.variant = ", ".join(parts)
        label = f"{r.model} ({r.variant})" if parts else r.model
        seen[label] = seen.get(label, 0) + 1
        r.label = label if seen[label] == 1 else f"{label} #{seen[label]}"


def common_settings(runs: list[Run]) -> list[str]:
    """Overrides every run shares (``paths.*`` and ``hydra.*`` left out), as typed."""
    if not runs:
        return []
    shared = set(runs[0].overrides)
    for r in runs[1:]:
        shared &= set(r.overrides)
    return [o for o in runs[0].overrides if o in shared]


# ----------------------------------------------------------------------------------------- reading
def _is_score_table(table: object) -> bool:
    """``{"<horizon>": {"<score>": number or null}}``, or nothing."""
    return table is None or isinstance(table, dict) and all(
        isinstance(h, str) and h.isdigit() and isinstance(s, dict) and all(
            v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in s.values())
        for h, s in table.items())


def read_metrics(path: Path) -> dict:
    """A ``metrics.json`` checked for the keys and shapes the comparison uses.

    Raises
    ------
    UnreadableRecord
        Not UTF-8, not JSON, not an object, a required key missing or scores of the wrong shape.
    """
    try:
        metrics = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UnreadableRecord(f"not UTF-8 text (byte {e.start})") from e
    except json.JSONDecodeError as e:
        raise UnreadableRecord(f"not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from e
    except (OSError, RecursionError) as e:
        raise UnreadableRecord(str(e)) from e
    if not isinstance(metrics, dict):
        raise UnreadableRecord(f"a JSON {type(metrics).__name__} instead of an object")
    required = REQUIRED_KEYS + (("data_sha256",) if metrics.get("status") == "ok" else ())
    missing = [k for k in required if k not in metrics]
    if missing:
        raise UnreadableRecord(f"missing key(s) {', '.join(missing)}")
    if not isinstance(metrics["status"], str):
        raise UnreadableRecord("'status' is not a string")
    by_period = metrics.get("scores_by_period") or {}
    if not (_is_score_table(metrics.get("scores")) and _is_score_table(metrics.get("skill"))
            and isinstance(by_period, dict) and all(map(_is_score_table, by_period.values()))):
        raise UnreadableRecord("'scores', 'skill' or 'scores_by_period' is not horizon -> score -> number")
    return metrics


def _read_csv(path: Path, required: tuple[str, ...], numeric: tuple[str, ...],
              numeric_prefix: str | None = None) -> pd.DataFrame | None:
    """A record CSV with ``required`` columns and numeric ``numeric`` (and ``numeric_prefix...``) columns."""
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except pd.errors.EmptyDataError as e:
        raise UnreadableRecord("empty file") from e
    except (OSError, ValueError) as e:  # pandas' parser errors and UnicodeDecodeError are ValueErrors
        raise UnreadableRecord(f"not a readable CSV ({(str(e).strip() or type(e).__name__).splitlines()[0]})") from e
    if frame.empty:
        raise UnreadableRecord("no rows")
    missing = [c for c in (*required, *numeric) if c not in frame]
    if missing:
        raise UnreadableRecord(f"missing column(s) {', '.join(dict.fromkeys(missing))}")
    bad = [c for c in frame if (c in numeric or numeric_prefix and str(c).startswith(numeric_prefix))
           and not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise UnreadableRecord(f"non-numeric values in column(s) {', '.join(map(str, bad))}")
    return frame


def read_table(path: Path, date: str, numeric: tuple[str, ...], numeric_prefix: str | None = None) \
        -> pd.DataFrame | None:
    """A record CSV with its ``date`` column parsed and its ``numeric`` columns (and those named
    ``numeric_prefix...``) checked; None when the file is absent.

    Raises
    ------
    UnreadableRecord
        Empty, not UTF-8 CSV, no rows, a column missing, a bad date or a non-numeric value.
    """
    frame = _read_csv(path, (date,), numeric, numeric_prefix)
    if frame is None:
        return None
    try:
        frame[date] = pd.to_datetime(frame[date], format="ISO8601")
    except (ValueError, TypeError) as e:
        raise UnreadableRecord(f"column {date} holds a value that is not a date ({e})") from e
    return frame


def read_backtest(path: Path) -> pd.DataFrame | None:
    """``backtest.csv`` checked by :func:`read_table`, with at most one row per origin and horizon."""
    frame = read_table(path, "origin", BACKTEST_NUMERIC, "p_ge")
    if frame is not None and frame.duplicated(["origin", "horizon"]).any():
        raise UnreadableRecord("more than one row for an origin and horizon")
    return frame


def read_risk(path: Path) -> pd.DataFrame | None:
    """``risk.csv`` (``horizon_days, threshold, probability, expected_total, lo90, hi90``), one row per horizon
    and threshold, sorted; None when absent.

    Raises
    ------
    UnreadableRecord
        Not a CSV, a column missing, a non-numeric value or a repeated horizon and threshold.
    """
    frame = _read_csv(path, (), RISK_NUMERIC)
    if frame is None:
        return None
    if frame.duplicated(["horizon_days", "threshold"]).any():
        raise UnreadableRecord("more than one row for a horizon and threshold")
    frame = frame[list(RISK_NUMERIC)].astype(float)
    frame[["horizon_days", "threshold"]] = frame[["horizon_days", "threshold"]].astype(int)
    return frame.sort_values(["horizon_days", "threshold"]).reset_index(drop=True)


def _risk_from_metrics(metrics: dict) -> pd.DataFrame | None:
    """The probabilities ``risk: {"p_ge<k>_<h>d": p}`` of metrics.json as risk.csv rows (no expected totals)."""
    risk = metrics.get("risk")
    rows = []
    if isinstance(risk, dict):
        for key, p in risk.items():
            m = re.fullmatch(r"p_ge(\d+)_(\d+)d", str(key))
            if m and isinstance(p, (int, float)) and not isinstance(p, bool):
                rows.append({"horizon_days": int(m[2]), "threshold": int(m[1]), "probability": float(p),
                             "expected_total": np.nan, "lo90": np.nan, "hi90": np.nan})
    return pd.DataFrame(rows).sort_values(["horizon_days", "threshold"]).reset_index(drop=True) if rows else None


def _read_config(path: Path) -> dict | None:
    """``config_resolved.yaml`` as a dict (None if absent or unreadable, with a warning)."""
    if not path.exists():
        return None
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as e:
        log.warning("%s: cannot read it (%s: %s); comparing backtest origins instead of periods", path,
                    type(e).__name__, e)
        return None
    return config if isinstance(config, dict) else None


def _config_periods(config: dict | None, path: Path) -> tuple[tuple[str, str], ...] | None:
    """The (start, end) pairs of ``backtest.periods`` (None if not known)."""
    if config is None:
        return None
    try:
        periods = (config.get("backtest") or {}).get("periods")
        return None if periods is None else tuple(sorted((str(p["start"]), str(p["end"])) for p in periods))
    except (AttributeError, TypeError, KeyError) as e:
        log.warning("%s: cannot read backtest.periods (%s: %s); comparing backtest origins instead", path,
                    type(e).__name__, e)
        return None


def load_runs(folders: list[Path]) -> list[Run]:
    """The forecasting runs in ``folders``, labelled (:func:`assign_labels`); a run whose metrics.json or
    backtest.csv cannot be read is skipped with a warning (an unreadable forecast.csv or risk.csv is only
    dropped: the risk then comes from metrics.json, without expected totals).

    Raises
    ------
    ForecastInputError
        When no readable forecasting run remains.
    """
    runs = []
    for f in folders:
        path = f / "metrics.json"
        try:
            metrics = read_metrics(path)
            if metrics.get("task", "run") != "run":
                continue
            path = f / "backtest.csv"
            backtest = read_backtest(path)
        except UnreadableRecord as e:
            log.warning("skipping run %s: %s: %s", f, path, e)
            continue
        try:
            forecast = read_table(f / "forecast.csv", "date", FORECAST_NUMERIC)
        except UnreadableRecord as e:
            log.warning("%s: %s; its forecasts are left out of the report", f / "forecast.csv", e)
            forecast = None
        try:
            risk = read_risk(f / "risk.csv")
        except UnreadableRecord as e:
            log.warning("%s: %s; its risk is taken from metrics.json (no expected totals)", f / "risk.csv", e)
            risk = None
        config = _read_config(f / "config_resolved.yaml")
        runs.append(Run(f, metrics, str(metrics.get("model", f.name)), backtest, forecast,
                        _config_periods(config, f / "config_resolved.yaml"), read_overrides(f), config,
                        risk if risk is not None else _risk_from_metrics(metrics), choices=read_choices(f)))
    if not runs:
        raise ForecastInputError("no readable forecasting run record (unreadable ones are skipped, see the warnings)",
                                 path=", ".join(map(str, folders)))
    assign_labels(runs)
    return runs


# -------------------------------------------------------------------------------------- comparability
def _failed_origins(run: Run) -> int:
    """How many backtest origins the run records as not fitted."""
    info = run.metrics.get("backtest_info")
    n = info.get("failed_origins", 0) if isinstance(info, dict) else 0
    return n if isinstance(n, int) else 0


def _same_origins(a: Run, b: Run) -> bool:
    """Same backtest origins, but for origins a run records as failed (they have no rows)."""
    if a.backtest is None or b.backtest is None:
        return True
    oa, ob = set(a.backtest["origin"]), set(b.backtest["origin"])
    return len(ob - oa) <= _failed_origins(a) and len(oa - ob) <= _failed_origins(b)


def _span(run: Run) -> str:
    o = run.backtest["origin"]
    return f"{o.nunique()} origins {o.min():%Y-%m-%d}..{o.max():%Y-%m-%d}"


def differences(a: Run, b: Run) -> list[str]:
    """What keeps the scores of runs ``a`` and ``b`` from being compared (empty when nothing does)."""
    out = []
    sha_a, sha_b = a.metrics.get("data_sha256"), b.metrics.get("data_sha256")
    if sha_a != sha_b:
        out.append(f"data (data_sha256 {str(sha_a)[:12]} vs {str(sha_b)[:12]})")
    if a.periods is not None and b.periods is not None and a.periods != b.periods:
        show = [", ".join(f"{s}..{e}" for s, e in r.periods) for r in (a, b)]
        out.append(f"backtest periods ({show[0]} vs {show[1]})")
    elif not _same_origins(a, b):
        out.append(f"backtest origins ({_span(a)} vs {_span(b)})")
    if a.horizons != b.horizons:
        out.append(f"horizons ({a.horizons} vs {b.horizons})")
    return out


def check_comparable(runs: list[Run], allow_mixed: bool = False) -> tuple[dict[str, bool], str | None]:
    """Whether each ranked run shares data, backtest periods and horizons with the first ranked run.

    Returns
    -------
    comparable : dict
        Label -> True when the run matches the first ranked run.
    warning : str or None
        With ``allow_mixed``, what differs (None when nothing does).

    Raises
    ------
    ForecastInputError
        When runs differ and not ``allow_mixed``: names the first ranked run, the first run that differs
        from it, and what differs.
    """
    ranked = [r for r in runs if r.ranked]
    if not ranked:
        return {}, None
    ref = ranked[0]
    diffs = {r.label: differences(ref, r) for r in ranked}
    mixed = [r for r in ranked if diffs[r.label]]
    if mixed and not allow_mixed:
        raise ForecastInputError(f"cannot rank runs on different data or periods: {ref.folder} and {mixed[0].folder} "
                                 f"differ in {'; '.join(diffs[mixed[0].label])}",
                                 hint="pass --allow-mixed to compare them anyway")
    warning = None
    if mixed:
        groups: dict[str, list[str]] = {}  # runs that differ in the same way are named together
        for r in mixed:
            groups.setdefault(", ".join(diffs[r.label]), []).append(r.label)
        warning = (f"Runs on different data or periods are ranked together (--allow-mixed); compared with "
                   f"{ref.label}: " + "; ".join(f"{', '.join(labels)} differ{'s' if len(labels) == 1 else ''} in {what}"
                                                for what, labels in groups.items()))
        log.warning("%s", warning)
    return {label: not d for label, d in diffs.items()}, warning


# ------------------------------------------------------------------------------------------ statistics
def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` (NaN stays NaN and does not count as a test).

    With the m finite p-values sorted, p_(1) <= ... <= p_(m), the adjusted value of p_(i) is
    ``min(1, max_{j <= i} (m - j + 1) p_(j))``; it controls the family-wise error rate at the level compared.
    """
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        order = np.argsort(p[ok], kind="stable")
        adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[ok][order]))
        values = np.empty(m)
        values[order] = adjusted
        out[ok] = values
    return out


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _dm_interval(mean: float, stat: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Interval of a mean difference implied by its DM statistic (standard error |mean / stat|, Student t)."""
    if not (np.isfinite(mean) and np.isfinite(stat) and np.isfinite(n)) or stat == 0 or n < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, n - 1) * abs(mean / stat)
    return mean - half, mean + half


def versus_words(diff: float, p_adjusted: float, reference: str, alpha: float = ALPHA) -> str:
    """How a model's mean log score compares with ``reference``'s (``diff`` = model - reference, lower is better).

    Only a significantly lower score (adjusted p < alpha) is called ``beats``; a higher score is never
    described as better.
    """
    if not np.isfinite(diff):
        return "no test"
    if diff == 0:
        return f"same mean log score as {reference}"
    sig = np.isfinite(p_adjusted) and p_adjusted < alpha
    if diff < 0:
        return f"beats {reference} (significant)" if sig else \
            f"lower mean log score than {reference}, not significant"
    return f"worse than {reference} (significant)" if sig else \
        f"higher mean log score than {reference}, not significant"


def _shared_means(runs: list[Run], h: int, score: str, start: str | None = None, end: str | None = None) \
        -> tuple[dict[str, float], int | None]:
    """Mean ``score`` at horizon ``h`` of each run over the origins (within ``start..end``) where every run has
    a score; n is None when a run has no backtest.csv, 0 when the runs share no origin."""
    series = {}
    for r in runs:
        if r.backtest is None:
            return {}, None
        b = r.backtest[r.backtest["horizon"] == h]
        if start is not None:
            b = b[(b["origin"] >= pd.Timestamp(start)) & (b["origin"] <= pd.Timestamp(end))]
        series[r.label] = b.set_index("origin")[score].dropna()
    if not series:
        return {}, 0
    common = sorted(set.intersection(*(set(s.index) for s in series.values())))
    if not common:
        return {}, 0
    return {label: float(s.loc[common].mean()) for label, s in series.items()}, len(common)


def _basis(score: str, n: int | None) -> str:
    if n:
        return f"lowest mean {score} over the {n} backtest origins all ranked runs share"
    why = "a run has no backtest.csv" if n is None else "no origin is shared by all ranked runs"
    return f"lowest mean {score} over each run's own backtest origins ({why})"


def _rank(frame: pd.DataFrame, by: list[str], score: str) -> pd.DataFrame:
    """Rank rows by ``score`` (lowest first, ties share the lower rank) within ``by``; ranked rows first."""
    if frame.empty:
        return frame
    if score in frame:
        frame["rank"] = frame.groupby(by)[score].rank(method="min").astype("Int64")
    return frame.sort_values([*by, "rank" if "rank" in frame else "label", "label"], na_position="last") \
        .reset_index(drop=True)


def _identity(run: Run) -> dict:
    m = run.metrics
    return {"label": run.label, "model": m.get("model"), "variant": run.variant, "run_id": m.get("run_id"),
            "status": m.get("status"), "error": m.get("error")}


def risk_columns(run: Run) -> dict:
    """The run's current risk as leaderboard columns: ``risk_as_of`` (the forecast origin), then per horizon h
    ``p_ge<k>_<h>d`` for each threshold k and ``expected_total_<h>d``, ``lo90_<h>d``, ``hi90_<h>d`` (risk.csv)."""
    out = {"risk_as_of": run.metrics.get("origin")}
    if run.risk is None:
        return out
    for h, g in run.risk.groupby("horizon_days", sort=True):
        for r in g.itertuples():
            out[f"p_ge{int(r.threshold)}_{int(h)}d"] = float(r.probability)
        first = g.iloc[0]
        out |= {f"expected_total_{int(h)}d": float(first["expected_total"]), f"lo90_{int(h)}d": float(first["lo90"]),
                f"hi90_{int(h)}d": float(first["hi90"])}
    return out


def risk_table(runs: list[Run]) -> pd.DataFrame:
    """Every run's current risk, one row per run, horizon and threshold (risk.csv plus who and as of when)."""
    frames = [r.risk.assign(label=r.label, model=r.model, variant=r.variant, status=r.metrics.get("status"),
                            risk_as_of=r.metrics.get("origin"))
              for r in runs if r.risk is not None]
    if not frames:
        return pd.DataFrame(columns=["label", "model", "variant", "status", "risk_as_of", *RISK_NUMERIC])
    out = pd.concat(frames, ignore_index=True)
    return out[["label", "model", "variant", "status", "risk_as_of", *RISK_NUMERIC]]


def paired_tests(runs: list[Run], score: str = "log_score") -> pd.DataFrame:
    """Diebold-Mariano tests of each ranked run against the best (lowest mean ``score``) per horizon, on the
    origins the backtests of all runs with that horizon share; ``p_holm`` adjusts ``p_value`` across the
    ``n_tests`` models tested at that horizon (Holm), ``ci95_lo``/``ci95_hi`` bound the mean difference
    (model - best)."""
    ok = [r for r in runs if r.ranked and r.backtest is not None]
    rows = []
    for h in sorted(set().union(*[set(r.backtest["horizon"]) for r in ok])):
        members = [r for r in ok if (r.backtest["horizon"] == h).any()]
        if len(members) < 2:
            continue
        frames = {r.label: r.backtest[r.backtest["horizon"] == h].set_index("origin")[score] for r in members}
        common = sorted(set.intersection(*[set(s.index) for s in frames.values()]))
        if not common:
            continue
        frames = {label: s.loc[common] for label, s in frames.items()}
        best = min(frames, key=lambda k: np.nan_to_num(frames[k].mean(), nan=np.inf))
        for label, s in frames.items():
            if label == best:
                continue
            diff = (s - frames[best]).to_numpy()
            stat, p = diebold_mariano(diff, h)
            lo, hi = _dm_interval(float(np.mean(diff)), stat, len(common))
            rows.append({"horizon": int(h), "model": label, "best": best, f"mean_{score}_diff": float(np.mean(diff)),
                         "dm_stat": stat, "p_value": p, "n_origins": len(common), "ci95_lo": lo, "ci95_hi": hi})
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["p_holm"] = frame.groupby("horizon")["p_value"].transform(holm)
        frame["n_tests"] = frame.groupby("horizon")["p_value"].transform(lambda p: int(np.isfinite(p).sum()))
    return frame


REFERENCE_COLUMNS = ["reference", "period", "horizon", "label", "model", "headline", "mean_log_score_diff",
                     "dm_stat", "p_value", "n_origins", "ci95_lo", "ci95_hi", "p_holm", "n_tests", "rps_skill",
                     "verdict"]


def reference_tests(runs: list[Run]) -> pd.DataFrame:
    """Each ranked run against the references its record tested it with (``paired_tests``: reference ->
    ``"all"`` or a period -> horizon -> mean_diff, dm_stat, dm_p, n_origins) and the skill
    (``skill_by_reference``, ``skill_by_period``), one row per reference, period and horizon.

    ``headline`` marks the record's ``skill_reference``; ``p_holm`` adjusts ``p_value`` across the models
    tested against the same reference, period and horizon (a run identical to the reference has no test);
    ``verdict`` is :func:`versus_words` of the difference and ``p_holm``.
    """
    rows = []
    for r in runs:
        tests = r.metrics.get("paired_tests")
        if not r.ranked or not isinstance(tests, dict):
            continue
        by_ref = r.metrics.get("skill_by_reference") if isinstance(r.metrics.get("skill_by_reference"), dict) else {}
        by_period = r.metrics.get("skill_by_period") if isinstance(r.metrics.get("skill_by_period"), dict) else {}
        for ref, periods in tests.items():
            if not isinstance(periods, dict):
                continue
            overall = by_ref.get(ref) or (r.metrics.get("skill") if ref == r.reference else None)
            for period, horizons in periods.items():
                skill = overall if period == "all" else (by_period.get(ref) or {}).get(period)
                skill = skill if isinstance(skill, dict) else {}
                for h, t in (horizons.items() if isinstance(horizons, dict) else ()):
                    if not (isinstance(t, dict) and str(h).isdigit()):
                        continue
                    s = skill.get(h) if isinstance(skill.get(h), dict) else {}
                    mean, stat, n = _num(t.get("mean_diff")), _num(t.get("dm_stat")), _num(t.get("n_origins"))
                    lo, hi = _dm_interval(mean, stat, n)
                    rows.append({"reference": str(ref), "period": str(period), "horizon": int(h), "label": r.label,
                                 "model": r.model, "headline": ref == r.reference, "mean_log_score_diff": mean,
                                 "dm_stat": stat, "p_value": _num(t.get("dm_p")), "n_origins": n, "ci95_lo": lo,
                                 "ci95_hi": hi, "rps_skill": _num(s.get("rps_skill"))})
    frame = pd.DataFrame(rows, columns=[c for c in REFERENCE_COLUMNS if c not in ("p_holm", "n_tests", "verdict")])
    group = frame.groupby(["reference", "period", "horizon"])["p_value"]
    frame["p_holm"] = group.transform(holm) if len(frame) else []
    frame["n_tests"] = group.transform(lambda p: int(np.isfinite(p).sum())) if len(frame) else []
    frame["verdict"] = [versus_words(d, p, ref) for d, p, ref in
                        zip(frame["mean_log_score_diff"], frame["p_holm"], frame["reference"])]
    return frame[REFERENCE_COLUMNS]


def headline_reference(runs: list[Run]) -> str | None:
    """The reference most ranked runs name as ``skill_reference`` (None if none does)."""
    refs = [r.reference for r in runs if r.ranked and r.reference]
    return max(dict.fromkeys(refs), key=refs.count) if refs else None


def _merge_reference(frame: pd.DataFrame, ref: pd.DataFrame, period: str | None) -> pd.DataFrame:
    """Add the headline-reference columns (``period`` None: match the frame's own period column)."""
    cols = {"reference": "reference", "mean_log_score_diff": "log_score_diff_vs_reference",
            "rps_skill": "rps_skill_vs_reference", "p_value": "dm_p_vs_reference",
            "p_holm": "dm_p_vs_reference_holm", "verdict": "versus_reference"}
    keys = ["label", "horizon"] + (["period"] if period is None else [])
    sub = ref[ref["headline"]] if len(ref) else ref
    if period is not None and len(sub):
        sub = sub[sub["period"] == period]
    sub = sub[keys + list(cols)].rename(columns=cols).drop_duplicates(keys)
    if frame.empty:
        return frame
    return frame.merge(sub, on=keys, how="left") if len(sub) else frame.assign(**{c: np.nan for c in cols.values()})


def leaderboard(runs: list[Run], score: str = "log_score", sig: pd.DataFrame | None = None,
                ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per run and horizon: the record's mean scores, ``<score>_shared`` (mean over the origins all
    ranked runs share), ``rank`` by it within each horizon (lower is better; :data:`BEST_RULE`, restated in
    ``rank_basis``) and ``best``; the paired test against the best (``dm_p_vs_best``, Holm-adjusted in
    ``dm_p_vs_best_holm``) and against the record's reference (``*_vs_reference``); the run's current risk
    (:func:`risk_columns`). Runs that are not ranked get one row without horizon."""
    sig = paired_tests(runs, score) if sig is None else sig
    ref = reference_tests(runs) if ref is None else ref
    ranked = [r for r in runs if r.ranked]
    shared = {}
    for h in sorted({h for r in ranked for h in r.horizons}):
        members = [r for r in ranked if h in r.horizons]
        means, n = _shared_means(members, h, score)
        if not n:
            means = {r.label: _num((r.metrics["scores"].get(str(h)) or {}).get(score)) for r in members}
        shared[h] = (means, n or np.nan, _basis(score, n))
    rows = []
    for r in runs:
        risk = risk_columns(r)
        if not r.ranked:
            rows.append({**_identity(r), "horizon": np.nan, **risk, "folder": str(r.folder)})
            continue
        for h, s in sorted(r.metrics["scores"].items(), key=lambda kv: int(kv[0])):
            means, n, basis = shared[int(h)]
            rows.append({**_identity(r), "horizon": int(h), f"{score}_shared": means.get(r.label, np.nan),
                         "n_shared_origins": n, "rank_basis": basis, **s, **risk, "folder": str(r.folder)})
    frame = _rank(pd.DataFrame(rows), ["horizon"], f"{score}_shared")
    if frame.empty:
        return frame
    if "rank" in frame:
        frame["best"] = frame["rank"].eq(1).fillna(False).astype(bool)
    versus = {}
    for t in sig.itertuples(index=False) if len(sig) else ():
        versus[(t.model, t.horizon)] = (getattr(t, f"mean_{score}_diff"), t.p_value, t.p_holm, t.best)
    bests = {(t[3], h) for (_, h), t in versus.items()}
    vals = []
    for label, h in zip(frame["label"], frame["horizon"]):
        key = (label, int(h)) if pd.notna(h) else None
        if key in versus:
            d, p, ph, b = versus[key]
            vals.append((b, d, p, ph))
        elif key in bests:
            vals.append((label, 0.0, np.nan, np.nan))
        else:
            vals.append((None, np.nan, np.nan, np.nan))
    frame["best_model"], frame[f"{score}_diff_vs_best"], frame["dm_p_vs_best"], frame["dm_p_vs_best_holm"] = \
        (list(v) for v in zip(*vals))
    frame = _merge_reference(frame, ref, "all")
    by_label = {r.label: r for r in runs}
    for col, key in (("log_score_diff_vs_reference", "log_score_diff"), ("rps_skill_vs_reference", "rps_skill")):
        own = [_num(((by_label[lab].metrics.get("skill") or {}).get(str(int(h))) or {}).get(key))
               if pd.notna(h) else np.nan for lab, h in zip(frame["label"], frame["horizon"])]
        frame[col] = frame[col].astype(float).fillna(pd.Series(own, index=frame.index))  # records without tests
    frame["reference"] = frame["reference"].where(frame["reference"].notna(),
                                                  frame["label"].map(lambda lab: by_label[lab].reference))
    first = ["label", "model", "variant", "run_id", "status", "error", "horizon", "rank", "best", f"{score}_shared",
             "n_shared_origins", "rank_basis"]
    tests = ["best_model", f"{score}_diff_vs_best", "dm_p_vs_best", "dm_p_vs_best_holm", "reference",
             "log_score_diff_vs_reference", "rps_skill_vs_reference", "dm_p_vs_reference", "dm_p_vs_reference_holm",
             "versus_reference"]
    risk_cols = ["risk_as_of"] + sorted(
        (c for c in frame if re.fullmatch(r"(p_ge\d+|expected_total|lo90|hi90)_\d+d", c)), key=_risk_order)
    scores = [c for c in frame if c not in {*first, *tests, *risk_cols, "folder"}]
    return frame[[c for c in first + scores + tests + risk_cols + ["folder"] if c in frame]]


def _risk_order(column: str) -> tuple[int, int, int]:
    """Risk columns grouped by horizon: P(>=k) by k, then expected total, lo90, hi90."""
    m = re.fullmatch(r"p_ge(\d+)_(\d+)d", column)
    if m:
        return int(m[2]), 0, int(m[1])
    name, h = column.rsplit("_", 1)
    return int(h[:-1]), 1, ("expected_total", "lo90", "hi90").index(name)


def period_scores(runs: list[Run], score: str = "log_score", ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per ranked run, backtest period and horizon (``scores_by_period`` of metrics.json) with
    ``<score>_shared`` over the period's origins all ranked runs share, a rank by it within each period and
    horizon, and the record's skill and paired test against its reference in that period (Holm-adjusted
    across the models tested)."""
    ranked = [r for r in runs if r.ranked]
    bounds = {}
    for r in ranked:
        for name, start, end in r.named_periods:
            bounds.setdefault(name, (start, end))
    rows = [{"period": period, "horizon": int(h), **_identity(r), **s}
            for r in ranked
            for period, table in (r.metrics.get("scores_by_period") or {}).items()
            for h, s in table.items()]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    shared_col = f"{score}_shared"
    frame[shared_col], frame["n_shared_origins"] = np.nan, np.nan
    for (period, h), g in frame.groupby(["period", "horizon"]):
        members = [r for r in ranked if r.label in set(g["label"])]
        means, n = _shared_means(members, int(h), score, *bounds[period]) if period in bounds else ({}, 0)
        idx = g.index
        if n:
            frame.loc[idx, shared_col] = g["label"].map(means).to_numpy(float)
            frame.loc[idx, "n_shared_origins"] = n
        elif score in g:
            frame.loc[idx, shared_col] = g[score].to_numpy(float)
    frame = _rank(frame, ["period", "horizon"], shared_col)
    ref = reference_tests(runs) if ref is None else ref
    return _merge_reference(frame, ref, None)


def _pct(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "<0.1%"
    if p > 0.999:
        return ">99.9%"
    return f"{100 * p:.1f}%"


def _p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.2g}" if p < 0.1 else f"{p:.2f}")


def _diff(d: float) -> str:
    """A signed score difference with enough decimals to show it is not zero."""
    return "n/a" if not np.isfinite(d) else f"{d:+.3f}" if abs(d) >= 0.001 or d == 0 else f"{d:+.1e}"


def _names(labels: list[str]) -> str:
    labels = list(dict.fromkeys(labels))
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def headline_risk(runs: list[Run]) -> tuple[int, int] | None:
    """(horizon, threshold) of the headline risk number: 7 days (else the closest horizon), the lowest threshold."""
    rows = [r.risk for r in runs if r.ok and r.risk is not None]
    if not rows:
        return None
    risk = pd.concat(rows)
    horizons = sorted(set(risk["horizon_days"]))
    h = min(horizons, key=lambda x: (abs(x - HEADLINE_HORIZON), x))
    return int(h), int(risk.loc[risk["horizon_days"] == h, "threshold"].min())


def findings(runs: list[Run], board: pd.DataFrame, sig: pd.DataFrame, ref: pd.DataFrame,
             alpha: float = ALPHA) -> list[str]:
    """The answers in plain words: the best model at each horizon and whether its lead is significant, whether
    any model beats the reference significantly (and who scores lower or higher than it), the range of the
    headline risk across models, and the runs that are not ranked."""
    out = []
    ranked = board.dropna(subset=["horizon"]) if "horizon" in board else board.iloc[0:0]
    score = "log_score_shared"
    for h, g in ranked.groupby("horizon"):
        h = int(h)
        g = g.sort_values(["rank", "label"])
        best = g[g["rank"] == 1]
        n = g["n_shared_origins"].iloc[0]
        over = f"over {int(n)} shared origins" if np.isfinite(n) else "over each run's own origins"
        names = list(best["label"])
        text = (f"{h}-day totals: best is {_names(names)} (mean log score {best[score].iloc[0]:.3f} {over})"
                if len(names) == 1 else
                f"{h}-day totals: {_names(names)} tie for best (mean log score {best[score].iloc[0]:.3f} {over})")
        rest = g[g["rank"] > 1]
        if len(rest):
            second = rest.iloc[0]
            p = second.get("dm_p_vs_best_holm", np.nan)
            sig_word = "significant" if np.isfinite(p) and p < alpha else "not significant"
            worse = rest[rest["dm_p_vs_best_holm"] < alpha]["label"].tolist() if "dm_p_vs_best_holm" in rest else []
            text += (f"; next is {second['label']} ({_diff(second[score] - best[score].iloc[0])}), a gap that is "
                     f"{sig_word} (DM p = {_p(p)}, Holm-adjusted across the {len(rest)} "
                     f"model{'s' if len(rest) > 1 else ''} tested against the best)")
            if len(worse):
                text += f"; significantly worse than the best: {_names(worse)}"
        out.append(text + ".")
    reference = headline_reference(runs)
    if reference:
        sub = ref[ref["headline"] & (ref["period"] == "all") & (ref["reference"] == reference)] if len(ref) else ref
        tested = sub.dropna(subset=["mean_log_score_diff"]) if len(sub) else sub
        beats = tested[(tested["mean_log_score_diff"] < 0) & (tested["p_holm"] < alpha)] if len(tested) else tested
        if len(tested) == 0:
            out.append(f"The records hold no paired tests against {reference}.")
        elif len(beats) == 0:
            out.append(f"No model beats {reference} (the strongest simple baseline) significantly at any horizon over "
                       f"all backtest origins (Holm-adjusted DM tests, {alpha:g} level).")
        else:
            parts = [f"{b.label} at {int(b.horizon)} days ({_diff(b.mean_log_score_diff)}, p = {_p(b.p_holm)})"
                     for b in beats.sort_values(["horizon", "p_holm"]).itertuples()]
            out.append(f"Significantly better than {reference} (lower mean log score, Holm-adjusted DM p < "
                       f"{alpha:g}): " + "; ".join(parts) + ".")
        per = ref[ref["headline"] & (ref["reference"] == reference) & (ref["period"] != "all")] if len(ref) else ref
        if len(per) and per["period"].nunique() > 1:
            wins = per[(per["mean_log_score_diff"] < 0) & (per["p_holm"] < alpha)]
            if len(wins):
                out.append(f"By backtest period, significantly better than {reference}: " + "; ".join(
                    f"{w.label} in {w.period} at {int(w.horizon)}-day totals ({_diff(w.mean_log_score_diff)}, "
                    f"p = {_p(w.p_holm)})" for w in wins.itertuples()) + ".")
            else:
                out.append(f"In no backtest period does any model beat {reference} significantly.")
        for h, g in tested.groupby("horizon") if len(tested) else ():
            g = g[g["model"] != reference] if (g["mean_log_score_diff"] == 0).any() else g
            lower_ns = g[(g["mean_log_score_diff"] < 0) & ~(g["p_holm"] < alpha)]["label"].tolist()
            higher = g[g["mean_log_score_diff"] > 0]
            higher_sig = higher[higher["p_holm"] < alpha]["label"].tolist()
            bits = []
            if lower_ns:
                bits.append(f"lower mean log score than {reference}, but not significantly: {_names(lower_ns)}")
            if len(higher):
                bits.append(f"higher (worse) mean log score than {reference}: {_names(higher['label'].tolist())}"
                            + (f", significantly for {_names(higher_sig)}" if higher_sig else ", none significantly"))
            if bits:
                out.append(f"{int(h)}-day totals against {reference}: " + "; ".join(bits) + ".")
    head = headline_risk(runs)
    if head:
        h, k = head
        probs = []
        for r in runs:
            if r.ok and r.risk is not None:
                row = r.risk[(r.risk["horizon_days"] == h) & (r.risk["threshold"] == k)]
                if len(row):
                    probs.append((r.label, float(row["probability"].iloc[0])))
        if probs:
            values = np.array([p for _, p in probs])
            lo, hi = values.min(), values.max()
            low = [lab for lab, p in probs if p == lo]
            high = [lab for lab, p in probs if p == hi]
            origins = sorted({str(r.metrics.get("origin")) for r in runs if r.ok and r.metrics.get("origin")})
            when = f"after {origins[0]}" if len(origins) == 1 else f"after each run's last day ({', '.join(origins)})"
            attack = "attack" if k == 1 else "attacks"
            noun = "run" if len({r.model for r in runs if r.ok}) < len(probs) else "model"
            text = (f"P(≥{k} {attack} in the {h} days {when}) ranges from {_pct(lo)} ({_names(low)}) to "
                    f"{_pct(hi)} ({_names(high)}) across {len(probs)} {noun}{'s' if len(probs) > 1 else ''}"
                    f" (median {_pct(float(np.median(values)))})")
            best_h = ranked[ranked["best"]] if "best" in ranked else ranked.iloc[0:0]
            if len(best_h):
                scored = sorted(set(best_h["horizon"].astype(int)))
                hb = min(scored, key=lambda x: (abs(x - h), -x))
                best_labels = best_h[best_h["horizon"] == hb]["label"].tolist()
                said = [f"{lab} says {_pct(p)}" for lab, p in probs if lab in best_labels]
                if said:
                    text += f"; the best model at {hb}-day totals: " + ", ".join(said)
            out.append(text + ".")
    not_ranked = [r for r in runs if not r.ranked]
    if not_ranked:
        out.append("Not ranked: " + "; ".join(
            f"{r.label} ({r.metrics.get('status')}" + (f": {r.metrics.get('error')}" if r.metrics.get("error") else
                                                         "" if not r.ok else ", no backtest") + ")"
            for r in not_ranked) + ".")
    return out


def report_name(dirs: list[str | Path], runs: list[Run]) -> str:
    """``compare_<what was given>_<n>-models`` (or ``<n>-runs-of-<m>-models`` when models repeat), with only
    letters, digits and ``._=+-`` (filesystem- and shell-safe)."""
    names = [Path(d).resolve().name or "root" for d in dirs]
    what = names[0] if len(names) == 1 else "+".join(names)
    if len(what) > 80:
        what = f"{names[0][:60]}+{len(names) - 1}-more"
    what = re.sub(r"[^A-Za-z0-9._=+-]+", "-", what).strip("-.") or "runs"
    models = len({r.model for r in runs})
    count = (f"{models}-model{'s' if models > 1 else ''}" if models == len(runs)
             else f"{len(runs)}-runs-of-{models}-model{'s' if models > 1 else ''}")
    return f"compare_{what}_{count}"


def _write(path: Path, frame: pd.DataFrame) -> Path:
    return write_csv(path, escape_formulas(frame))


def compare(dirs: list[str | Path], *, reports_dir: str | Path | None = None, out_dir: str | Path | None = None,
            report: bool = True, allow_mixed: bool = False) -> Comparison:
    """Read the run records under ``dirs`` and write ``leaderboard.csv``, ``leaderboard_by_period.csv``,
    ``significance.csv`` (against the best), ``versus_reference.csv``, ``risk.csv`` (every run's current
    risk), ``summary.txt`` (the findings) and, unless ``report=False``, ``reports/<report_name>.pdf``.

    Raises
    ------
    ForecastInputError
        No readable run, or runs on different data, periods or horizons and not ``allow_mixed``; with it,
        ``comparable`` columns flag the runs that differ and ``Comparison.warning`` says how.
    """
    runs = load_runs(find_runs(dirs))
    comparable, warning = check_comparable(runs, allow_mixed)
    compare_id = f"{dt.datetime.now().strftime('%Y-%m-%d_%H-%M-%S_%f')}_{os.getpid()}"
    root = Path(project_root())
    out = Path(out_dir) if out_dir else root / "experiments" / "comparisons" / compare_id
    sig, ref = paired_tests(runs), reference_tests(runs)
    board, by_period = leaderboard(runs, sig=sig, ref=ref), period_scores(runs, ref=ref)
    for frame in (board, by_period):
        if not frame.empty:
            frame["comparable"] = frame["label"].map(comparable)
    risk = risk_table(runs)
    lines = findings(runs, board, sig, ref)
    name = report_name(dirs, runs)
    board_path = _write(out / "leaderboard.csv", board)
    _write(out / "leaderboard_by_period.csv", by_period)
    _write(out / "significance.csv", sig)
    _write(out / "versus_reference.csv", ref)
    _write(out / "risk.csv", risk)
    atomic_write_text(out / "summary.txt", "\n".join(
        ([f"WARNING: {warning}", ""] if warning else []) + lines + ["", f"Definition: {BEST_RULE}.",
                                                                    f"Tests: {TEST_RULE}."]) + "\n")
    result = Comparison(runs, board, sig, by_period, board_path, None, compare_id, warning, ref, risk, lines, name)
    if report:
        from forecast.report.compare_report import write_compare_report

        result.report_path = write_compare_report(result, Path(reports_dir or root / "reports") / f"{name}.pdf")
    return result
