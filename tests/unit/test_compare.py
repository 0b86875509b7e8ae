"""The comparison analysts read (forecast.compare): ranking, paired tests, per-period scores, refusal of
mixed data or periods, unreadable records, spreadsheet-formula escaping, runs that did not end ok."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from forecast.cli import compare_main
from forecast.compare import compare, leaderboard, load_runs, paired_tests
from forecast.errors import ForecastInputError
from forecast.records import escape_formulas

SHA = "a" * 64
ORIGINS = [f"2024-11-{d:02d}" for d in range(1, 13)]
PERIODS = [{"name": "early", "start": "2024-11-01", "end": "2024-11-06"},
           {"name": "late", "start": "2024-11-07", "end": "2024-11-12"}]


def _summary(frame: pd.DataFrame) -> dict:
    """Per-horizon means of a backtest frame, shaped like metrics.json ``scores``."""
    return {str(h): {"log_score": g["log_score"].mean(), "rps": g["rps"].mean(), "mae": 0.5, "coverage_50": 0.5,
                     "coverage_90": 0.9, "n_origins": float(len(g)), "brier_ge1": 0.2}
            for h, g in frame.groupby("horizon")}


def write_run(root: Path, model: str, log_scores: dict[int, list[float]] | None, *, status: str = "ok",
              sha: str | None = SHA, periods: list[dict] | None = PERIODS, origins: list[str] = ORIGINS,
              name: str | None = None, **metrics) -> Path:
    """A hand-made run record in ``root/(name or model)``: metrics.json, backtest.csv (one log score per
    origin), config_resolved.yaml (unless ``periods`` is None) and forecast.csv; ``log_scores=None`` writes
    no backtest."""
    folder = root / (name or model)
    folder.mkdir(parents=True)
    record = {"status": status, "error": None if status == "ok" else f"{status} by test", "run_id": f"run_{model}",
              "model": model, "task": "run", "seed": 0, "data_sha256": sha}
    if log_scores is not None:
        bt = pd.DataFrame([{"origin": o, "horizon": h, "observed_total": 1, "mean": 1.0, "q05": 0, "q50": 1, "q95": 3,
                            "p_zero": 0.3, "log_score": s, "rps": s / 2, "p_ge1": 0.7}
                           for h, values in log_scores.items() for o, s in zip(origins, values)])
        bt.to_csv(folder / "backtest.csv", index=False)
        when = pd.to_datetime(bt["origin"])
        record["scores"] = _summary(bt)
        record["skill"] = {h: {"rps_skill": 0.1, "log_score_diff": -0.1} for h in record["scores"]}
        record["scores_by_period"] = {p["name"]: _summary(bt[(when >= p["start"]) & (when <= p["end"])])
                                      for p in periods or []}
    (folder / "metrics.json").write_text(json.dumps({**record, **metrics}))
    if periods is not None:
        (folder / "config_resolved.yaml").write_text(yaml.safe_dump({"backtest": {"enabled": True,
                                                                                  "periods": periods}}))
    pd.DataFrame({"date": pd.date_range("2024-11-13", periods=3).strftime("%Y-%m-%d"), "step": [1, 2, 3],
                  "mean": 1.0, "q05": 0, "q25": 0, "q50": 1, "q75": 2, "q95": 3, "p_ge1": 0.6}) \
        .to_csv(folder / "forecast.csv", index=False)
    return folder


def flat(value: float, n: int = len(ORIGINS)) -> list[float]:
    return [value] * n


def ranks(board: pd.DataFrame) -> dict[tuple[int, str], int]:
    ranked = board.dropna(subset=["rank"])
    return {(int(h), m): int(r) for h, m, r in zip(ranked["horizon"], ranked["model"], ranked["rank"])}


def test_leaderboard_ranks_lowest_mean_log_score_first_within_each_horizon(tmp_path):
    write_run(tmp_path, "hawkes", {1: flat(0.5), 7: flat(2.0)})
    write_run(tmp_path, "negbin", {1: flat(0.9), 7: flat(1.2)})
    write_run(tmp_path, "poisson", {1: flat(0.7), 7: flat(1.5)})
    board = compare([tmp_path], out_dir=tmp_path / "cmp", report=False).leaderboard
    assert ranks(board) == {(1, "hawkes"): 1, (1, "poisson"): 2, (1, "negbin"): 3,
                            (7, "negbin"): 1, (7, "poisson"): 2, (7, "hawkes"): 3}
    assert list(board["model"]) == ["hawkes", "poisson", "negbin", "negbin", "poisson", "hawkes"]  # best first
    assert board.set_index(["horizon", "model"]).loc[(7, "negbin"), "log_score"] == pytest.approx(1.2)


def test_leaderboard_ties_share_the_better_rank(tmp_path):
    for model, score in (("negbin", 0.8), ("hawkes", 0.8), ("poisson", 0.3)):
        write_run(tmp_path, model, {1: flat(score)})
    board = leaderboard(load_runs(sorted(tmp_path.iterdir())))
    assert ranks(board) == {(1, "poisson"): 1, (1, "hawkes"): 2, (1, "negbin"): 2}
    assert list(board["model"]) == ["poisson", "hawkes", "negbin"]  # ties in label order


def test_paired_tests_compare_each_model_with_the_lowest_mean_log_score(tmp_path):
    noise = np.random.default_rng(0).normal(0, 0.05, len(ORIGINS))
    write_run(tmp_path, "hawkes", {1: list(1.0 + noise), 7: list(1.6 - noise)})
    write_run(tmp_path, "negbin", {1: list(1.5 - noise), 7: list(1.0 + noise)})
    write_run(tmp_path, "poisson", {1: list(1.02 + noise[::-1]), 7: list(1.3 - noise)})
    sig = compare([tmp_path], out_dir=tmp_path / "cmp", report=False).significance.set_index(["horizon", "model"])
    assert set(sig.index) == {(1, "negbin"), (1, "poisson"), (7, "hawkes"), (7, "poisson")}
    assert list(sig.loc[1, "best"]) == ["hawkes", "hawkes"] and list(sig.loc[7, "best"]) == ["negbin", "negbin"]
    assert (sig["mean_log_score_diff"] > 0).all() and (sig["dm_stat"] > 0).all()
    assert sig.loc[(1, "negbin"), "p_value"] < 1e-6  # clearly worse
    assert sig.loc[(1, "poisson"), "p_value"] > 0.05  # about as good
    assert (sig["n_origins"] == len(ORIGINS)).all()


def test_paired_tests_pick_the_best_on_the_origins_all_runs_share(tmp_path):
    # hawkes is bad on the first three origins, where negbin could not be fitted (no rows there)
    write_run(tmp_path, "hawkes", {1: [5.0] * 3 + flat(1.0, 9)})
    write_run(tmp_path, "negbin", {1: flat(1.5, 9)}, origins=ORIGINS[3:], backtest_info={"failed_origins": 3})
    sig = paired_tests(load_runs(sorted(tmp_path.iterdir())))
    assert sig[["model", "best", "n_origins"]].values.tolist() == [["negbin", "hawkes", 9]]
    assert sig["mean_log_score_diff"].iloc[0] == pytest.approx(0.5)


def test_per_period_scores_are_ranked_within_each_period_and_horizon(tmp_path):
    write_run(tmp_path, "hawkes", {1: flat(0.5, 6) + flat(2.0, 6)})
    write_run(tmp_path, "negbin", {1: flat(1.0, 6) + flat(1.0, 6)})
    result = compare([tmp_path], out_dir=tmp_path / "cmp", report=False)
    by_period = result.by_period.set_index(["period", "model"])
    assert by_period.loc[("early", "hawkes"), "log_score"] == pytest.approx(0.5)
    assert by_period.loc[("late", "hawkes"), "log_score"] == pytest.approx(2.0)
    assert by_period["rank"].to_dict() == {("early", "hawkes"): 1, ("early", "negbin"): 2,
                                           ("late", "negbin"): 1, ("late", "hawkes"): 2}
    assert ranks(result.leaderboard) == {(1, "negbin"): 1, (1, "hawkes"): 2}  # 1.0 vs 1.25 over all origins
    assert len(pd.read_csv(tmp_path / "cmp" / "leaderboard_by_period.csv")) == 4


MIXED = {  # what the second run changes -> the word the refusal must use
    "data": (dict(sha="b" * 64), "data_sha256"),
    "periods": (dict(periods=[{**PERIODS[0], "end": "2024-11-05"}, PERIODS[1]]), "backtest periods"),
    "origins": (dict(periods=None, origins=ORIGINS[2:] + ["2024-11-13", "2024-11-14"]), "backtest origins"),
    "horizons": (dict(extra_horizon=True), "horizons"),
}


def _mixed_pair(tmp_path: Path, change: dict) -> tuple[Path, Path]:
    change = dict(change)
    scores = {1: flat(1.0), **({7: flat(2.0)} if change.pop("extra_horizon", False) else {})}
    first = write_run(tmp_path, "hawkes", {1: flat(0.8)}, periods=None if "origins" in change else PERIODS)
    return first, write_run(tmp_path, "negbin", scores, **change)


@pytest.mark.parametrize("case", MIXED)
def test_runs_on_different_data_or_periods_are_refused(tmp_path, case, capsys, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # compare_main sets it; restored after the test
    change, word = MIXED[case]
    first, second = _mixed_pair(tmp_path, change)
    with pytest.raises(ForecastInputError, match=word) as err:
        compare([tmp_path], out_dir=tmp_path / "cmp", report=False)
    assert str(first) in str(err.value) and str(second) in str(err.value)
    with pytest.raises(SystemExit) as exit_:
        compare_main([str(tmp_path), "--no-report", "--out-dir", str(tmp_path / "cmp")])
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2 and len(stderr.strip().splitlines()) == 1 and "--allow-mixed" in stderr
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("case", MIXED)
def test_allow_mixed_ranks_anyway_and_flags_the_runs_that_differ(tmp_path, case):
    change, word = MIXED[case]
    _mixed_pair(tmp_path, change)
    result = compare([tmp_path], out_dir=tmp_path / "cmp", report=False, allow_mixed=True)
    assert word in result.warning and "negbin" in result.warning
    board = pd.read_csv(result.leaderboard_path)
    assert board.groupby("model")["comparable"].all().to_dict() == {"hawkes": True, "negbin": False}
    assert ranks(board)[(1, "hawkes")] == 1 and ranks(board)[(1, "negbin")] == 2


def test_same_data_and_periods_are_comparable_even_with_failed_origins(tmp_path):
    write_run(tmp_path, "hawkes", {1: flat(1.0)})
    write_run(tmp_path, "negbin", {1: flat(1.0, 10)}, origins=ORIGINS[2:], backtest_info={"failed_origins": 2})
    result = compare([tmp_path], out_dir=tmp_path / "cmp", report=False)
    assert result.warning is None and result.leaderboard["comparable"].all()


def _extend_line(path: Path, line: int, extra: bytes) -> bytes:
    lines = path.read_bytes().splitlines()
    lines[line] += extra
    return b"\n".join(lines) + b"\n"


def _metrics(folder: Path, encoding: str = "utf-8", **changes) -> bytes:
    m = json.loads((folder / "metrics.json").read_text())
    return json.dumps({k: v for k, v in {**m, **changes}.items() if v is not ...}, ensure_ascii=False).encode(encoding)


UNREADABLE = {  # name -> (file, its new bytes given the run folder)
    "metrics not json": ("metrics.json", lambda f: b'{"status": "ok", "model": '),
    "metrics not utf-8": ("metrics.json", lambda f: _metrics(f, "latin-1", model="caf\u00e9")),
    "metrics a list": ("metrics.json", lambda f: b'[{"status": "ok"}]'),
    "metrics without run_id": ("metrics.json", lambda f: _metrics(f, run_id=...)),
    "ok metrics without data_sha256": ("metrics.json", lambda f: _metrics(f, data_sha256=...)),
    "metrics scores not numbers": ("metrics.json", lambda f: _metrics(f, scores={"1": {"log_score": "low"}})),
    "metrics scores a list": ("metrics.json", lambda f: _metrics(f, scores=[0.5])),
    "backtest empty file": ("backtest.csv", lambda f: b""),
    "backtest header only": ("backtest.csv", lambda f: (f / "backtest.csv").read_bytes().splitlines()[0] + b"\n"),
    "backtest ragged row": ("backtest.csv", lambda f: _extend_line(f / "backtest.csv", 3, b",9,9,9")),
    "backtest binary": ("backtest.csv", lambda f: bytes(range(256)) * 4),
    "backtest missing log_score": ("backtest.csv", lambda f: (f / "backtest.csv").read_bytes()
                                   .replace(b"log_score", b"logscore")),
    "backtest text score": ("backtest.csv", lambda f: (f / "backtest.csv").read_bytes().replace(b",0.5,", b",low,", 1)),
    "backtest bad origin": ("backtest.csv", lambda f: (f / "backtest.csv").read_bytes().replace(b"2024-11-05",
                                                                                               b"yesterday", 1)),
    "backtest duplicate rows": ("backtest.csv", lambda f: (f / "backtest.csv").read_bytes()
                                + (f / "backtest.csv").read_bytes().splitlines()[1] + b"\n"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_unreadable_record_is_skipped_with_a_warning_naming_the_file(tmp_path, case, caplog):
    file, corrupt = UNREADABLE[case]
    write_run(tmp_path, "climatology", {1: flat(1.0)})
    bad = write_run(tmp_path, "hawkes", {1: flat(0.5)})
    (bad / file).write_bytes(corrupt(bad))
    with caplog.at_level(logging.WARNING, logger="forecast.compare"):
        result = compare([tmp_path], out_dir=tmp_path / "cmp", report=False)
    assert list(result.leaderboard["model"]) == ["climatology"]
    assert any(str(bad / file) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    (tmp_path / "climatology" / "metrics.json").write_text("[]")
    with pytest.raises(ForecastInputError, match="no readable forecasting run") as err:
        compare([tmp_path], out_dir=tmp_path / "cmp2", report=False)
    assert str(bad) in str(err.value) and str(tmp_path / "climatology") in str(err.value)


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_runs_that_did_not_end_ok_are_listed_but_not_ranked(tmp_path, status):
    write_run(tmp_path, "hawkes", {1: flat(1.0)})
    write_run(tmp_path, "negbin", {1: flat(0.1)}, status=status)  # scores written before the end: not ranked
    write_run(tmp_path, "poisson", None, status=status, sha=None)
    write_run(tmp_path, "arima", {1: flat(2.0)})
    write_run(tmp_path, "naive", None)  # ok, but backtest=none: nothing to rank
    board = compare([tmp_path], out_dir=tmp_path / "cmp", report=False).leaderboard
    assert ranks(board) == {(1, "hawkes"): 1, (1, "arima"): 2}
    listed = board[board["status"] == status]
    assert set(listed["model"]) == {"negbin", "poisson"} and listed["rank"].isna().all()
    assert listed["horizon"].isna().all() and (listed["error"] == f"{status} by test").all()
    assert list(board["model"][-3:]) == ["naive", "negbin", "poisson"]  # after the ranked rows


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_escaped_and_numbers_untouched(tmp_path, prefix):
    payload = f"{prefix}HYPERLINK(\"http://x\")"
    write_run(tmp_path, payload, {1: flat(1.0)}, name="evil", run_id="run_evil",
              skill={"1": {"rps_skill": -0.25, "log_score_diff": -0.5}})
    write_run(tmp_path, "negbin", {1: flat(2.0)})
    write_run(tmp_path, "hawkes", None, status="failed", error=payload)
    result = compare([tmp_path], out_dir=tmp_path / "cmp", report=False)
    board = result.leaderboard_path.read_bytes().decode()
    quoted = payload.replace('"', '""')  # CSV doubles the quotes inside a quoted field
    # label, model and best_model of its own row, best_model of negbin's row, error of the failed run
    assert board.count(quoted) == board.count("'" + quoted) == 5
    assert ",run_evil,ok,,1,1,True," in board  # the best run's row: horizon 1, rank 1, best
    parsed = pd.read_csv(result.leaderboard_path).set_index("run_id")
    assert parsed.loc["run_evil", "rps_skill_vs_reference"] == -0.25  # negative numbers stay numbers
    assert parsed.loc["run_negbin", "log_score_diff_vs_best"] == 1.0
    assert result.leaderboard.loc[0, "model"] == payload  # only the file is escaped
    significance = (tmp_path / "cmp" / "significance.csv").read_bytes().decode()
    assert significance.count(quoted) == significance.count("'" + quoted) == 1


def test_escape_formulas_escapes_text_cells_and_column_names_only():
    frame = pd.DataFrame({"name": ["=1+1", "safe", "-x", None], "value": [-1.5, 2.0, np.nan, 3.0],
                          "@col": ["@a", "b", "c", "\rd"]})
    out = escape_formulas(frame)
    assert list(out.columns) == ["name", "value", "'@col"]
    assert out["name"].tolist()[:3] == ["'=1+1", "safe", "'-x"] and pd.isna(out["name"].iloc[3])
    assert out["'@col"].tolist() == ["'@a", "b", "c", "'\rd"]
    pd.testing.assert_series_equal(out["value"], frame["value"])
    assert frame["name"].iloc[0] == "=1+1"  # input unchanged


def test_comparison_pdf_is_built(tmp_path):
    from pypdf import PdfReader

    write_run(tmp_path / "runs", "hawkes", {1: flat(0.5)})
    write_run(tmp_path / "runs", "negbin", {1: flat(0.7)})
    write_run(tmp_path / "runs", "poisson", None, status="interrupted")
    result = compare([tmp_path / "runs"], out_dir=tmp_path / "cmp", reports_dir=tmp_path / "reports")
    assert result.report_path.parent == tmp_path / "reports"
    text = "".join(p.extract_text() for p in PdfReader(result.report_path).pages)
    assert "Leaderboard" in text and "1-day totals" in text and "Paired significance" in text
    assert "interrupted" in text
