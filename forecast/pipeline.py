"""One experiment, end to end: load -> counts -> annotate -> fit -> forecast -> backtest -> record -> report."""
from __future__ import annotations

import hashlib
import logging
import re
import signal
import tempfile
import threading
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from forecast.config import DEFAULT_MODEL, DEFAULT_MODEL_REASON, build_model, check_known_keys, model_names
from forecast.data import daily_counts, detect_lulls, filter_events, load_events, load_official_counts, load_triggers
from forecast.data.counts import check_filters
from forecast.data.events import load_sites
from forecast.data.exposure import exposure as site_exposure
from forecast.data.summary import coverage, format_summary
from forecast.errors import ForecastInputError, ModelFitError
from forecast.evaluate import RefitPolicy, backtest_origins, paired_tests, run_backtest, skill, summarise_scores
from forecast.evaluate.calibration import calibration_summary
from forecast.evaluate.onsets import find_onsets, onset_table
from forecast.models.base import MAX_HORIZON, MAX_PATHS, CountForecast, FitSummary, Forecaster
from forecast.records import RunRecord, atomic_write_text, package_versions, resolved_yaml, write_csv, write_json
from forecast.report.record import reference_descriptions
from forecast.risk import lull_status, risk_table, scenario_difference, totals_frame

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    """An event set with everything derived from it for one run.

    ``sites`` is the sites file (None when ``data.sites`` is null) and ``exposure`` the number of those
    sites with US presence on each day of ``counts.index`` (only sites of the kinds the series counts,
    ``data.target_type``); None when there are no sites.
    """

    events: pd.DataFrame
    counts: pd.Series
    triggers: pd.DataFrame | None
    official: pd.DataFrame | None
    lulls: pd.DataFrame
    coverage: pd.DataFrame | None
    files: dict[str, str]
    sha256: str
    sites: pd.DataFrame | None = None
    exposure: pd.Series | None = None


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
    scenario_difference: pd.DataFrame | None = None  # scenario minus baseline, with its Monte Carlo error
    backtest: pd.DataFrame | None = None
    reference_backtests: dict[str, pd.DataFrame] = field(default_factory=dict)
    data_summary: str = ""
    report_path: Path | None = None


def load_dataset(data_cfg: DictConfig) -> Dataset:
    """Load and validate the event file, triggers, official counts and sites named in ``data``.

    The observation window (``data.start``/``data.end``, default: first/last event) is fixed on the whole
    file; the series then counts the events kept by the filters (country, weapon, confirmation, attacker,
    target_type, duplicates; the last three are no-ops on files without those columns).
    """
    events = load_events(data_cfg.events, format=str(getattr(data_cfg.format, "value", data_cfg.format)),
                         acled_actor=data_cfg.acled_actor, acled_target=data_cfg.acled_target,
                         countries=data_cfg.country, date_column=data_cfg.date_column,
                         count_column=data_cfg.count_column)
    counts = daily_counts(events, data_cfg.start, data_cfg.end, data_cfg.max_window_years)
    target_type = data_cfg.target_type
    kept = filter_events(events, country=data_cfg.country, weapon=data_cfg.weapon,
                         confirmation=data_cfg.confirmation, attacker=data_cfg.attacker,
                         target_type=target_type, duplicates=data_cfg.duplicates)
    if len(kept) < len(events):
        log.info("filters keep %d of %d events", len(kept), len(events))
        counts = daily_counts(kept, counts.index[0], counts.index[-1]) if len(kept) else counts * 0
    triggers = load_triggers(data_cfg.triggers) if data_cfg.triggers else None
    official = load_official_counts(data_cfg.official_counts) if data_cfg.official_counts else None
    sites = load_sites(data_cfg.sites) if data_cfg.sites else None
    exposure = (site_exposure(sites, counts.index, site_types=list(target_type) if target_type else None)
                if sites is not None else None)
    lulls = detect_lulls(counts, data_cfg.lull_min_days)
    lulls.attrs["min_days"] = data_cfg.lull_min_days
    files = {k: str(data_cfg[k]) for k in ("events", "triggers", "official_counts", "sites") if data_cfg[k]}
    loaded = [frame.attrs["sha256"] for frame in (events, triggers, official, sites) if frame is not None]
    return Dataset(kept, counts, triggers, official, lulls,
                   coverage(kept, official) if official is not None else None, files,
                   hashlib.sha256("".join(loaded).encode()).hexdigest(), sites, exposure)


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


