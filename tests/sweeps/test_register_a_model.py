"""Adding a model touches two files: its estimator and configs/model/NAME.yaml. A toy model added that way
(in a copy of the project, FORECAST_ROOT pointing at it) appears in the registry the tests use, in
``--help``, in the palette, in ``forecast -m model='glob(*)'`` and in the leaderboard."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pandas as pd
import pytest

from tests.integration.conftest import run_cli

TOY = '''
import numpy as np

from forecast.distributions import poisson_pmfs
from forecast.models.base import FitSummary, Forecaster, IndependentCountForecast, Param


class ToyMean(Forecaster):
    """Poisson with the mean of the last ``days`` days: y ~ Poisson(mean(y_{T-days+1..T}) + 0.01)."""

    param_rules = {"days": Param(1, 1000, integer=True)}

    def __init__(self, days: int = 10):
        self.days = days

    def _fit(self, counts, triggers):
        self.rate_ = float(counts.to_numpy()[-self.days:].mean()) + 0.01

    def _forecast(self, index, future_triggers, n_paths):
        return IndependentCountForecast(index, poisson_pmfs(np.full(len(index), self.rate_)))

    def _summary(self):
        return FitSummary("toy", {"rate": self.rate_}, {"rate": float("nan")}, 0.0, len(self.counts_))
'''


@pytest.fixture()
def project_with_a_toy(tmp_path, repo_root, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(repo_root / "configs", root / "configs")
    (root / "data").symlink_to(repo_root / "data")
    (tmp_path / "toy_model.py").write_text(TOY)  # file 1: the estimator
    (root / "configs/model/toy.yaml").write_text(  # file 2: its option
        "# A toy model: Poisson with the mean of the last days.\n_target_: toy_model.ToyMean\n")
    monkeypatch.setenv("FORECAST_ROOT", str(root))
    monkeypatch.syspath_prepend(str(tmp_path))
    return root, tmp_path


def test_a_toy_model_is_discovered_everywhere_in_process(project_with_a_toy):
    from forecast.config import build_model, help_text, model_names
    from forecast.report.figures import model_color
    from tests.conftest import registered_models

    assert "toy" in model_names()
    assert "toy" in [name for name, _, _ in registered_models()]  # contract and degenerate tests use this
    assert any(line.strip().startswith("toy ") for line in help_text().splitlines())
    assert build_model("toy", days=3).days == 3
    assert model_color("toy").startswith("#")


@pytest.mark.slow
def test_a_toy_model_runs_in_an_all_models_sweep_and_reaches_the_leaderboard(project_with_a_toy):
    root, tmp = project_with_a_toy
    env = {"FORECAST_ROOT": str(root), "PYTHONPATH": os.pathsep.join([str(tmp), *sys.path])}
    proc = run_cli(["-m", "model=glob(*)", "backtest=quick", "backtest.n_paths=100", "n_paths=100", "report=none",
                    f"paths.experiments_dir={tmp}/e", f"paths.reports_dir={tmp}/r"], env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    sweep = next((tmp / "e" / "multiruns").iterdir())
    records = {json.loads(p.read_text())["model"]: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert records["toy"]["status"] == "ok"
    assert {"toy", "nb_window", "hawkes"} <= set(records)
    out = run_cli([str(sweep), "--no-report", "--out-dir", str(tmp / "cmp")], command="compare", env=env)
    assert out.returncode == 0, out.stderr
    board = pd.read_csv(out.stdout.strip().splitlines()[-2])
    assert "toy" in set(board["model"])
