"""Faults a run must survive and record: signals, dying sweep workers, full or read-only output folders,
a pipe as input, the umask, and a stated memory bound. Real subprocesses (slow)."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow
MEMORY_BOUND_MB = 1024  # the README's stated peak for any run on shipped or generated data
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "forecast", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("metrics.json"))]


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("stage", ["startup", "record", "backtest"])
def test_a_signal_is_one_line_the_right_exit_status_and_a_recorded_interruption(tmp_path, sig, code, stage):
    exp = tmp_path / "e"
    proc = _start([f"paths.experiments_dir={exp}", f"paths.reports_dir={tmp_path}/r"])
    if stage == "startup":
        time.sleep(0.5)  # still importing
    elif stage == "record":
        assert _wait_for(lambda: any(exp.rglob("metrics.json")))
    else:
        assert _wait_for(lambda: any(exp.rglob("data_summary.txt")))
        time.sleep(1.0)  # inside the backtest
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "interrupted" in err
    for record in _records(exp):
        assert record["status"] == "interrupted" and signal.Signals(sig).name in record["error"]
    if stage != "startup":
        assert len(_records(exp)) == 1


def test_parallel_sweep_survives_a_dying_job_and_a_signal_leaves_no_orphans(tmp_path):
    sweep = ["-m", "model=hawkes,nb_window,climatology,naive", "hydra/launcher=forecast_parallel",
             "hydra.launcher.n_jobs=2", "report=none"]
    # 1. one job killed: recorded as failed, the others finish
    proc = _start([*sweep, f"paths.experiments_dir={tmp_path}/a", "backtest=quick"])
    assert _wait_for(lambda: len(_children(proc.pid)) >= 1)
    victim = _children(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    statuses = sorted(r["status"] for r in _records(tmp_path / "a"))
    assert statuses == ["failed", "ok", "ok", "ok"], statuses
    assert "forecast-compare" in out  # the next step is printed
    # 2. SIGTERM to the sweep: every running job records itself interrupted, none outlives the sweep
    proc = _start([*sweep, f"paths.experiments_dir={tmp_path}/b"])
    assert _wait_for(lambda: len(list((tmp_path / "b").rglob("data_summary.txt"))) >= 2, timeout=120)
    children = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert all(not Path(f"/proc/{c}").exists() for c in children), "a job outlived the sweep"
    records = _records(tmp_path / "b")
    assert records and all(r["status"] == "interrupted" for r in records), [r["status"] for r in records]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture()
def tmpfs(tmp_path):
    """A 1 MB tmpfs (root only); skipped with the reason where mounting is not allowed."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_full_output_folder_is_one_line_exit_2_and_no_file_looks_complete(tmpfs, tmp_path):
    (tmpfs / "filler").write_bytes(b"x" * (1024 * 1024 - 96 * 1024))  # leave ~96 kB: the record starts, then fills
    proc = run_cli(["model=hawkes", f"paths.experiments_dir={tmpfs}/e", f"paths.reports_dir={tmp_path}/r",
                    "backtest=quick"])
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "No space left" in proc.stderr
    for p in tmpfs.rglob("*.csv"):
        assert p.stat().st_size > 0  # written atomically: no truncated file under its real name
    assert not list(tmpfs.rglob("*.part"))


def test_read_only_output_folder_is_refused_before_any_work(tmpfs, tmp_path):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    start = time.monotonic()
    proc = run_cli([f"paths.experiments_dir={tmp_path}/e", f"paths.reports_dir={tmpfs}/r"])
    assert proc.returncode == 2 and "paths.reports_dir" in proc.stderr and "Read-only" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert time.monotonic() - start < 15  # before the backtest
    assert [r["status"] for r in _records(tmp_path / "e")] == ["failed"]


def test_events_from_a_pipe_hash_the_bytes_that_were_loaded(tmp_path, data_dir):
    events = (data_dir / "events.csv").read_bytes()
    common = ["task=data", f"paths.experiments_dir={tmp_path}/e", f"paths.reports_dir={tmp_path}/r"]
    piped = subprocess.run([sys.executable, "-m", "forecast", "data.events=/dev/stdin", *common], input=events,
                           capture_output=True, env=ENV)
    assert piped.returncode == 0, piped.stderr
    plain = run_cli(common)
    assert plain.returncode == 0, plain.stderr
    folders = [Path(piped.stdout.decode().strip().splitlines()[-2]), Path(plain.stdout.strip().splitlines()[-2])]
    a, b = (json.loads((f / "metrics.json").read_text())["data_sha256"] for f in folders)
    assert a == b  # same bytes, same hash (the pipe is read once)
    assert hashlib.sha256(events).hexdigest() != a  # the hash covers triggers, counts and sites too


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_record_files_follow_the_umask(tmp_path, umask, mode):
    proc = subprocess.run([sys.executable, "-m", "forecast", "backtest=none", f"paths.experiments_dir={tmp_path}/e",
                           f"paths.reports_dir={tmp_path}/r"], capture_output=True, text=True, env=ENV,
                          preexec_fn=lambda: os.umask(umask))
    assert proc.returncode == 0, proc.stderr
    files = [p for p in (tmp_path / "e").rglob("*") if p.is_file() and ".hydra" not in p.parts] + \
        list((tmp_path / "r").glob("*.pdf"))
    assert files and {p.stat().st_mode & 0o777 for p in files if p.name != "run.log"} == {mode}


def _peak_mb_of(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "forecast", *args], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak >= before  # ru_maxrss of children is the largest child so far: run the biggest first
    return peak / 1024


def test_memory_stays_under_the_stated_bound(tmp_path):
    """The default run (full backtest and PDF) and a generated heavy input (80 attacks a day for a year, the
    kind that used to hang the pmf truncation) stay under MEMORY_BOUND_MB of resident memory."""
    heavy = tmp_path / "heavy.csv"
    dates = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    heavy.write_text("date,count\n" + "\n".join(f"{d},{80 + (i % 7)}" for i, d in enumerate(dates)) + "\n")
    out = [f"paths.experiments_dir={tmp_path}/e", f"paths.reports_dir={tmp_path}/r"]
    peaks = {"default": _peak_mb_of(out)}
    for model in ("poisson", "hawkes"):
        peaks[model] = _peak_mb_of([f"model={model}", "data=generic", f"data.events={heavy}", "data.count_column=count",
                                    "data.triggers=null", "backtest=quick", "backtest.periods=[{name: q, start: "
                                    "'2024-11-01', end: '2024-11-30'}]", "report=none", *out])
    assert max(peaks.values()) < MEMORY_BOUND_MB, peaks
