"""Compare run records: a leaderboard CSV and a comparison PDF, read only from run-record files.

Runs are ranked together only when they share data (``data_sha256``), backtest periods (and origins) and
horizons, unless ``allow_mixed``. Records that cannot be read are skipped with a warning naming the file;
runs that did not end ``ok`` (``failed``, ``interrupted``, ``running``) are listed but not ranked.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from forecast.config import project_root
from forecast.errors import ForecastInputError
from forecast.evaluate.scores import diebold_mariano
from forecast.records import escape_formulas, write_csv

log = logging.getLogger(__name__)
REQUIRED_KEYS = ("status", "run_id", "model")  # plus data_sha256 when status is ok
BACKTEST_NUMERIC = ("horizon", "observed_total", "log_score", "rps")
FORECAST_NUMERIC = ("mean", "q05", "q25", "q75", "q95")


class UnreadableRecord(ValueError):
    """A run-record file that cannot be used; the run is skipped."""


@dataclass
class Run:
    """One run record as read from its folder (``periods``: backtest (start, end) pairs of its config)."""

    folder: Path
    metrics: dict
    label: str
    backtest: pd.DataFrame | None
    forecast: pd.DataFrame | None
    periods: tuple[tuple[str, str], ...] | None = None

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


@dataclass
class Comparison:
    """What :func:`compare` wrote; ``warning`` says why the ranking mixes data or periods (None if it does not)."""

    runs: list[Run]
    leaderboard: pd.DataFrame
    significance: pd.DataFrame
    by_period: pd.DataFrame
    leaderboard_path: Path
    report_path: Path | None
    compare_id: str
    warning: str | None = None


def find_runs(dirs: list[str | Path]) -> list[Path]:
    """Run folders (holding ``metrics.json``) in or below the given folders, in a stable order."""
    found = []
    for d in dirs:
        d = Path(d)
        if not d.exists():
            raise ForecastInputError("no such folder", path=d, hint="give run or sweep folders under experiments/")
        found += sorted({p.parent for p in d.rglob("metrics.json")})
    if not found:
        raise ForecastInputError("no run records (metrics.json) found", path=", ".join(map(str, dirs)),
                                 hint="give run or sweep folders under experiments/")
    return list(dict.fromkeys(found))


def _label(folder: Path, metrics: dict) -> str:
    """The model name plus the sweep overrides that are not the model choice."""
    try:
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        overrides = None
    extra = [o for o in overrides if isinstance(o, str) and not o.startswith(
        ("model=", "paths.", "hydra", "report", "backtest="))] if isinstance(overrides, list) else []
    name = str(metrics.get("model", folder.name))
    return name + (f" [{', '.join(extra)}]" if extra else "")


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


def read_table(path: Path, date: str, numeric: tuple[str, ...], numeric_prefix: str | None = None) \
        -> pd.DataFrame | None:
    """A record CSV with its ``date`` column parsed and its ``numeric`` columns (and those named
    ``numeric_prefix...``) checked; None when the file is absent.

    Raises
    ------
    UnreadableRecord
        Empty, not UTF-8 CSV, no rows, a column missing, a bad date or a non-numeric value.
    """
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
    missing = [c for c in (date, *numeric) if c not in frame]
    if missing:
        raise UnreadableRecord(f"missing column(s) {', '.join(missing)}")
    bad = [c for c in frame if (c in numeric or numeric_prefix and str(c).startswith(numeric_prefix))
           and not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise UnreadableRecord(f"non-numeric values in column(s) {', '.join(map(str, bad))}")
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


def _read_periods(path: Path) -> tuple[tuple[str, str], ...] | None:
    """The (start, end) pairs of ``backtest.periods`` in ``config_resolved.yaml`` (None if not known)."""
    if not path.exists():
        return None
    try:
        periods = (yaml.safe_load(path.read_text(encoding="utf-8")).get("backtest") or {}).get("periods")
        return None if periods is None else tuple(sorted((str(p["start"]), str(p["end"])) for p in periods))
    except (OSError, ValueError, yaml.YAMLError, AttributeError, TypeError, KeyError) as e:
        log.warning("%s: cannot read backtest.periods (%s: %s); comparing backtest origins instead", path,
                    type(e).__name__, e)
        return None


def load_runs(folders: list[Path]) -> list[Run]:
    """The forecasting runs in ``folders``; a run whose metrics.json or backtest.csv cannot be read is skipped
    with a warning (an unreadable forecast.csv is only dropped).

    Raises
    ------
    ForecastInputError
        When no readable forecasting run remains.
    """
    runs, labels = [], {}
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
        label = _label(f, metrics)
        labels[label] = labels.get(label, 0) + 1
        if labels[label] > 1:
            label = f"{label} #{labels[label]}"
        runs.append(Run(f, metrics, label, backtest, forecast, _read_periods(f / "config_resolved.yaml")))
    if not runs:
        raise ForecastInputError("no readable forecasting run record (unreadable ones are skipped, see the warnings)",
                                 path=", ".join(map(str, folders)))
    return runs


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
        warning = (f"Runs on different data or periods are ranked together (--allow-mixed); compared with "
                   f"{ref.label}: " + "; ".join(f"{r.label} differs in {', '.join(diffs[r.label])}" for r in mixed))
        log.warning("%s", warning)
    return {label: not d for label, d in diffs.items()}, warning


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
    return {"label": run.label, "model": m.get("model"), "run_id": m.get("run_id"), "status": m.get("status"),
            "error": m.get("error")}


def leaderboard(runs: list[Run], score: str = "log_score") -> pd.DataFrame:
    """One row per run and horizon with the mean scores, skill vs climatology and a rank by ``score``
    (lower is better) within each horizon; runs that are not ranked get one row without horizon."""
    rows = []
    for r in runs:
        if not r.ranked:
            rows.append({**_identity(r), "horizon": np.nan})
            continue
        for h, s in r.metrics["scores"].items():
            sk = (r.metrics.get("skill") or {}).get(h, {})
            rows.append({**_identity(r), "horizon": int(h), **s, "rps_skill": sk.get("rps_skill"),
                         "log_score_diff_vs_climatology": sk.get("log_score_diff")})
    return _rank(pd.DataFrame(rows), ["horizon"], score)


def period_scores(runs: list[Run], score: str = "log_score") -> pd.DataFrame:
    """One row per ranked run, backtest period and horizon (``scores_by_period`` of metrics.json) with a rank
    by ``score`` within each period and horizon."""
    rows = [{"period": period, "horizon": int(h), **_identity(r), **s}
            for r in runs if r.ranked
            for period, table in (r.metrics.get("scores_by_period") or {}).items()
            for h, s in table.items()]
    return _rank(pd.DataFrame(rows), ["period", "horizon"], score)


def paired_tests(runs: list[Run], score: str = "log_score") -> pd.DataFrame:
    """Diebold-Mariano tests of each ranked run against the best (lowest mean ``score``) per horizon, on
    the origins all their backtests share."""
    ok = [r for r in runs if r.ranked and r.backtest is not None]
    rows = []
    if len(ok) < 2:
        return pd.DataFrame(rows)
    for h in sorted(set.intersection(*[set(r.backtest["horizon"]) for r in ok])):
        frames = {r.label: r.backtest[r.backtest["horizon"] == h].set_index("origin")[score] for r in ok}
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
            rows.append({"horizon": h, "model": label, "best": best, f"mean_{score}_diff": float(np.mean(diff)),
                         "dm_stat": stat, "p_value": p, "n_origins": len(common)})
    return pd.DataFrame(rows)


def _write(path: Path, frame: pd.DataFrame) -> Path:
    return write_csv(path, escape_formulas(frame))


def compare(dirs: list[str | Path], *, reports_dir: str | Path | None = None, out_dir: str | Path | None = None,
            report: bool = True, allow_mixed: bool = False) -> Comparison:
    """Read the run records under ``dirs`` and write ``leaderboard.csv``, ``leaderboard_by_period.csv``,
    ``significance.csv`` and (unless ``report=False``) ``reports/compare_<id>.pdf``.

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
    board, by_period = leaderboard(runs), period_scores(runs)
    for frame in (board, by_period):
        if not frame.empty:
            frame["comparable"] = frame["label"].map(comparable)
    sig = paired_tests(runs)
    board_path = _write(out / "leaderboard.csv", board)
    _write(out / "leaderboard_by_period.csv", by_period)
    _write(out / "significance.csv", sig)
    report_path = None
    if report:
        from forecast.report.compare_report import write_compare_report

        report_path = write_compare_report(runs, board, sig, compare_id,
                                           Path(reports_dir or root / "reports") / f"compare_{compare_id}.pdf")
    return Comparison(runs, board, sig, by_period, board_path, report_path, compare_id, warning)
