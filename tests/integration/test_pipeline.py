"""End to end in-process: run(cfg) writes the contract's run record and a readable PDF."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from pypdf import PdfReader

from forecast.config import model_names
from forecast.errors import ModelFitError
from forecast.pipeline import run

pytestmark = pytest.mark.usefixtures("single_blas_thread")

METRIC_KEYS = {"status", "error", "run_id", "model", "seed", "data_sha256", "versions", "timings_s", "report_path",
               "params", "stderr", "loglik", "aic", "n_obs", "scores"}


def test_default_hawkes_run_writes_the_contract(compose_run):
    result = run(compose_run(["backtest=quick"]))
    folder = result.folder
    metrics = json.loads((folder / "metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert metrics["status"] == "ok" and metrics["error"] is None and metrics["model"] == "hawkes"
    assert {"baseline", "adjacency", "decay", "effect_us_strike"} <= set(metrics["params"])
    assert set(metrics["params"]) == set(metrics["stderr"])
    estimated = [v for v in metrics["params"].values() if v is not None]  # NaN (JSON null): not estimated
    assert metrics["aic"] == pytest.approx(2 * len(estimated) - 2 * metrics["loglik"])
    assert set(metrics["scores"]) == {"1", "7"}
    for s in metrics["scores"].values():
        assert {"log_score", "rps", "mae", "coverage_50", "coverage_90", "brier_ge1", "brier_ge10"} <= set(s)
    fc = pd.read_csv(folder / "forecast.csv")
    assert list(fc.columns) == ["date", "step", "mean", "q05", "q25", "q50", "q75", "q95", "p_ge1"]
    assert len(fc) == 30 and fc["date"].iloc[0] == "2026-07-01"
    risk = pd.read_csv(folder / "risk.csv")
    assert list(risk.columns[:6]) == ["horizon_days", "threshold", "probability", "expected_total", "lo90", "hi90"]
    assert (risk.groupby("horizon_days")["probability"].apply(lambda p: p.is_monotonic_decreasing)).all()
    bt = pd.read_csv(folder / "backtest.csv")
    assert {"origin", "horizon", "observed_total", "mean", "q05", "q50", "q95", "p_zero", "log_score", "rps",
            "p_ge1", "p_ge3", "p_ge5", "p_ge10"} <= set(bt.columns)
    assert (folder / "params.csv").exists() and (folder / "config_resolved.yaml").exists()
    assert "${" not in (folder / "config_resolved.yaml").read_text()
    assert metrics["report_path"] and (result.report_path.exists())


def test_pdf_has_every_section_and_metadata(compose_run):
    result = run(compose_run(["backtest=quick", "scenario=us_strike"]))
    reader = PdfReader(result.report_path)
    assert len(reader.pages) >= 12
    meta = reader.metadata
    assert meta.title.startswith("Escalation-risk forecast") and "hawkes" in meta.subject and meta.get("/Keywords")
    text = "\n".join(page.extract_text() for page in reader.pages)
    for section in ("Executive summary", "Data: daily attacks", "coverage", "Model: hawkes parameters",
                    "Forecast and escalation risk", "Scenario: us_strike_day3", "Backtest: scores",
                    "Backtest: calibration", "Appendix: resolved configuration", f"page 1/{len(reader.pages)}",
                    result.run_id):
        assert section in text, section


@pytest.mark.slow  # two full runs with PDFs
def test_same_config_and_seed_give_identical_files_and_pdf_bytes(compose_run, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = run(compose_run(["backtest=quick", "seed=5"], name="same"))
    saved = {f: (first.folder / f).read_bytes() for f in ("forecast.csv", "backtest.csv", "risk.csv")}
    pdf = first.report_path.read_bytes()
    scores = first.metrics["scores"]
    shutil.rmtree(first.folder)
    first.report_path.unlink()
    second = run(compose_run(["backtest=quick", "seed=5"], name="same"))
    for f, data in saved.items():
        assert (second.folder / f).read_bytes() == data, f
    assert second.metrics["scores"] == scores
    assert second.report_path.read_bytes() == pdf
    other = run(compose_run(["backtest=quick", "seed=6", "report=none"], name="other"))
    assert (other.folder / "forecast.csv").read_bytes() != saved["forecast.csv"]


def test_a_second_run_never_overwrites_a_record(compose_run):
    run(compose_run(["backtest=none", "report=none"], name="taken"))
    with pytest.raises(FileExistsError):
        run(compose_run(["backtest=none", "report=none"], name="taken"))


def test_data_task_summarises_without_fitting(compose_run):
    result = run(compose_run(["task=data"]))
    assert "2024-02-05 2024-04-20    76" in result.data_summary
    assert "Coverage against official cumulative counts" in result.data_summary
    assert "us_strike" in result.data_summary
    assert not (result.folder / "forecast.csv").exists()
    assert json.loads((result.folder / "metrics.json").read_text())["status"] == "ok"


@pytest.mark.slow  # every model through the whole pipeline (the contract tests fit each on the real data)
@pytest.mark.parametrize("model", model_names())
def test_every_model_runs_on_the_shipped_data(compose_run, model):
    result = run(compose_run([f"model={model}", "backtest=quick", "report=none", "n_paths=300"], name=model))
    assert result.metrics["status"] == "ok"
    assert result.metrics["params"] and all(k in result.metrics["stderr"] for k in result.metrics["params"])
    assert 0 <= result.forecast.prob_at_least(1, 7) <= 1


def test_refit_on_surprise_reaches_the_backtest(compose_run, monkeypatch):
    """backtest.refit_on_surprise is passed to the backtest and metrics.json counts surprise refits."""
    import forecast.pipeline as pipeline

    seen = []
    original = pipeline.run_backtest
    monkeypatch.setattr(pipeline, "run_backtest", lambda *a, **k: seen.append(k) or original(*a, **k))
    overrides = ["model=naive", "backtest=quick", "backtest.refit_every=30", "backtest.references=[]",
                 "report=none", "n_paths=300"]
    off = run(compose_run(overrides, name="off")).metrics["backtest_info"]
    on = run(compose_run([*overrides, "backtest.refit_on_surprise=true"], name="on")).metrics["backtest_info"]
    assert [k["policy"].on_surprise for k in seen] == [False, True]
    assert off["surprise_refits"] == 0 and on["surprise_refits"] >= 0


def test_model_failure_is_recorded(compose_run, tmp_path):
    events = tmp_path / "one.csv"
    events.write_text("date,count\n2024-01-20,1\n")
    cfg = compose_run(["data=generic", f"data.events={events}", "data.start=2024-01-01", "data.end=2024-01-31",
                       "origin=2024-01-10", "backtest=none", "report=none"])
    with pytest.raises(ModelFitError, match="no attacks"):
        run(cfg)
    metrics = json.loads((tmp_path / "experiments/runs/run/metrics.json").read_text())
    assert metrics["status"] == "failed" and "no attacks" in metrics["error"]


def test_scenario_changes_a_trigger_model_forecast(compose_run):
    result = run(compose_run(["backtest=none", "report=none", "scenario=us_strike"]))
    base = pd.read_csv(result.folder / "risk.csv")
    scen = pd.read_csv(result.folder / "scenario_risk.csv")
    assert not base["probability"].equals(scen["probability"])
