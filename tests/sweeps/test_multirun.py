"""A real small multirun in a subprocess, serial and parallel, then forecast-compare."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow
SWEEP = ["-m", "model=climatology,hawkes,negbin", "backtest=quick", "report=none", "n_paths=300"]


def _jobs(experiments: Path) -> dict[str, Path]:
    sweep = next((experiments / "multiruns").iterdir())
    return {json.loads((d / "metrics.json").read_text())["model"]: d for d in sweep.iterdir() if d.is_dir()}


def test_serial_and_parallel_sweeps_agree_and_compare(tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    a = run_cli([*SWEEP, f"paths.experiments_dir={serial}", f"paths.reports_dir={tmp_path}/r"])
    assert a.returncode == 0, a.stderr
    b = run_cli([*SWEEP, "hydra/launcher=forecast_parallel", "hydra.launcher.n_jobs=2",
                 f"paths.experiments_dir={parallel}", f"paths.reports_dir={tmp_path}/r"])
    assert b.returncode == 0, b.stderr
    ja, jb = _jobs(serial), _jobs(parallel)
    assert set(ja) == set(jb) == {"climatology", "hawkes", "negbin"}
    for model in ja:
        for f in ("forecast.csv", "backtest.csv", "risk.csv"):
            assert (ja[model] / f).read_bytes() == (jb[model] / f).read_bytes(), (model, f)
    c = run_cli([str(next((serial / "multiruns").iterdir())), "--reports-dir", str(tmp_path / "r"), "--out-dir",
                 str(tmp_path / "cmp")], command="compare")
    assert c.returncode == 0, c.stderr
    board_path, pdf_path = c.stdout.strip().splitlines()[-2:]
    board = pd.read_csv(board_path)
    assert set(board["model"]) == {"climatology", "hawkes", "negbin"}
    assert set(board["horizon"]) == {1, 7}
    assert (board.groupby("horizon")["rank"].min() == 1).all()
    text = "".join(p.extract_text() for p in PdfReader(pdf_path).pages)
    assert "Leaderboard" in text and "Paired significance" in text


def test_failed_job_is_recorded_and_the_sweep_finishes(tmp_path):
    events = tmp_path / "late.csv"
    events.write_text("date,count\n2024-01-25,2\n")
    proc = run_cli(["-m", "model=hawkes,climatology", "data=generic", f"data.events={events}",
                    "data.start=2024-01-01", "data.end=2024-01-31", "origin=2024-01-20", "backtest=none",
                    "report=none", f"paths.experiments_dir={tmp_path}/e", f"paths.reports_dir={tmp_path}/r"])
    assert proc.returncode == 0, proc.stderr
    jobs = _jobs(tmp_path / "e")
    hawkes = json.loads((jobs["hawkes"] / "metrics.json").read_text())
    clim = json.loads((jobs["climatology"] / "metrics.json").read_text())
    assert hawkes["status"] == "failed" and "no attacks" in hawkes["error"]
    assert clim["status"] == "ok"
    c = run_cli([str(tmp_path / "e"), "--no-report", "--out-dir", str(tmp_path / "cmp")], command="compare")
    assert c.returncode == 0, c.stderr
    board = pd.read_csv(c.stdout.strip().splitlines()[-2])
    assert board.set_index("model").loc["hawkes", "status"] == "failed"
