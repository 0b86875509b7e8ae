"""The command line: last two lines, exit codes, one-line errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow


def test_forecast_prints_record_folder_and_pdf(out_dirs):
    proc = run_cli(["model=hawkes", "backtest=quick", *out_dirs["overrides"]])
    assert proc.returncode == 0, proc.stderr
    folder, pdf = proc.stdout.strip().splitlines()[-2:]
    assert Path(folder, "metrics.json").exists() and Path(folder).parent.parent == out_dirs["experiments"]
    assert Path(pdf).exists() and Path(pdf).parent == out_dirs["reports"] and pdf.endswith(".pdf")


def test_task_data_prints_summary(out_dirs):
    proc = run_cli(["task=data", *out_dirs["overrides"]])
    assert proc.returncode == 0, proc.stderr
    assert "Lulls" in proc.stdout and "2024-02-05" in proc.stdout and "Coverage" in proc.stdout


@pytest.mark.parametrize("args,needle", [
    (["risk.thresholds=[5,3]"], "risk.thresholds"),
    (["backtest.horizons=[0,7]"], "backtest.horizons"),
    (["origin=2030-01-01"], "origin"),
    (["data.start=2024-01-01"], "outside the observation window"),
    (["data.events=/no/such/file.csv"], "/no/such/file.csv"),
])
def test_bad_input_exits_2_with_one_line(out_dirs, args, needle):
    proc = run_cli([*args, "backtest=none", "report=none", *out_dirs["overrides"]])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr
