"""Structured-config schemas, registered in Hydra's ConfigStore: a typo or a wrong type fails at
composition, naming the key, before any data is read or model fitted."""
from __future__ import annotations

import inspect
import os
import types
import typing
from dataclasses import dataclass, field, make_dataclass
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
    sites: Optional[str] = "${paths.data_dir}/sites.csv"  # US presence at sites -> Dataset.exposure; null = none
    start: Optional[str] = None  # observation window; events outside it are an error
    end: Optional[str] = None
    country: Optional[List[str]] = None
    weapon: Optional[List[str]] = None
    confirmation: Optional[List[str]] = None
    # the default series: militia (or unattributed) attacks on US military sites, one row per attack;
    # files without these columns (acled, generic, older project files) are not filtered by them
    attacker: Optional[List[str]] = field(default_factory=lambda: ["militia", "unknown"])  # militia|iran_state|unknown
    target_type: Optional[List[str]] = field(default_factory=lambda: ["us_military"])  # us_military|us_diplomatic|other
    duplicates: str = "merge"  # keep | merge (merge drops rows whose duplicate_of is set)
    lull_min_days: int = 14
    max_window_years: int = 20  # a longer observation window is refused (a typo'd year)
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
    # baselines scored at the same origins: skill and paired tests against each; the first is the headline one
    references: List[str] = field(default_factory=lambda: ["nb_window", "climatology"])


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


DEFAULT_MODEL = "ensemble"  # configs/run.yaml's model; why, in one sentence (shown by the report):
DEFAULT_MODEL_REASON = ("the default model, chosen by a rule fixed before the 2025-26 periods were scored: the best "
                        "mean log score of 7-day totals over the 2023-24 campaign and 2024 backtests")


def model_dir() -> Path:
    return Path(config_dir()) / "model"


def model_names() -> list[str]:
    """Every model option: the files of ``configs/model/`` (the one list of models)."""
    return sorted(p.stem for p in model_dir().glob("*.yaml"))


def model_target(name: str) -> str:
    """The estimator class path (``_target_``) of model option ``name``."""
    import yaml

    path = model_dir() / f"{name}.yaml"
    try:
        node = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        from forecast.errors import ForecastInputError

        mark = getattr(e, "problem_mark", None)
        raise ForecastInputError(f"not valid YAML ({getattr(e, 'problem', None) or e})", path=path,
                                 line=mark.line + 1 if mark else None) from None
    return str(node.get("_target_", "")) if isinstance(node, dict) else ""


# parameters every simulation-based estimator takes from the run's top-level keys
_RUN_LINKED = {"random_state": "${seed}", "n_paths": "${n_paths}"}


def _schema_type(annotation):
    """An OmegaConf-friendly type for an ``__init__`` annotation (``X | None`` -> Optional[X])."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        inner = _schema_type(rest[0]) if len(rest) == 1 else Any
        return Optional[inner] if type(None) in args else inner
    if typing.get_origin(annotation) in (list, tuple):
        return List[args[0]] if args else List[Any]
    return annotation if annotation in (int, float, str, bool) else Any


def model_schema(target: str) -> type:
    """A structured-config dataclass for an estimator, derived from its ``__init__`` signature: one
    field per keyword, typed by its annotation, defaulting to the signature's default. ``random_state``
    and ``n_paths`` follow the run's ``seed`` and ``n_paths``. Defaults so live in one place."""
    from hydra.utils import get_class

    cls = get_class(target)
    hints = typing.get_type_hints(cls.__init__)
    fields_ = [("_target_", str, field(default=target)), ("_convert_", str, field(default="all"))]
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = _RUN_LINKED.get(name, param.default)
        if isinstance(default, (list, tuple)):
            fields_.append((name, _schema_type(hints.get(name, Any)),
                            field(default_factory=lambda d=tuple(default): list(d))))
        else:
            typ = Any if name in _RUN_LINKED else _schema_type(hints.get(name, Any))
            fields_.append((name, typ, field(default=default)))
    return make_dataclass(f"{cls.__name__}Config", fields_)


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
    for name in model_names():
        cs.store(group="schema/model", name=name, node=model_schema(model_target(name)))


