"""Command line on bad data and bad config: exit status 2, one line on stderr, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forecast.config import model_names
from forecast.data.events import PROJECT_COLUMNS

pytestmark = pytest.mark.slow  # subprocesses


def run_forecast(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, "-m", "forecast", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def bad_events_run(tmp_path_factory, repo_root):
    """``forecast data.events=<bad file> task=data`` once for the module (a subprocess is slow)."""
    tmp = tmp_path_factory.mktemp("cli_bad_events")
    rows = [",".join(PROJECT_COLUMNS),
            "E1,2024-01-01,Iraq,Ain al-Asad,drone,,,,us_official,https://example.org/a,\"two\nlines\"",
            "E2,2024-01-02,Iraq,Erbil,rocket,,,,us_official,https://example.org/b,",
            "E3,2024-02-30,Syria,al-Tanf,drone,,,,us_official,https://example.org/c,"]
    bad = tmp / "bad events.csv"  # a space in the path, too
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    proc = run_forecast(f"data.events={bad}", "task=data", f"paths.experiments_dir={tmp / 'exp'}",
                        f"paths.reports_dir={tmp / 'rep'}", cwd=tmp)
    return bad, proc


def test_cli_bad_event_file_exits_2_naming_file_line_and_column(bad_events_run):
    bad, proc = bad_events_run
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # exactly one line, nothing from Hydra
    last = lines[0]
    assert last.startswith("forecast: error: ")
    assert f"{bad}:5:" in last  # E1's notes span lines 2-3, so E3 is on physical line 5
    assert "column 'date'" in last and "2024-02-30" in last


@pytest.mark.parametrize("override,needles", [
    ("data.evnts=x", ["data.evnts"]),
    ("model=nope", ["nope", *model_names()]),
])
def test_cli_config_error_is_one_line_before_any_run_folder(tmp_path, override, needles):
    proc = run_forecast(override, "task=data", f"paths.experiments_dir={tmp_path / 'exp'}",
                        f"paths.reports_dir={tmp_path / 'rep'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert all(n in lines[0] for n in needles) and "Traceback" not in proc.stderr
    assert not (tmp_path / "exp").exists()  # fails at composition, before any run folder
