"""Config values are checked before any data is read or model fitted: one message naming the key."""
from __future__ import annotations

import pytest

from forecast.cli import check_choices, did_you_mean
from forecast.config import help_text, known_keys, model_names
from forecast.errors import ForecastInputError
from forecast.pipeline import validate_config
from tests.config.test_compose import compose_run


@pytest.mark.parametrize("overrides,key", [
    (["origin=yesterday"], "origin"),
    (["origin=2024-02-30"], "origin"),
    (["data.end=2024-13-01"], "data.end"),
    (["data.start=2025-01-01", "data.end=2024-01-01"], "data.end"),
    (["seed=-1"], "seed"),
    (["n_paths=100000000"], "n_paths"),
    (["n_paths=5"], "n_paths"),
    (["backtest.n_paths=0"], "backtest.n_paths"),
    (["backtest.refit_every=0"], "backtest.refit_every"),
    (["backtest.min_train_days=0"], "backtest.min_train_days"),
    (["risk.horizons=[1,400]"], "risk.horizons"),
    (["risk.thresholds=[3,1]"], "risk.thresholds"),
    (["data.lull_min_days=0"], "data.lull_min_days"),
    (["data.max_window_years=0"], "data.max_window_years"),
    (['data.acled_actor="(unclosed"'], "data.acled_actor"),
    (["data.attacker=[pirates]"], "data.attacker"),
    (["data.duplicates=squash"], "data.duplicates"),
    (["backtest.references=[nope]"], "backtest.references"),
    (["backtest.periods=[{name: x, start: '2024-02-01', end: '2024-01-01'}]"], "backtest.periods[0]"),
    (["+foo=1"], "foo"),
    (["+data.foo=1"], "data.foo"),
    (["+model.foo=1"], "model.foo"),
    (["model=arima", "model.order=[-1,0,0]"], "model.order"),
    (["model=arima", "model.order=[1,0]"], "model.order"),
    (["model=climatology", "model.pseudo_count=-1"], "model.pseudo_count"),
    (["model=naive", "model.window_days=0"], "model.window_days"),
    (["model=nb_window", "model.rate=sometimes"], "model.rate"),
    (["model=hawkes", "model.trigger_half_life=0"], "model.trigger_half_life"),
    (["model=hawkes", "model.trigger_kinds=[earthquake]"], "model.trigger_kinds"),
    (["model=hawkes", "model.n_paths=1"], "model.n_paths"),
])
def test_bad_values_are_refused_before_any_data_naming_the_key(overrides, key, tmp_path):
    cfg = compose_run([*overrides, f"paths.output_dir={tmp_path}/run", f"paths.reports_dir={tmp_path}/r"])
    with pytest.raises(ForecastInputError) as info:
        validate_config(cfg)
    assert str(info.value).startswith(f"{key}:"), str(info.value)
    assert "\n" not in str(info.value)


def test_every_shipped_option_passes_validation(tmp_path):
    for name in model_names():
        cfg = compose_run([f"model={name}", f"paths.output_dir={tmp_path}/run", f"paths.reports_dir={tmp_path}/r"])
        assert validate_config(cfg) is not None


def test_an_unwritable_reports_folder_is_refused_before_the_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cfg = compose_run([f"paths.output_dir={tmp_path}/run", f"paths.reports_dir={blocker}/reports"])
    with pytest.raises(ForecastInputError, match="paths.reports_dir: cannot write"):
        validate_config(cfg)


@pytest.mark.parametrize("arg", ["model=../../../../x", "model=/etc/passwd", "experiment=../run",
                                 "sweep=a/b", "+model=..", "scenario=..%2f"])
def test_option_names_cannot_be_paths(arg):
    with pytest.raises(ForecastInputError, match="is not an option name"):
        check_choices([arg])


@pytest.mark.parametrize("arg", ["model=hawkes", "model=hawkes,negbin", "model=glob(*)", "scenario=null",
                                 "model.trigger_half_life=14", "data.events=../my/events.csv"])
def test_option_names_and_values_that_are_fine(arg):
    check_choices([arg])


def test_did_you_mean_suggests_the_nearest_keys():
    assert "risk.horizons" in did_you_mean("Could not override 'horizon'; Key 'horizon' not in 'RunConfig'")
    assert "model.trigger_half_life" in did_you_mean("Key 'model.trigger_halflife' not in 'HawkesConfig'")
    assert did_you_mean("Key 'zzzzzz' not in 'RunConfig'") == ""


def test_help_lists_every_model_and_experiment_with_a_description():
    text = help_text()
    assert text.startswith("forecast:") and "Hydra" not in text.splitlines()[0]
    for name in model_names():
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(name + " "))
        assert len(line.split(name, 1)[1].strip()) > 10, line  # a one-line description
    assert "feb2024_deterrence" in text and "us_strike" in text and "all_models_parallel" in text
    assert "schema" not in text


def test_known_keys_cover_run_and_model_keys():
    keys = known_keys()
    assert {"seed", "risk.horizons", "backtest.references", "data.attacker", "model.window_days",
            "model.trigger_half_life", "scenario.triggers"} <= set(keys)


def test_the_default_model_is_the_one_the_report_explains():
    import yaml

    from forecast.config import DEFAULT_MODEL, config_dir

    defaults = yaml.safe_load(open(f"{config_dir()}/run.yaml", encoding="utf-8"))["defaults"]
    assert {"model": DEFAULT_MODEL} in defaults


def test_a_model_config_that_is_not_yaml_names_its_file_and_line(tmp_path, monkeypatch, repo_root):
    import shutil

    from forecast.config import model_target

    shutil.copytree(repo_root / "configs", tmp_path / "configs")
    (tmp_path / "configs/model/broken.yaml").write_text("_target_: forecast.models.NBWindow\nwindow_days: [1,\n")
    monkeypatch.setenv("FORECAST_ROOT", str(tmp_path))
    with pytest.raises(ForecastInputError, match=r"broken.yaml:3: not valid YAML"):
        model_target("broken")
