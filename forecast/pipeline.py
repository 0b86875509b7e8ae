"""One experiment, end to end: load -> counts -> annotate -> fit -> forecast -> backtest -> record -> report."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from forecast.data import daily_counts, detect_lulls, filter_events, load_events, load_official_counts, \
    load_triggers
from forecast.data.summary import coverage, format_summary
from forecast.errors import ForecastInputError, ModelFitError
from forecast.evaluate import backtest_origins, run_backtest, skill, summarise_scores
from forecast.models import Climatology
from forecast.models.base import CountForecast, FitSummary, Forecaster
from forecast.records import RunRecord, atomic_write_text, package_versions, resolved_yaml, sha256_files, \
    write_csv
from forecast.risk import lull_status, risk_table

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    """An event set with everything derived from it for one run."""

    events: pd.DataFrame
    counts: pd.Series
    triggers: pd.DataFrame | None
    official: pd.DataFrame | None
    lulls: pd.DataFrame
    coverage: pd.DataFrame | None
    files: dict[str, str]
    sha256: str


@dataclass
class RunResult:
    """What a run produced: the report and the command line read it."""

    cfg: DictConfig
    run_id: str
    folder: Path
    data: Dataset
    metrics: dict
    model: Forecaster | None = None
    summary: FitSummary | None = None
    forecast: CountForecast | None = None
    risk: pd.DataFrame | None = None
    lull: dict = field(default_factory=dict)
    scenario: tuple[str, CountForecast, pd.DataFrame] | None = None
    backtest: pd.DataFrame | None = None
    reference_backtest: pd.DataFrame | None = None
    data_summary: str = ""
    report_path: Path | None = None


def load_dataset(data_cfg: DictConfig) -> Dataset:
    """Load and validate the event file, triggers and official counts named in ``data``."""
    events = load_events(data_cfg.events, format=str(getattr(data_cfg.format, "value", data_cfg.format)),
                         acled_actor=data_cfg.acled_actor, acled_target=data_cfg.acled_target,
                         countries=data_cfg.country, date_column=data_cfg.date_column,
                         count_column=data_cfg.count_column)
    counts = daily_counts(events, data_cfg.start, data_cfg.end)
    kept = filter_events(events, country=data_cfg.country, weapon=data_cfg.weapon,
                         confirmation=data_cfg.confirmation)
    if len(kept) < len(events):
        log.info("filters keep %d of %d events", len(kept), len(events))
        counts = daily_counts(kept, counts.index[0], counts.index[-1]) if len(kept) else counts * 0
    triggers = load_triggers(data_cfg.triggers) if data_cfg.triggers else None
    official = load_official_counts(data_cfg.official_counts) if data_cfg.official_counts else None
    lulls = detect_lulls(counts, data_cfg.lull_min_days)
    lulls.attrs["min_days"] = data_cfg.lull_min_days
    files = {k: str(data_cfg[k]) for k in ("events", "triggers", "official_counts") if data_cfg[k]}
    return Dataset(kept, counts, triggers, official, lulls,
                   coverage(kept, official) if official is not None else None, files,
                   sha256_files(list(files.values())))


def scenario_triggers(scenario: DictConfig, origin: pd.Timestamp) -> pd.DataFrame:
    """Hypothetical triggers of a scenario, dated ``origin + offset_days``."""
    from forecast.data.events import TRIGGER_KINDS

    rows = []
    for i, t in enumerate(scenario.triggers):
        if t.kind not in TRIGGER_KINDS:
            raise ForecastInputError(f"unknown trigger kind '{t.kind}'", column=f"scenario.triggers[{i}].kind",
                                     hint=f"use one of {', '.join(TRIGGER_KINDS)}")
        if t.offset_days < 1:
            raise ForecastInputError("offset_days must be >= 1 (1 = first forecast day)",
                                     column=f"scenario.triggers[{i}].offset_days")
        rows.append({"date": origin + pd.Timedelta(days=int(t.offset_days)), "kind": t.kind, "name": t.name})
    return pd.DataFrame(rows)


def _validate(cfg: DictConfig) -> None:
    """Checks composition cannot make: values in range, lists increasing."""
    def positive_increasing(key: str, values) -> None:
        values = list(values)
        if not values or any(v < 1 for v in values):
            raise ForecastInputError(f"must be a non-empty list of integers >= 1, got {values}", column=key)
        if any(b <= a for a, b in zip(values, values[1:])):
            raise ForecastInputError(f"must be strictly increasing, got {values}", column=key)

    positive_increasing("risk.horizons", cfg.risk.horizons)
    positive_increasing("risk.thresholds", cfg.risk.thresholds)
    positive_increasing("backtest.horizons", cfg.backtest.horizons)
    for key in ("n_paths", "backtest.n_paths"):
        if OmegaConf.select(cfg, key) < 10:
            raise ForecastInputError("must be >= 10", column=key)


@contextmanager
def _timed(timings: dict, stage: str):
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 4)


def run(cfg: DictConfig) -> RunResult:
    """Run one configured experiment and write its run record (and PDF) under ``paths``.

    Raises ForecastInputError for bad input or config and ModelFitError when the model cannot be fitted;
    either way ``metrics.json`` ends with ``status: failed`` and the message.
    """
    folder = Path(cfg.paths.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    run_id = folder.name if folder.parent.name == "runs" else f"{folder.parent.name}_{folder.name}"
    record = RunRecord(folder, run_id=run_id, model=cfg.model_name, task=str(cfg.task.value), name=cfg.name,
                       seed=cfg.seed, data_sha256=None, versions=package_versions(), timings_s={},
                       report_path=None)
    atomic_write_text(folder / "config_resolved.yaml", resolved_yaml(cfg))
    timings: dict[str, float] = {}
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=int(cfg.blas_threads)):
            result = _run(cfg, record, run_id, folder, timings)
    except Exception as e:
        timings["total"] = round(time.perf_counter() - start, 4)
        record.update(timings_s=timings)
        known = isinstance(e, (ForecastInputError, ModelFitError))
        record.finish(str(e) if known else f"internal error: {type(e).__name__}: {e}")
        raise
    timings["total"] = round(time.perf_counter() - start, 4)
    record.update(timings_s=timings)
    record.finish()
    result.metrics = record.metrics
    return result


def _run(cfg: DictConfig, record: RunRecord, run_id: str, folder: Path, timings: dict) -> RunResult:
    _validate(cfg)
    with _timed(timings, "load"):
        data = load_dataset(cfg.data)
    record.update(data_sha256=data.sha256, data_files=data.files)
    log.info("data: %d events, %d days (%s..%s)", int(data.counts.sum()), len(data.counts),
             data.counts.index[0].date(), data.counts.index[-1].date())
    result = RunResult(cfg, run_id, folder, data, record.metrics)
    result.data_summary = format_summary(data.events, data.counts, data.lulls, data.triggers, data.coverage)
    atomic_write_text(folder / "data_summary.txt", result.data_summary + "\n")
    if data.coverage is not None:
        write_csv(folder / "coverage.csv", data.coverage)
    if cfg.task.value == "data":
        return result

    counts = data.counts
    origin = pd.Timestamp(cfg.origin) if cfg.origin else counts.index[-1]
    if not counts.index[0] <= origin <= counts.index[-1]:
        raise ForecastInputError(f"origin {origin.date()} lies outside the data window "
                                 f"{counts.index[0].date()}..{counts.index[-1].date()}", column="origin")
    train = counts.loc[:origin]
    model: Forecaster = instantiate(cfg.model, _convert_="all")
    with _timed(timings, "fit"):
        model.fit(train, data.triggers)
        summary = model.summary()
    log.info("fit %s on %d days: loglik %.2f", cfg.model_name, len(train), summary.loglik)
    params_table = summary.table().reset_index(names="parameter")
    write_csv(folder / "params.csv", params_table)
    scalar_diag = {k: v for k, v in summary.diagnostics.items() if isinstance(v, (int, float, str, bool, np.generic))}
    record.update(params=summary.params, stderr=summary.stderr, loglik=summary.loglik, aic=summary.aic,
                  n_obs=summary.n_obs, diagnostics=scalar_diag, origin=origin.strftime("%Y-%m-%d"))

    horizon = max(cfg.risk.horizons)
    with _timed(timings, "forecast"):
        fc = model.forecast(horizon)
        risk = risk_table(fc, list(cfg.risk.horizons), list(cfg.risk.thresholds))
        lull = lull_status(train, fc, list(cfg.risk.horizons), cfg.data.lull_min_days)
    write_csv(folder / "forecast.csv", fc.summary_frame())
    write_csv(folder / "risk.csv", risk)
    record.update(lull=lull, risk={f"p_ge{r.threshold}_{r.horizon_days}d": r.probability
                                   for r in risk.itertuples()})
    result.model, result.summary, result.forecast, result.risk, result.lull = model, summary, fc, risk, lull

    if cfg.scenario is not None:
        future = scenario_triggers(cfg.scenario, origin)
        fc_s = model.forecast(horizon, future_triggers=future)
        risk_s = risk_table(fc_s, list(cfg.risk.horizons), list(cfg.risk.thresholds))
        write_csv(folder / "scenario_forecast.csv", fc_s.summary_frame())
        write_csv(folder / "scenario_risk.csv", risk_s)
        result.scenario = (cfg.scenario.name, fc_s, risk_s)
        if not model.uses_triggers:
            log.warning("%s has no trigger features: the scenario equals the baseline forecast", cfg.model_name)

    if cfg.backtest.enabled:
        bt_cfg = cfg.backtest
        origins = backtest_origins(counts.index, OmegaConf.to_container(bt_cfg.periods), bt_cfg.min_train_days)
        kwargs = dict(refit_every=bt_cfg.refit_every, refit_on_surprise=bt_cfg.refit_on_surprise,
                      n_paths=bt_cfg.n_paths, seed=cfg.seed)
        thresholds = list(cfg.risk.thresholds)
        with _timed(timings, "backtest"):
            bt, info = run_backtest(model, counts, data.triggers, origins, list(bt_cfg.horizons), thresholds,
                                    **kwargs)
        write_csv(folder / "backtest.csv", bt)
        scores = summarise_scores(bt, thresholds)
        record.update(scores=scores, backtest_info=info,
                      scores_by_period=_scores_by_period(bt, OmegaConf.to_container(bt_cfg.periods), thresholds))
        result.backtest = bt
        if bt_cfg.reference:
            with _timed(timings, "backtest_reference"):
                ref_bt = bt if isinstance(model, Climatology) else run_backtest(
                    Climatology(), counts, data.triggers, origins, list(bt_cfg.horizons), thresholds,
                    **kwargs)[0]
            ref_scores = summarise_scores(ref_bt, thresholds)
            record.update(reference_scores=ref_scores, skill=skill(scores, ref_scores))
            result.reference_backtest = ref_bt
        log.info("backtest: %d origins, %d fits", info["origins"], info["fits"])

    if cfg.report.enabled:
        from forecast.report.run_report import write_run_report

        with _timed(timings, "report"):
            result.report_path = write_run_report(result, Path(cfg.paths.reports_dir) / f"{run_id}.pdf")
        record.update(report_path=str(result.report_path))
    return result


def _scores_by_period(bt: pd.DataFrame, periods: list[dict], thresholds: list[int]) -> dict:
    origin = pd.to_datetime(bt["origin"])
    out = {}
    for p in periods:
        part = bt[(origin >= pd.Timestamp(p["start"])) & (origin <= pd.Timestamp(p["end"]))]
        if len(part):
            out[p["name"]] = summarise_scores(part, thresholds)
    return out
