"""Structured-config schemas, registered in Hydra's ConfigStore: a typo or a wrong type fails at
composition, naming the key, before any data is read or model fitted."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


class Task(str, Enum):
    run = "run"
    data = "data"


class EventFormat(str, Enum):
    project = "project"
    acled = "acled"
    generic = "generic"


class TriggerEncoding(str, Enum):
    impulse = "impulse"
    decay = "decay"
    step = "step"


@dataclass
class PathsConfig:
    root_dir: str = "${forecast_root:}"
    data_dir: str = "${paths.root_dir}/data"
    experiments_dir: str = "${paths.root_dir}/experiments"
    reports_dir: str = "${paths.root_dir}/reports"
    output_dir: str = "${hydra:runtime.output_dir}"


@dataclass
class DataConfig:
    events: str = "${paths.data_dir}/events.csv"
    format: EventFormat = EventFormat.project
    triggers: Optional[str] = "${paths.data_dir}/triggers.csv"
    official_counts: Optional[str] = "${paths.data_dir}/official_counts.csv"
    start: Optional[str] = None  # observation window; events outside it are an error
    end: Optional[str] = None
    country: Optional[List[str]] = None
    weapon: Optional[List[str]] = None
    confirmation: Optional[List[str]] = None
    lull_min_days: int = 14
    acled_actor: Optional[str] = None  # regex on actor1/assoc_actor_1 (format=acled)
    acled_target: Optional[str] = None  # regex on actor2/assoc_actor_2/notes (format=acled)
    date_column: str = "date"  # format=generic
    count_column: Optional[str] = None  # format=generic


@dataclass
class PeriodConfig:
    name: str = MISSING
    start: str = MISSING
    end: str = MISSING


@dataclass
class BacktestConfig:
    enabled: bool = True
    periods: List[PeriodConfig] = field(default_factory=list)
    horizons: List[int] = field(default_factory=lambda: [1, 7, 14])
    refit_every: int = 7
    refit_on_surprise: bool = False  # also refit when the new days are surprising (CUSUM of PIT normal scores)
    min_train_days: int = 14
    n_paths: int = 1000
    reference: bool = True  # also score climatology at the same origins (skill)


@dataclass
class RiskConfig:
    horizons: List[int] = field(default_factory=lambda: [1, 7, 14, 30])
    thresholds: List[int] = field(default_factory=lambda: [1, 3, 5, 10])


@dataclass
class ReportConfig:
    enabled: bool = True
    title: str = "Escalation-risk forecast"
    history_days: int = 120  # days of history joined to the fan chart


@dataclass
class ScenarioTrigger:
    offset_days: int = MISSING  # 1 = the first forecast day
    kind: str = MISSING
    name: str = "hypothetical trigger"


@dataclass
class ScenarioConfig:
    name: str = MISSING
    description: str = ""
    triggers: List[ScenarioTrigger] = field(default_factory=list)


@dataclass
class TriggerModelConfig:
    trigger_kinds: Optional[List[str]] = None
    trigger_encoding: TriggerEncoding = TriggerEncoding.decay
    trigger_half_life: float = 7.0
    trigger_lag: int = 1


@dataclass
class ClimatologyConfig:
    _target_: str = "forecast.models.Climatology"
    window_days: int = 90
    pseudo_count: float = 0.5


@dataclass
class NaiveConfig:
    _target_: str = "forecast.models.NaivePoisson"
    window_days: int = 7
    min_rate: float = 0.02


@dataclass
class PoissonConfig(TriggerModelConfig):
    _target_: str = "forecast.models.PoissonGLM"
    _convert_: str = "all"
    n_lags: int = 1
    rolling_days: int = 7
    days_since_last: bool = True
    day_of_week: bool = False
    effect_prior_sd: Optional[float] = 1.0
    n_paths: int = "${n_paths}"  # type: ignore[assignment]
    random_state: Optional[int] = "${seed}"  # type: ignore[assignment]


@dataclass
class NegBinConfig(PoissonConfig):
    _target_: str = "forecast.models.NegBinGLM"


@dataclass
class HawkesConfig(TriggerModelConfig):
    _target_: str = "forecast.models.Hawkes"
    _convert_: str = "all"
    effect_prior_sd: Optional[float] = 1.0
    background_segments: int = 6
    n_paths: int = "${n_paths}"  # type: ignore[assignment]
    random_state: Optional[int] = "${seed}"  # type: ignore[assignment]


@dataclass
class HawkesContinuousConfig:
    _target_: str = "forecast.models.HawkesContinuous"
    decay: Optional[float] = None
    spread: str = "uniform"
    n_paths: int = "${n_paths}"  # type: ignore[assignment]
    random_state: Optional[int] = "${seed}"  # type: ignore[assignment]


@dataclass
class ArimaConfig(TriggerModelConfig):
    _target_: str = "forecast.models.Arima"
    _convert_: str = "all"
    order: Optional[List[int]] = field(default_factory=lambda: [1, 0, 1])
    max_order: int = 2
    transform: str = "sqrt"
    n_paths: int = "${n_paths}"  # type: ignore[assignment]
    random_state: Optional[int] = "${seed}"  # type: ignore[assignment]


MODEL_SCHEMAS = {"climatology": ClimatologyConfig, "naive": NaiveConfig, "poisson": PoissonConfig,
                 "negbin": NegBinConfig, "hawkes": HawkesConfig, "hawkes_continuous": HawkesContinuousConfig,
                 "arima": ArimaConfig}


@dataclass
class RunConfig:
    task: Task = Task.run
    name: str = "default"  # experiment name, shown in reports
    seed: int = 0
    origin: Optional[str] = None  # last day used for the final fit and forecast (default: data.end)
    n_paths: int = 2000  # simulated paths per forecast (simulation-based models)
    blas_threads: int = 1
    model_name: str = "${hydra:runtime.choices.model}"
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = MISSING
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    scenario: Optional[ScenarioConfig] = None


def project_root() -> str:
    """The folder holding ``configs/`` and ``data/`` (``FORECAST_ROOT`` overrides it)."""
    return os.environ.get("FORECAST_ROOT") or str(Path(__file__).resolve().parents[1])


def config_dir() -> str:
    """The absolute path of the ``configs/`` folder (Hydra's primary config path)."""
    return str(Path(project_root()) / "configs")


def register() -> None:
    """Register schemas and resolvers (idempotent)."""
    if not OmegaConf.has_resolver("forecast_root"):
        OmegaConf.register_new_resolver("forecast_root", project_root)
    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", os.getpid, use_cache=True)
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    cs.store(group="schema", name="scenario", node=ScenarioConfig)
    for name, schema in MODEL_SCHEMAS.items():
        cs.store(group="schema/model", name=name, node=schema)
