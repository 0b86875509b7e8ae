"""Shared, generic pytest fixtures (add fixtures here; do not remove ones other tests use)."""
from __future__ import annotations

import os

# one BLAS/OpenMP thread, as the pipeline runs (blas_threads=1): set before numpy is imported
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (holds ``data/``, ``configs/``, ``tests/``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_dir(repo_root: Path) -> Path:
    """The shipped data folder: ``events.csv``, ``triggers.csv``, ``official_counts.csv``."""
    return repo_root / "data"


@pytest.fixture(scope="session")
def fixtures_dir(repo_root: Path) -> Path:
    """Small fixture files written for the tests (``tests/fixtures``)."""
    return repo_root / "tests" / "fixtures"


@pytest.fixture()
def out_dirs(tmp_path: Path) -> dict[str, Path]:
    """Temporary ``experiments`` and ``reports`` folders, and the matching command-line overrides."""
    exp, rep = tmp_path / "experiments", tmp_path / "reports"
    return {"experiments": exp, "reports": rep,
            "overrides": [f"paths.experiments_dir={exp}", f"paths.reports_dir={rep}"]}


def registered_models(n_paths: int = 500) -> list[tuple[str, type, dict]]:
    """(option name, estimator class, small-run kwargs) for every option of ``configs/model/``: the
    tests that mean "every model" discover them here, so a new model is tested by adding its files."""
    from hydra.utils import get_class

    from forecast.config import model_names, model_target

    out = []
    for name in model_names():
        cls = get_class(model_target(name))
        kwargs = {"n_paths": n_paths} if "n_paths" in cls().get_params() else {}
        out.append((name, cls, kwargs))
    return out


# ---- model / score / backtest / risk fixtures: small seeded synthetic series + the real event set ----
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SYNTH_START = "2024-01-01"


def _synthetic_hawkes_counts(n_days: int = 200, seed: int = 12345, baseline: float = 0.3,
                             adjacency: float = 0.5, decay: float = 0.7, start: str = SYNTH_START) -> pd.Series:
    """A seeded discrete-Hawkes count series simulated from an empty history."""
    from forecast.models.hawkes import simulate

    rng = np.random.default_rng(seed)
    y = simulate(np.array([np.log(baseline), adjacency, decay]), np.ones((n_days, 1)), 0.0, 0.0, 1, rng)[0]
    index = pd.date_range(start, periods=n_days, freq="D", name="date")
    return pd.Series(y.astype(np.int64), index=index, name="count")


@pytest.fixture()
def make_hawkes_counts():
    """Factory: ``make_hawkes_counts(n_days, seed, baseline, adjacency, decay, start)`` -> daily Series."""
    return _synthetic_hawkes_counts


@pytest.fixture()
def synthetic_counts() -> pd.Series:
    """200 days (from 2024-01-01) of a seeded discrete Hawkes series: baseline 0.3, adjacency 0.5, decay 0.7."""
    return _synthetic_hawkes_counts()


@pytest.fixture()
def synthetic_triggers() -> pd.DataFrame:
    """Triggers (date, kind, name) of every kind at least twice inside the synthetic window, plus one
    dated after it (the models must ignore it)."""
    t0 = pd.Timestamp(SYNTH_START)
    rows = [(10, "us_strike"), (45, "regional"), (60, "us_strike"), (80, "diplomatic"), (95, "militia_statement"),
            (120, "regional"), (140, "us_strike"), (150, "militia_statement"), (170, "diplomatic"),
            (230, "us_strike")]
    return pd.DataFrame({"date": [t0 + pd.Timedelta(days=d) for d, _ in rows], "kind": [k for _, k in rows],
                         "name": [f"trigger {i}" for i in range(len(rows))]})


def real_series(end: str | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """The default series of the shipped data (``configs/data/default.yaml``: its window and filters) up to
    ``end`` (default: the date the data are checked through), and the trigger calendar."""
    import yaml

    import forecast
    from forecast.config import DataConfig
    from forecast.data import filter_events

    window = yaml.safe_load((REPO_ROOT / "configs/data/default.yaml").read_text(encoding="utf-8"))
    d = DataConfig()
    events = filter_events(forecast.load_events(str(REPO_ROOT / "data/events.csv")), attacker=d.attacker,
                           target_type=d.target_type, duplicates=d.duplicates)
    counts = forecast.daily_counts(events, window["start"], window["end"])
    return counts.loc[:end], forecast.load_triggers(str(REPO_ROOT / "data/triggers.csv"))


@pytest.fixture(scope="session")
def _real_counts_triggers() -> tuple[pd.Series, pd.DataFrame]:
    return real_series()


@pytest.fixture()
def real_counts(_real_counts_triggers) -> pd.Series:
    """The default series of data/events.csv over the shipped window (a fresh copy per test)."""
    return _real_counts_triggers[0].copy()


@pytest.fixture()
def real_triggers(_real_counts_triggers) -> pd.DataFrame:
    """data/triggers.csv (a fresh copy per test)."""
    return _real_counts_triggers[1].copy()


@pytest.fixture()
def single_blas_thread():
    """One BLAS thread, as the pipeline runs models (``blas_threads=1``): tiny optimiser steps are
    10-20x slower with OpenBLAS threads on a busy machine. Use with
    ``pytestmark = pytest.mark.usefixtures("single_blas_thread")``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
