"""Faults: killed runs, concurrent runs, determinism across processes."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", "from forecast.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.mark.parametrize("delay", [1.0, 3.0, 5.0])
def test_sigkill_leaves_earlier_runs_untouched_and_nothing_half_written(tmp_path, delay):
    exp, rep = tmp_path / "e", tmp_path / "r"
    overrides = [f"paths.experiments_dir={exp}", f"paths.reports_dir={rep}"]
    done = run_cli(["model=hawkes", "backtest=quick", *overrides])
    assert done.returncode == 0, done.stderr
    before_exp, before_rep = _tree_digest(exp), _tree_digest(rep)
    proc = _start(overrides)  # the default run: load, fit, backtest, PDF
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after_exp = _tree_digest(exp)
    assert {k: v for k, v in after_exp.items() if k in before_exp} == before_exp
    assert {k: v for k, v in _tree_digest(rep).items() if k in before_rep} == before_rep
    for metrics_file in exp.rglob("metrics.json"):
        metrics = json.loads(metrics_file.read_text())  # always complete JSON
        folder = metrics_file.parent
        if metrics["status"] != "ok":
            assert metrics["status"] == "running"
        for name in ("forecast.csv", "backtest.csv", "risk.csv", "params.csv"):
            if (folder / name).exists():
                assert len(pd.read_csv(folder / name)) > 0
    for pdf in rep.glob("*.pdf"):
        assert len(PdfReader(pdf).pages) > 5  # only complete PDFs carry the .pdf name


def test_concurrent_runs_never_share_a_folder(tmp_path):
    overrides = [f"paths.experiments_dir={tmp_path}/e", f"paths.reports_dir={tmp_path}/r", "backtest=none",
                 "report=none"]
    procs = [_start(overrides) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    folders = {o[0].decode().strip().splitlines()[-2] for o in outs}
    assert len(folders) == 3
    for f in folders:
        assert json.loads(Path(f, "metrics.json").read_text())["status"] == "ok"


def test_same_seed_same_numbers_in_new_processes(tmp_path):
    outs = []
    for i in range(2):
        proc = run_cli(["model=hawkes", "backtest=quick", "report=none", "seed=11",
                        f"paths.experiments_dir={tmp_path}/{i}", f"paths.reports_dir={tmp_path}/r"])
        assert proc.returncode == 0, proc.stderr
        outs.append(Path(proc.stdout.strip().splitlines()[-2]))
    for name in ("forecast.csv", "backtest.csv", "risk.csv", "params.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    m = [json.loads((o / "metrics.json").read_text()) for o in outs]
    assert m[0]["scores"] == m[1]["scores"] and m[0]["params"] == m[1]["params"]
