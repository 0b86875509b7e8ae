"""A Hydra launcher that runs each sweep job as its own ``forecast`` process, ``n_jobs`` at a time.

Unlike a worker pool, a job whose process dies (killed, out of memory) fails alone: it is recorded as
``failed`` in its ``metrics.json`` and the other jobs run. SIGINT / SIGTERM to the sweep is passed on to
every running job (each records ``interrupted``); the launcher waits for them (``grace_s``, then kills)
and starts no more, so no worker outlives the sweep. Each job gets ``blas_threads`` BLAS/OpenMP threads.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)
POLL_S = 0.2


@dataclass
class ForecastLauncherConf:
    _target_: str = "hydra_plugins.forecast_launcher.forecast_launcher.ForecastLauncher"
    n_jobs: int = 2  # jobs running at once
    timeout_s: Optional[float] = None  # a job running longer is stopped (SIGTERM) and recorded as interrupted
    grace_s: float = 30.0  # after SIGTERM, how long a job may take to record itself before it is killed


ConfigStore.instance().store(group="hydra/launcher", name="forecast_parallel", node=ForecastLauncherConf,
                             provider="forecast")


@dataclass
class _Job:
    idx: int
    overrides: list[str]
    folder: Path
    command: list[str]
    process: Optional[subprocess.Popen] = None
    started: float = 0.0
    stderr_path: Optional[Path] = None


class ForecastLauncher(Launcher):
    def __init__(self, n_jobs: int = 2, timeout_s: Optional[float] = None, grace_s: float = 30.0) -> None:
        super().__init__()
        self.n_jobs, self.timeout_s, self.grace_s = max(1, int(n_jobs)), timeout_s, float(grace_s)
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context

    def _jobs(self, job_overrides: Sequence[Sequence[str]], first: int, sweep_dir: Path) -> list[_Job]:
        jobs = []
        for idx, overrides in enumerate(job_overrides, start=first):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = cfg.hydra.job.num = idx
            HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} in the job's folder name
            folder = sweep_dir / str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
            command = [sys.executable, "-m", "forecast", *filter_overrides(overrides),
                       f"hydra.run.dir={_quoted(str(folder))}", "hydra.output_subdir=.hydra"]
            jobs.append(_Job(idx, list(overrides), folder, command))
        return jobs

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        jobs = self._jobs(job_overrides, initial_job_idx, sweep_dir)
        log.info("Launching %d jobs, %d at a time, one process each", len(jobs), self.n_jobs)
        threads = str(int(OmegaConf.select(self.config, "blas_threads", default=1)))
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        waiting, running, returns = deque(jobs), [], {}
        try:
            while waiting or running:
                while waiting and len(running) < self.n_jobs:
                    job = waiting.popleft()
                    job.stderr_path = sweep_dir / f".job{job.idx}.stderr"
                    with open(job.stderr_path, "wb") as err:
                        job.process = subprocess.Popen(job.command, stdout=subprocess.DEVNULL, stderr=err, env=env)
                    job.started = time.monotonic()
                    running.append(job)
                    log.info("\t#%d : %s", job.idx, " ".join(filter_overrides(job.overrides)))
                for job in list(running):
                    if self.timeout_s and job.process.poll() is None and \
                            time.monotonic() - job.started > self.timeout_s:
                        _stop([job], self.grace_s)
                    if job.process.poll() is not None:
                        returns[job.idx] = _finish(job)
                        running.remove(job)
                time.sleep(POLL_S)
        except BaseException:  # SIGINT / SIGTERM (RunInterrupted): pass it on, wait, start nothing more
            _stop([j for j in running if j.process.poll() is None], self.grace_s)
            for job in running:
                _finish(job)
            raise
        return [returns[j.idx] for j in jobs]


def _quoted(value: str) -> str:
    """A Hydra override value that is read back as exactly ``value`` (quoted, quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stop(jobs: list[_Job], grace_s: float) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``: every job process is gone when this returns."""
    for job in jobs:
        job.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for job in jobs:
        try:
            job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            job.process.kill()
            job.process.wait()


def _finish(job: _Job) -> JobReturn:
    """The job's JobReturn; a process that died before recording its end gets ``failed`` recorded."""
    code = job.process.returncode
    message = ""
    if job.stderr_path and job.stderr_path.exists():
        lines = job.stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        message = lines[-1] if lines else ""
        job.stderr_path.unlink()
    metrics = job.folder / "metrics.json"
    if code != 0:  # a job that died before it could record its end (or start) is recorded here
        from forecast.records import write_json

        record = json.loads(metrics.read_text(encoding="utf-8")) if metrics.exists() else {
            "status": "running", "run_id": job.folder.name,
            "model": next((o.split("=", 1)[1] for o in job.overrides if o.startswith("model=")), None)}
        if record.get("status") == "running":
            interrupted = code in (-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            error = f"job process {how}" + (f": {message}" if message else "")
            record.update(status="interrupted" if interrupted else "failed", error=error)
            write_json(metrics, record)
    if code != 0:
        log.error("job #%d (%s) ended with exit status %d: %s", job.idx, " ".join(job.overrides), code,
                  message or "no message")
    ret = JobReturn(overrides=job.overrides, working_dir=str(job.folder), task_name="forecast")
    ret.status, ret.return_value = JobStatus.COMPLETED, code  # a failed job is recorded; the sweep goes on
    return ret