def _date(key: str, value) -> pd.Timestamp:
    try:
        return pd.Timestamp(str(value)).normalize()
    except (ValueError, TypeError):
        raise ForecastInputError(f"'{value}' is not a date", column=key, hint="use YYYY-MM-DD") from None


def validate_config(cfg: DictConfig) -> Forecaster | None:
    """Every check composition cannot make, before any data is read or model fitted: values in range,
    dates that exist, lists increasing, regexes that compile, no unknown keys, output folders writable.
    Returns the (unfitted, checked) model of a ``task=run``."""
    check_known_keys(cfg)

    def positive_increasing(key: str, values) -> None:
        values = list(values)
        if not values or any(v < 1 for v in values):
            raise ForecastInputError(f"must be a non-empty list of integers >= 1, got {values}", column=key)
        if any(b <= a for a, b in zip(values, values[1:])):
            raise ForecastInputError(f"must be strictly increasing, got {values}", column=key)

    def in_range(key: str, low: int, high: int) -> None:
        value = OmegaConf.select(cfg, key)
        if not low <= value <= high:
            raise ForecastInputError(f"must be between {low:,} and {high:,}, got {value}", column=key)

    positive_increasing("risk.horizons", cfg.risk.horizons)
    positive_increasing("risk.thresholds", cfg.risk.thresholds)
    positive_increasing("backtest.horizons", cfg.backtest.horizons)
    for key, low, high in (("seed", 0, 2**32 - 1), ("n_paths", 10, MAX_PATHS), ("backtest.n_paths", 10, MAX_PATHS),
                           ("backtest.refit_every", 1, 10_000), ("backtest.min_train_days", 1, 100_000),
                           ("data.lull_min_days", 1, 10_000), ("data.max_window_years", 1, 200),
                           ("report.history_days", 1, 100_000),
                           ("blas_threads", 1, 256)):
        in_range(key, low, high)
    for key in ("risk.horizons", "backtest.horizons"):
        if max(OmegaConf.select(cfg, key)) > MAX_HORIZON:
            raise ForecastInputError(f"horizons are at most {MAX_HORIZON} days", column=key)
    dates = {k: _date(f"data.{k}", cfg.data[k]) for k in ("start", "end") if cfg.data[k] is not None}
    if len(dates) == 2 and dates["end"] < dates["start"]:
        raise ForecastInputError(f"data.end {dates['end'].date()} is before data.start {dates['start'].date()}",
                                 column="data.end")
    if cfg.origin is not None:
        _date("origin", cfg.origin)
    for i, period in enumerate(cfg.backtest.periods):
        if _date(f"backtest.periods[{i}].end", period.end) < _date(f"backtest.periods[{i}].start", period.start):
            raise ForecastInputError(f"period '{period.name}' ends before it starts", column=f"backtest.periods[{i}]")
    check_filters(attacker=cfg.data.attacker, target_type=cfg.data.target_type, duplicates=cfg.data.duplicates)
    unknown = [r for r in cfg.backtest.references if r not in model_names()]
    if unknown:
        raise ForecastInputError(f"unknown reference model '{unknown[0]}'", column="backtest.references",
                                 hint=f"use model names: {', '.join(model_names())}")
    for key in ("acled_actor", "acled_target"):
        try:
            re.compile(cfg.data[key] or "")
        except re.error as e:
            raise ForecastInputError(f"not a valid regular expression: {e}", column=f"data.{key}") from None
    if cfg.report.enabled and cfg.task.value == "run":
        writable_folder("paths.reports_dir", Path(cfg.paths.reports_dir))
    if cfg.task.value != "run":
        return None
    try:
        model = instantiate(cfg.model, _convert_="all")
    except InstantiationException as e:
        raise ForecastInputError(f"cannot build the model: {e.__cause__ or e}", column="model") from None
    return model.check_params()