def _description(path: Path) -> str:
    """The first comment line of a config file that is not a ``@package`` directive, else its
    ``description:`` value."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line.strip().startswith("#") and "@package" not in line:
            return line.strip().lstrip("# ").strip()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("description:")), "")


def known_keys() -> list[str]:
    """Every settable config key (dotted), for "did you mean" hints: the run schema and every model's."""
    import dataclasses

    def walk(schema, prefix: str) -> list[str]:
        keys, hints = [], typing.get_type_hints(schema)
        for f in dataclasses.fields(schema):
            key, hint = f"{prefix}{f.name}", hints.get(f.name)
            optional = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else ()
            candidates = [hint, *optional, f.default_factory]  # Optional[X] -> X; a list stays one key
            nested = next((c for c in candidates if isinstance(c, type) and dataclasses.is_dataclass(c)), None)
            keys += walk(nested, f"{key}.") if nested else [key]
        return keys

    keys = [k for k in walk(RunConfig, "") if k != "model"]
    for name in model_names():
        keys += [k for k in walk(model_schema(model_target(name)), "model.") if k not in keys]
    return sorted(set(keys))


def help_text() -> str:
    """``forecast --help``: what the tool does, the options of each group with a line each, the common keys."""
    root = Path(config_dir())
    lines = ["forecast: escalation-risk forecasts of attacks on US forces (daily counts, P(>=k attacks in h days),",
             "rolling-origin backtests, PDF reports).", "",
             "usage: forecast [GROUP=OPTION ...] [KEY=VALUE ...]      one run (Hydra 1.3 overrides)",
             "       forecast -m GROUP=A,B ... | -m sweep=NAME         a sweep; then forecast-compare SWEEP_DIR",
             "       forecast-report RUN_DIR                          re-render a run's PDF from its record", ""]
    groups = [("model", "Models"), ("experiment", "Experiments"), ("scenario", "Scenarios (what-if triggers)"),
              ("sweep", "Sweeps (with -m)"), ("data", "Data"), ("backtest", "Backtests")]
    for group, title in groups:
        lines.append(f"{title}: {group}=NAME")
        for path in sorted((root / group).glob("*.yaml")):
            lines.append(f"  {path.stem:<20} {_description(path)}")
        lines.append("")
    lines += ["Common keys: seed=N, origin=YYYY-MM-DD, n_paths=N, data.events=PATH, data.triggers=PATH|null,",
              "  data.start/data.end=YYYY-MM-DD, backtest=none, report=none, risk.horizons=[..],",
              "  risk.thresholds=[..], model.<param>=VALUE, paths.experiments_dir=DIR, paths.reports_dir=DIR.",
              "Print the composed config: forecast --cfg job [overrides]. Hydra's own help: forecast --hydra-help.",
              "Exit status: 0 ok; 2 bad input or config (one line naming the file/line or key); 130/143",
              "interrupted (SIGINT/SIGTERM; the run is recorded as interrupted); 1 internal error."]
    return "\n".join(lines)


def check_known_keys(cfg) -> None:
    """Refuse keys no schema declares: Hydra lets ``+key=value`` add them, and a run would ignore them."""
    from forecast.errors import ForecastInputError

    known = set(known_keys())
    model_keys = {f"model.{k}" for k in model_schema(str(cfg.model["_target_"])).__dataclass_fields__}

    def unknown(node: dict, prefix: str):
        for k, v in node.items():
            key = f"{prefix}{k}"
            if key in known or key in model_keys:
                continue
            if not any(kk.startswith(f"{key}.") for kk in known | model_keys):
                yield key
            elif isinstance(v, dict):  # a node with a schema (None for an unset optional one)
                yield from unknown(v, f"{key}.")

    plain = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"]),
                                   resolve=False)
    for key in unknown(plain, ""):
        raise ForecastInputError(f"unknown config key '{key}'", column=key,
                                 hint="remove it; `forecast --help` lists the keys")


def build_model(name: str, *, seed: int | None = None, n_paths: int | None = None, **params):
    """The estimator of model option ``name`` as ``configs/model/<name>.yaml`` sets it up, with ``params``
    overriding its keys (an ensemble builds its members this way)."""
    from hydra.utils import instantiate

    if name not in model_names():
        from forecast.errors import ForecastInputError

        raise ForecastInputError(f"unknown model '{name}'", column="model",
                                 hint=f"use one of {', '.join(model_names())}")
    node = OmegaConf.merge(OmegaConf.structured(model_schema(model_target(name))),
                           OmegaConf.load(model_dir() / f"{name}.yaml"), params)
    root = OmegaConf.create({"seed": seed, "n_paths": n_paths or 2000, "model": node})
    return instantiate(root.model, _convert_="all")
