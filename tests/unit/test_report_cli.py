"""forecast-report RUN_DIR: re-renders a run's PDF from its record folder alone."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "record_small"


pytestmark = pytest.mark.slow  # subprocesses

def forecast_report(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``forecast-report ARGS`` in a fresh process (the console script is ``forecast.cli:report_main``)."""
    return subprocess.run([sys.executable, "-c", "from forecast.cli import report_main; report_main()", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})})


def test_re_renders_byte_identically_under_source_date_epoch(tmp_path: Path):
    env = {"SOURCE_DATE_EPOCH": "1767225600"}
    first = forecast_report(str(FIXTURE), "--out", str(tmp_path / "a.pdf"), env=env)
    second = forecast_report(str(FIXTURE), "--out", str(tmp_path / "b.pdf"), env=env)
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == str(tmp_path / "a.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")


def test_default_output_is_next_to_the_record_when_its_reports_folder_is_gone(tmp_path: Path):
    folder = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    done = forecast_report(str(folder))
    assert done.returncode == 0, done.stderr
    pdf = folder / "fixture_small_hawkes.pdf"
    assert done.stdout.strip() == str(pdf) and pdf.exists()


@pytest.mark.parametrize("make", ["empty", "missing", "data_only"])
def test_a_folder_that_is_not_a_readable_record_exits_2_with_one_line(tmp_path: Path, make: str):
    folder = tmp_path / "x"
    if make == "empty":
        folder.mkdir()
    if make == "data_only":  # a task=data record: metrics but no forecast
        folder.mkdir()
        shutil.copy(FIXTURE / "metrics.json", folder / "metrics.json")
        shutil.copy(FIXTURE / "counts.csv", folder / "counts.csv")
    done = forecast_report(str(folder), "--out", str(tmp_path / "x.pdf"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forecast-report: error:") and "Traceback" not in done.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_a_malformed_csv_is_a_one_line_error(tmp_path: Path):
    folder = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    (folder / "risk.csv").write_text("horizon_days,threshold\n1,\n\"unclosed\n")
    done = forecast_report(str(folder), "--out", str(tmp_path / "x.pdf"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
