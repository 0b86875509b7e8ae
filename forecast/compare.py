"""Compare run records: a leaderboard CSV and a comparison PDF, read only from run-record files."""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from forecast.config import project_root
from forecast.errors import ForecastInputError
from forecast.evaluate.scores import diebold_mariano
from forecast.records import write_csv


@dataclass
class Run:
    """One run record as read from its folder."""

    folder: Path
    metrics: dict
    label: str
    backtest: pd.DataFrame | None
    forecast: pd.DataFrame | None

    @property
    def ok(self) -> bool:
        return self.metrics.get("status") == "ok"


@dataclass
class Comparison:
    runs: list[Run]
    leaderboard: pd.DataFrame
    significance: pd.DataFrame
    leaderboard_path: Path
    report_path: Path | None
    compare_id: str


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
    overrides_file = folder / ".hydra" / "overrides.yaml"
    extra = []
    if overrides_file.exists():
        overrides = yaml.safe_load(overrides_file.read_text()) or []
        extra = [o for o in overrides if not o.startswith(("model=", "paths.", "hydra", "report", "backtest="))]
    name = str(metrics.get("model", folder.name))
    return name + (f" [{', '.join(extra)}]" if extra else "")


def _read_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def load_runs(folders: list[Path]) -> list[Run]:
    runs, labels = [], {}
    for f in folders:
        try:
            metrics = json.loads((f / "metrics.json").read_text())
        except json.JSONDecodeError as e:
            raise ForecastInputError(f"unreadable metrics.json ({e.msg})", path=f / "metrics.json", line=e.lineno)
        if metrics.get("task", "run") != "run":
            continue
        label = _label(f, metrics)
        labels[label] = labels.get(label, 0) + 1
        if labels[label] > 1:
            label = f"{label} #{labels[label]}"
        runs.append(Run(f, metrics, label, _read_csv(f / "backtest.csv"), _read_csv(f / "forecast.csv")))
    if not runs:
        raise ForecastInputError("no forecasting runs among the run records", path=", ".join(map(str, folders)))
    return runs


def leaderboard(runs: list[Run], score: str = "rps") -> pd.DataFrame:
    """One row per run and horizon with the mean scores, skill vs climatology and a rank by ``score``
    within each horizon (failed runs are listed, unranked)."""
    rows = []
    for r in runs:
        m = r.metrics
        base = {"label": r.label, "model": m.get("model"), "run_id": m.get("run_id"), "status": m.get("status"),
                "error": m.get("error")}
        scores = m.get("scores") or {}
        if not r.ok or not scores:
            rows.append({**base, "horizon": np.nan})
            continue
        for h, s in scores.items():
            sk = (m.get("skill") or {}).get(h, {})
            rows.append({**base, "horizon": int(h), **{k: v for k, v in s.items()},
                         "rps_skill": sk.get("rps_skill"), "log_score_diff_vs_climatology": sk.get("log_score_diff")})
    board = pd.DataFrame(rows)
    if score in board:
        board["rank"] = board.groupby("horizon")[score].rank(method="min").astype("Int64")
    return board.sort_values(["horizon", "rank" if "rank" in board else "label", "label"], na_position="last") \
        .reset_index(drop=True)


def paired_tests(runs: list[Run], score: str = "log_score") -> pd.DataFrame:
    """Diebold-Mariano tests of each model against the best (lowest mean ``score``) per horizon, on
    the origins both backtests share."""
    ok = [r for r in runs if r.ok and r.backtest is not None]
    rows = []
    if len(ok) < 2:
        return pd.DataFrame(rows)
    horizons = sorted(set.intersection(*[set(r.backtest["horizon"]) for r in ok]))
    for h in horizons:
        frames = {r.label: r.backtest[r.backtest["horizon"] == h].set_index("origin")[score] for r in ok}
        best = min(frames, key=lambda k: frames[k].mean())
        for label, s in frames.items():
            if label == best:
                continue
            common = s.index.intersection(frames[best].index)
            diff = (s.loc[common] - frames[best].loc[common]).to_numpy()
            stat, p = diebold_mariano(diff, h)
            rows.append({"horizon": h, "model": label, "best": best, f"mean_{score}_diff": float(np.mean(diff)),
                         "dm_stat": stat, "p_value": p, "n_origins": len(common)})
    return pd.DataFrame(rows)


def compare(dirs: list[str | Path], *, reports_dir: str | Path | None = None, out_dir: str | Path | None = None,
            report: bool = True) -> Comparison:
    """Read the run records under ``dirs`` and write ``leaderboard.csv``, ``significance.csv`` and
    (unless ``report=False``) ``reports/compare_<id>.pdf``."""
    runs = load_runs(find_runs(dirs))
    compare_id = f"{dt.datetime.now().strftime('%Y-%m-%d_%H-%M-%S_%f')}_{os.getpid()}"
    root = Path(project_root())
    out = Path(out_dir) if out_dir else root / "experiments" / "comparisons" / compare_id
    board = leaderboard(runs)
    sig = paired_tests(runs)
    board_path = write_csv(out / "leaderboard.csv", board)
    write_csv(out / "significance.csv", sig)
    report_path = None
    if report:
        from forecast.report.compare_report import write_compare_report

        report_path = write_compare_report(runs, board, sig, compare_id,
                                           Path(reports_dir or root / "reports") / f"compare_{compare_id}.pdf")
    return Comparison(runs, board, sig, board_path, report_path, compare_id)