def writable_folder(key: str, folder: Path) -> None:
    """Create ``folder`` if needed and prove it takes a file, before any work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as e:
        raise ForecastInputError(f"cannot write to {folder}: {e.strerror or e}", column=key,
                                 hint="choose a writable folder") from None


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
    writable_folder("paths.experiments_dir", folder)
    run_id = folder.name if folder.parent.name == "runs" else f"{folder.parent.name}_{folder.name}"
    timings: dict[str, float] = {}
    start = time.perf_counter()
    caught: list[warnings.WarningMessage] = []
    record = None
    try:
        with _signals_deferred():  # a signal arriving while the record is created is handled once it exists
            record = RunRecord(folder, run_id=run_id, model=cfg.model_name, task=str(cfg.task.value),
                               name=cfg.name, seed=cfg.seed, data_sha256=None, versions=package_versions(),
                               timings_s={}, report_path=None)
        atomic_write_text(folder / "config_resolved.yaml", resolved_yaml(cfg))
        with threadpool_limits(limits=int(cfg.blas_threads)), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _run(cfg, record, run_id, folder, timings)
    except BaseException as e:  # every way a run can end is written to the record
        if record is None:
            raise
        timings["total"] = round(time.perf_counter() - start, 4)
        record.update(timings_s=timings, warnings=_warning_summary(caught))
        if isinstance(e, KeyboardInterrupt):
            record.finish(str(e) or "interrupted", status="interrupted")
        else:
            known = isinstance(e, (ForecastInputError, ModelFitError, OSError))
            record.finish(str(e) if known else f"internal error: {type(e).__name__}: {e}")
        raise
    timings["total"] = round(time.perf_counter() - start, 4)
    record.update(timings_s=timings, warnings=_warning_summary(caught))
    record.finish()
    result.metrics = record.metrics
    return result


@contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while the block runs; a pending one is delivered (and raises) when it ends."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _warning_summary(caught: list) -> dict[str, int]:
    """Library warnings (e.g. statsmodels' convergence warnings) counted by category, logged once each."""
    counts = Counter(w.category.__name__ for w in caught)
    for name, n in counts.items():
        first = next(w for w in caught if w.category.__name__ == name)
        log.warning("%d x %s (first: %s)", n, name, str(first.message).splitlines()[0][:200])
    return dict(counts)


def _run(cfg: DictConfig, record: RunRecord, run_id: str, folder: Path, timings: dict) -> RunResult:
    model = validate_config(cfg)
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
    _write_data_record(folder, data)
    if cfg.task.value == "data":
        return result

    counts = data.counts
    origin = pd.Timestamp(cfg.origin) if cfg.origin else counts.index[-1]
    if not counts.index[0] <= origin <= counts.index[-1]:
        raise ForecastInputError(f"origin {origin.date()} lies outside the data window "
                                 f"{counts.index[0].date()}..{counts.index[-1].date()}", column="origin")
    train = counts.loc[:origin]
    with _timed(timings, "fit"):
        model.fit(train, data.triggers, data.exposure)
        summary = model.summary()
    log.info("fit %s on %d days: loglik %.2f", cfg.model_name, len(train), summary.loglik)
    if summary.n_obs < 3 * summary.n_params:
        log.warning("%s has %d parameters but only %d observations: estimates will be unstable",
                    cfg.model_name, summary.n_params, summary.n_obs)
    write_csv(folder / "params.csv", summary.table().reset_index(names="parameter"))
    fit_doc, fit_series = summary.record()
    write_json(folder / "fit_summary.json", fit_doc)
    write_csv(folder / "fit_series.csv", fit_series.reset_index())
    record.update(model_choice=DEFAULT_MODEL_REASON if cfg.model_name == DEFAULT_MODEL else
                  f"chosen by the configuration (model={cfg.model_name})")
    record.update(params=summary.params, stderr=summary.stderr, loglik=summary.loglik, aic=summary.aic,
                  n_obs=summary.n_obs, diagnostics=fit_doc["diagnostics"], origin=origin.strftime("%Y-%m-%d"),
                  is_baseline=bool(model.is_baseline), uses_triggers=bool(model.uses_triggers))

    horizon = max(cfg.risk.horizons)
    with _timed(timings, "forecast"):
        fc = model.forecast(horizon)
        risk = risk_table(fc, list(cfg.risk.horizons), list(cfg.risk.thresholds))
        lull = lull_status(train, fc, list(cfg.risk.horizons), cfg.data.lull_min_days)
    write_csv(folder / "forecast.csv", fc.summary_frame())
    write_csv(folder / "forecast_bands.csv", fc.summary_frame(levels=BAND_LEVELS))
    write_csv(folder / "forecast_totals.csv", totals_frame(fc, list(cfg.risk.thresholds)))
    write_csv(folder / "risk.csv", risk)
    record.update(lull=lull, risk={f"p_ge{r.threshold}_{r.horizon_days}d": r.probability
                                   for r in risk.itertuples()})
    result.model, result.summary, result.forecast, result.risk, result.lull = model, summary, fc, risk, lull

    if cfg.scenario is not None:
        future = scenario_triggers(cfg.scenario, origin)
        with _timed(timings, "scenario"):
            fc_s = model.forecast(horizon, future_triggers=future)
            risk_s = risk_table(fc_s, list(cfg.risk.horizons), list(cfg.risk.thresholds))
            # scenario minus baseline (shared random numbers) with its Monte Carlo error; what it leaves out
            # (the uncertainty of the fitted effects) is said in scenario.json's "method"
            diff, method = scenario_difference(model, fc, fc_s, future, list(cfg.risk.horizons),
                                               list(cfg.risk.thresholds))
        write_csv(folder / "scenario_forecast.csv", fc_s.summary_frame())
        write_csv(folder / "scenario_risk.csv", risk_s)
        write_csv(folder / "scenario_totals.csv", totals_frame(fc_s, list(cfg.risk.thresholds)))
        write_csv(folder / "scenario_difference.csv", diff)
        write_json(folder / "scenario.json", {
            "name": cfg.scenario.name, "description": cfg.scenario.description,
            "triggers": OmegaConf.to_container(cfg.scenario.triggers, resolve=True), "method": method})
        result.scenario, result.scenario_difference = (cfg.scenario.name, fc_s, risk_s), diff
        if not model.uses_triggers:
            log.warning("%s has no trigger features: the scenario equals the baseline forecast", cfg.model_name)

    if cfg.backtest.enabled:
        _backtest(cfg, model, data, folder, record, result, timings)

    if cfg.report.enabled:
        from forecast.report.run_report import write_run_report

        with _timed(timings, "report"):  # rendered from the record folder alone, as forecast-report does
            result.report_path = write_run_report(folder, Path(cfg.paths.reports_dir) / f"{run_id}.pdf")
        record.update(report_path=str(result.report_path))
    return result


BAND_LEVELS = (0.5, 0.8, 0.9, 0.95)  # central intervals of forecast_bands.csv (the fan chart's nested bands)


def _write_data_record(folder: Path, data: Dataset) -> None:
    """The series a report draws, so it can be rendered from the record alone: daily counts with
    exposure and lull flags, the lulls, and the triggers inside the window."""
    frame = pd.DataFrame({"date": data.counts.index.strftime("%Y-%m-%d"), "count": data.counts.to_numpy()})
    if data.exposure is not None:
        frame["exposure"] = data.exposure.reindex(data.counts.index).to_numpy()
    in_lull = np.zeros(len(frame), dtype=bool)
    for r in data.lulls.itertuples():
        in_lull |= ((data.counts.index >= r.start) & (data.counts.index <= r.end))
    frame["in_lull"] = in_lull
    write_csv(folder / "counts.csv", frame)
    write_csv(folder / "lulls.csv", data.lulls)
    if data.triggers is not None:
        window = data.triggers["date"].between(data.counts.index[0], data.counts.index[-1])
        write_csv(folder / "triggers_used.csv", data.triggers.loc[window, ["date", "kind", "name"]])


def _backtest(cfg: DictConfig, model: Forecaster, data: Dataset, folder: Path, record: RunRecord, result: RunResult,
              timings: dict) -> None:
    """Backtest the model and each reference baseline on the same origins; record scores per period and
    horizon, skill against each reference and paired Diebold-Mariano tests (pooled and per period)."""
    bt_cfg = cfg.backtest
    periods = OmegaConf.to_container(bt_cfg.periods)
    origins = backtest_origins(data.counts.index, periods, bt_cfg.min_train_days)
    thresholds, horizons = list(cfg.risk.thresholds), list(bt_cfg.horizons)
    kwargs = dict(policy=RefitPolicy(bt_cfg.refit_every, bt_cfg.refit_on_surprise), n_paths=bt_cfg.n_paths,
                  seed=cfg.seed, exposure=data.exposure)
    with _timed(timings, "backtest"):
        bt, info = run_backtest(model, data.counts, data.triggers, origins, horizons, thresholds, **kwargs)
    write_csv(folder / "backtest.csv", bt)
    scores = summarise_scores(bt, thresholds)
    record.update(scores=scores, backtest_info=info.as_dict(),
                  scores_by_period=_by_period(bt, periods, lambda part: summarise_scores(part, thresholds)))
    result.backtest = bt
    log.info("backtest: %d origins, %d fits", info.origins, info.fits)
    write_json(folder / "references.json", reference_descriptions(list(bt_cfg.references)))
    refs: dict[str, dict] = {"reference_scores": {}, "skill_by_reference": {}, "skill_by_period": {},
                             "paired_tests": {}}
    for name in bt_cfg.references:
        reference = build_model(name, seed=cfg.seed, n_paths=bt_cfg.n_paths)
        same = type(reference) is type(model) and reference.get_params() == model.get_params()
        with _timed(timings, f"backtest_{name}"):
            ref_bt = bt if same else run_backtest(reference, data.counts, data.triggers, origins, horizons,
                                                  thresholds, **kwargs)[0]
        write_csv(folder / f"backtest_reference_{name}.csv", ref_bt)
        ref_scores = summarise_scores(ref_bt, thresholds)
        refs["reference_scores"][name] = ref_scores
        refs["skill_by_reference"][name] = skill(scores, ref_scores, thresholds)
        refs["skill_by_period"][name] = _by_period(bt, periods, lambda part, ref_bt=ref_bt: skill(
            summarise_scores(part, thresholds), summarise_scores(_same_origins(ref_bt, part), thresholds), thresholds))
        refs["paired_tests"][name] = {"all": paired_tests(bt, ref_bt), **_by_period(
            bt, periods, lambda part, ref_bt=ref_bt: paired_tests(part, ref_bt))}
        result.reference_backtests[name] = ref_bt
    if bt_cfg.references:
        primary = bt_cfg.references[0]
        record.update(skill_reference=primary, skill=refs["skill_by_reference"][primary], **refs)
    record.update(calibration=calibration_summary(bt, thresholds, periods))
    onsets = find_onsets(data.counts, min_quiet_days=cfg.data.lull_min_days)
    table = onset_table({str(cfg.model_name): bt, **result.reference_backtests}, onsets, triggers=data.triggers)
    write_csv(folder / "onsets.csv", table)


def _same_origins(bt: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    return bt[bt["origin"].isin(like["origin"])]


def _by_period(bt: pd.DataFrame, periods: list[dict], summarise) -> dict:
    """``summarise`` applied to the backtest rows of each period (periods without rows left out)."""
    origin = pd.to_datetime(bt["origin"])
    out = {}
    for p in periods:
        part = bt[(origin >= pd.Timestamp(p["start"])) & (origin <= pd.Timestamp(p["end"]))]
        if len(part):
            out[p["name"]] = summarise(part)
    return out
