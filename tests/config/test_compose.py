"""Every option of every config group composes, validates and instantiates."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf.errors import ConfigKeyError, ValidationError
from sklearn.base import BaseEstimator

from forecast import config
from forecast.models import Forecaster

config.register()
CONFIGS = Path(config.config_dir())
GROUPS = ["data", "model", "backtest", "risk", "report", "scenario", "experiment", "sweep", "paths"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def compose_run(overrides: list[str]):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIGS)):
        cfg = compose(config_name="run", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    return cfg


def test_every_group_has_options():
    for group in GROUPS:
        assert options(group), group


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group, option, tmp_path):
    extra = ["data.events=x.csv"] if (group, option) in {("data", "acled"), ("data", "generic")} else []
    cfg = compose_run([f"{group}={option}", f"paths.output_dir={tmp_path}"] + extra)
    assert cfg.seed == 0
    assert cfg.model_name in options("model")


@pytest.mark.parametrize("name", options("model"))
def test_every_model_instantiates(name, tmp_path):
    cfg = compose_run([f"model={name}", "seed=7", f"paths.output_dir={tmp_path}"])
    model = instantiate(cfg.model, _convert_="all")
    assert isinstance(model, Forecaster) and isinstance(model, BaseEstimator)
    if "random_state" in model.get_params():
        assert model.get_params()["random_state"] == 7
    assert cfg.model_name == name


def test_experiment_overrides_apply(tmp_path):
    cfg = compose_run(["experiment=feb2024_deterrence", f"paths.output_dir={tmp_path}"])
    assert cfg.origin == "2024-02-03" and cfg.name == "feb2024_deterrence"
    assert [p.name for p in cfg.backtest.periods] == ["campaign"]


def test_paths_redirect_with_two_overrides(tmp_path):
    cfg = compose_run([f"paths.experiments_dir={tmp_path}/e", f"paths.reports_dir={tmp_path}/r"])
    assert cfg.hydra.run.dir.startswith(f"{tmp_path}/e/runs/")
    assert cfg.paths.reports_dir == f"{tmp_path}/r"


@pytest.mark.parametrize("override,error", [
    ("data.evnts=x", ConfigCompositionException),      # unknown key
    ("seed=abc", ConfigCompositionException),          # wrong type
    ("model=nope", ConfigCompositionException),        # unknown option
    ("task=fit", ConfigCompositionException),          # enum value
    ("model.n_lagz=2", ConfigCompositionException),    # unknown model key (schema)
])
def test_bad_config_fails_at_composition(override, error):
    with pytest.raises(error) as info:
        compose_run([override])
    text = str(info.value) + str(info.value.__cause__ or "")
    key = override.split("=")[0]
    assert key.split(".")[-1] in text or override.split("=")[1] in text


def test_schema_rejects_wrong_type_in_yaml_value():
    with pytest.raises((ConfigCompositionException, ValidationError, ConfigKeyError)):
        compose_run(["backtest.horizons=[a,b]"])
