"""Helpers for end-to-end tests: compose a run config with outputs under tmp_path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from forecast import config

config.register()


@pytest.fixture()
def compose_run(tmp_path: Path):
    """``compose_run(overrides, name="run")`` -> a composed config whose outputs go to tmp_path; the model is
    ``hawkes`` (fast) unless the overrides choose one: these tests are about the pipeline, not the default model."""
    def _compose(overrides: list[str], name: str = "run"):
        if not any(o.startswith("model=") for o in overrides):
            overrides = ["model=hawkes", *overrides]
        with initialize_config_dir(version_base="1.3", config_dir=config.config_dir()):
            cfg = compose(config_name="run", overrides=[f"paths.experiments_dir={tmp_path}/experiments",
                                                        f"paths.reports_dir={tmp_path}/reports",
                                                        f"paths.output_dir={tmp_path}/experiments/runs/{name}",
                                                        *overrides], return_hydra_config=True)
        HydraConfig().set_config(cfg)
        return cfg
    return _compose


def run_cli(args: list[str], cwd: Path | None = None, timeout: float = 300, env: dict | None = None,
            command: str = "forecast") -> subprocess.CompletedProcess:
    """Run ``python -m forecast ARGS`` (or forecast-compare) in a fresh process."""
    code = ("from forecast.cli import main; main()" if command == "forecast"
            else "from forecast.cli import compare_main; compare_main()")
    full_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=full_env)


@pytest.fixture()
def cli():
    return run_cli
