"""What the comparison says (forecast.compare, forecast.report.compare_report): every model's current risk
next to its scores, one definition of best, tests against the reference baseline in the right words, Holm
adjustment, labels from overrides, the mixed-runs warning, the PDF's name, text, fonts and bytes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.colors import rgb_to_hsv, to_rgb

from forecast.compare import BEST_RULE, compare, find_runs, holm, load_runs, paired_tests, reference_tests, versus_words
from forecast.report.compare_figures import run_colors

SHA = "c" * 64
ORIGINS = [f"2024-11-{d:02d}" for d in range(1, 13)]
PERIODS = [{"name": "early", "start": "2024-11-01", "end": "2024-11-06"},
           {"name": "late", "start": "2024-11-07", "end": "2024-11-12"}]
HORIZONS = (1, 7)
RISK_H, THRESHOLDS = (1, 7, 14), (1, 3)


def _test(mean_diff: float, p: float) -> dict:
    return {"mean_diff": mean_diff, "dm_stat": float(np.sign(mean_diff) * 2.0) if mean_diff else None,
            "dm_p": p if mean_diff else None, "n_origins": len(ORIGINS)}


def write_record(root: Path, folder: str, model: str, *, level: float, versus: tuple[float, float] = (0.0, 1.0),
                 p_ge1_7d: float = 0.1, overrides: list[str] | None = None, sha: str = SHA,
                 config: dict | None = None, status: str = "ok") -> Path:
    """A run record like the pipeline writes: metrics.json (scores, skill vs nb_window, paired tests per
    period, calibration, risk), backtest.csv, risk.csv, forecast.csv, config_resolved.yaml and
    .hydra/overrides.yaml. ``level``: its log score at every origin (+0.01 a day of noise);
    ``versus``: (mean log-score difference, DM p) against nb_window at every horizon and period."""
    d = root / folder
    (d / ".hydra").mkdir(parents=True)
    rng = np.random.default_rng(abs(hash(folder)) % 2**32)
    bt = pd.DataFrame([{"origin": o, "horizon": h, "observed_total": 1, "mean": 1.0, "q05": 0, "q50": 1, "q95": 3,
                        "p_zero": 0.3, "log_score": level * h + rng.normal(0, 0.01), "rps": 0.1, "p_ge1": 0.6,
                        "p_ge3": 0.2} for h in HORIZONS for o in ORIGINS])
    bt.to_csv(d / "backtest.csv", index=False)
    scores = {str(h): {"log_score": float(g["log_score"].mean()), "rps": 0.1, "mae": 0.5, "coverage_50": 0.5,
                       "coverage_90": 0.9, "brier_ge1": 0.2, "n_origins": float(len(g))}
              for h, g in bt.groupby("horizon")}
    diff, p = versus
    skill = {str(h): {"log_score_diff": diff, "rps_skill": -diff} for h in HORIZONS}
    rel = {"bin_lo": [0.0, 0.5], "bin_hi": [0.5, 1.0], "n": [4, 8], "mean_forecast": [0.3, 0.7],
           "observed_freq": [0.25, 0.75], "lo90": [0.05, 0.4], "hi90": [0.7, 0.95]}
    states = {"pit": "uniform", "coverage_50": "as nominal", "coverage_90": "as nominal",
              "ge1": "over-predicts" if model == "poisson" else "calibrated in the large"}
    one = {"coverage_50": 0.5, "coverage_90": 0.9, "pit_p_value": 0.4, "reliability": {"ge1": rel}, "states": states,
           "verdicts": []}
    calibration = {"rules": ["PIT: a rule."], "periods": {q["name"]: {
        "start": q["start"], "end": q["end"], "horizons": {str(h): one for h in HORIZONS}} for q in PERIODS}}
    risk = pd.DataFrame([{"horizon_days": h, "threshold": k,
                          "probability": round(min(p_ge1_7d * h / 7 / k, 0.99), 6),
                          "expected_total": round(p_ge1_7d * h / 7 * 1.3, 6), "lo90": 0, "hi90": h // 7 + 1}
                         for h in RISK_H for k in THRESHOLDS])
    risk.to_csv(d / "risk.csv", index=False)
    metrics = {"status": status, "error": None, "run_id": f"run_{folder}", "model": model, "task": "run", "seed": 0,
               "data_sha256": sha, "origin": "2024-11-20", "scores": scores, "skill_reference": "nb_window",
               "skill": skill, "skill_by_reference": {"nb_window": skill},
               "skill_by_period": {"nb_window": {q["name"]: skill for q in PERIODS}},
               "scores_by_period": {q["name"]: scores for q in PERIODS},
               "paired_tests": {"nb_window": {k: {str(h): _test(diff, p) for h in HORIZONS}
                                              for k in ["all"] + [q["name"] for q in PERIODS]}},
               "calibration": calibration, "is_baseline": model in ("nb_window", "climatology"),
               "risk": {f"p_ge{r.threshold}_{r.horizon_days}d": r.probability for r in risk.itertuples()},
               "params": {"baseline": level, "decay": 0.5}, "stderr": {"baseline": 0.01}}
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "config_resolved.yaml").write_text(yaml.safe_dump({**(config or {}), "backtest": {"periods": PERIODS}}))
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides if overrides is not None else
                                                                [f"model={model}", "backtest=quick", "report=none",
                                                                 f"paths.experiments_dir={root}"]))
    pd.DataFrame({"date": pd.date_range("2024-11-21", periods=14).strftime("%Y-%m-%d"), "step": range(1, 15),
                  "mean": p_ge1_7d, "q05": 0, "q25": 0, "q50": 0, "q75": 1, "q95": 2, "p_ge1": p_ge1_7d}) \
        .to_csv(d / "forecast.csv", index=False)
    return d


MODELS = {  # folder -> (model, mean log score per day of horizon, (diff, p) vs nb_window, P(>=1 in 7 d))
    "0_climatology": ("climatology", 0.60, (0.30, 0.001), 0.35),  # significantly worse than nb_window
    "1_nb_window": ("nb_window", 0.40, (0.0, 1.0), 0.20),
    "2_poisson": ("poisson", 0.45, (0.05, 0.40), 0.13),  # worse, not significantly
    "3_hawkes": ("hawkes", 0.35, (-0.05, 0.30), 0.25),  # best, better than nb_window but not significantly
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep") / "2024-11-20_12-00-00_000001_42"
    for folder, (model, level, versus, p) in MODELS.items():
        write_record(root, folder, model, level=level, versus=versus, p_ge1_7d=p)
    return root


EPOCH = "1700000000"  # SOURCE_DATE_EPOCH of the module's comparison (2023-11-14)


@pytest.fixture(scope="module")
def result(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        return compare([sweep], out_dir=out / "cmp", reports_dir=out / "reports")


@pytest.fixture(scope="module")
def pdf_text(result) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() for p in PdfReader(result.report_path).pages]


# ------------------------------------------------------------------------------------------ risk
def test_leaderboard_risk_columns_equal_each_runs_risk_csv(result):
    board = pd.read_csv(result.leaderboard_path)
    assert len(board) == len(MODELS) * len(HORIZONS)
    for run in result.runs:
        risk = pd.read_csv(run.folder / "risk.csv")
        rows = board[board["label"] == run.label]
        for r in risk.itertuples():
            h, k = int(r.horizon_days), int(r.threshold)
            assert rows[f"p_ge{k}_{h}d"].tolist() == pytest.approx([r.probability] * len(HORIZONS)), (run.label, h)
            assert rows[f"expected_total_{h}d"].tolist() == pytest.approx([r.expected_total] * len(HORIZONS))
            assert (rows[f"lo90_{h}d"] == r.lo90).all() and (rows[f"hi90_{h}d"] == r.hi90).all()
        assert (rows["risk_as_of"] == "2024-11-20").all()
    columns = list(board.columns)
    assert columns.index("p_ge1_7d") < columns.index("p_ge3_7d") < columns.index("expected_total_7d") \
        < columns.index("p_ge1_14d")  # grouped by horizon
    long = pd.read_csv(result.leaderboard_path.parent / "risk.csv")
    assert len(long) == len(MODELS) * len(RISK_H) * len(THRESHOLDS)


def test_risk_falls_back_to_metrics_when_risk_csv_is_unreadable(tmp_path, caplog):
    d = write_record(tmp_path, "hawkes", "hawkes", level=0.4, p_ge1_7d=0.25)
    write_record(tmp_path, "negbin", "negbin", level=0.5)
    (d / "risk.csv").write_text("horizon_days,threshold\n7,x\n")
    board = compare([tmp_path], out_dir=tmp_path / "cmp", report=False).leaderboard.set_index("label")
    assert board.loc["hawkes", "p_ge1_7d"].tolist() == [0.25, 0.25]
    assert board.loc["hawkes", "expected_total_7d"].isna().all()
    assert any(str(d / "risk.csv") in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------ best
def test_best_is_the_lowest_mean_log_score_over_shared_origins_at_each_horizon(result):
    board = result.leaderboard
    best = board[board["best"]]
    assert best.set_index("horizon")["label"].to_dict() == {1: "hawkes", 7: "hawkes"}
    assert set(board["rank_basis"]) == {f"lowest mean log_score over the {len(ORIGINS)} backtest origins all "
                                        "ranked runs share"}
    for _, g in board.groupby("horizon"):
        assert g.sort_values("log_score_shared")["label"].iloc[0] == "hawkes"
    assert result.findings[0].startswith("1-day totals: best is hawkes (mean log score")
    assert result.findings[1].startswith("7-day totals: best is hawkes")


def test_best_uses_only_origins_every_run_has(tmp_path):
    a = write_record(tmp_path, "a", "hawkes", level=0.40)
    b = write_record(tmp_path, "b", "negbin", level=0.38)
    bt = pd.read_csv(a / "backtest.csv")  # hawkes is very good on three origins negbin could not forecast
    bt.loc[bt["origin"].isin(ORIGINS[:3]), "log_score"] = -0.5
    bt.to_csv(a / "backtest.csv", index=False)
    m = json.loads((a / "metrics.json").read_text())
    for h, g in bt.groupby("horizon"):
        m["scores"][str(h)]["log_score"] = float(g["log_score"].mean())
    (a / "metrics.json").write_text(json.dumps(m))
    nb = pd.read_csv(b / "backtest.csv")
    nb[~nb["origin"].isin(ORIGINS[:3])].to_csv(b / "backtest.csv", index=False)
    m = json.loads((b / "metrics.json").read_text())
    (b / "metrics.json").write_text(json.dumps({**m, "backtest_info": {"failed_origins": 3}}))
    result = compare([tmp_path], out_dir=tmp_path / "cmp", report=False)
    one = result.leaderboard[result.leaderboard["horizon"] == 1].set_index("label")
    assert one.loc["hawkes", "log_score"] < one.loc["negbin", "log_score"]  # its own mean is lower ...
    assert one.loc["hawkes", "log_score_shared"] == pytest.approx(0.40, abs=0.02)  # ... not on shared origins
    assert (one["n_shared_origins"] == 9).all() and one["best"].to_dict() == {"negbin": True, "hawkes": False}
    assert re.match(r"1-day totals: best is negbin \(mean log score 0\.3\d\d over 9 shared origins\)",
                    result.findings[0])
    assert "Holm-adjusted across the 1 model tested" in result.findings[0]
    assert result.significance.set_index("horizon").loc[1, "best"] == "negbin"  # the DM test agrees


@pytest.mark.parametrize("diff", [1e-6, 0.01, 0.3, 5.0])
@pytest.mark.parametrize("p", [0.0, 0.001, 0.049, 0.051, 0.5, 1.0, np.nan])
def test_a_model_worse_than_the_reference_is_never_called_better(diff, p):
    words = versus_words(diff, p, "nb_window")
    assert not re.search(r"beats|better|lower", words) and ("worse" in words or "higher" in words)
    assert ("significant)" in words) == (np.isfinite(p) and p < 0.05)
    better = versus_words(-diff, p, "nb_window")
    assert "worse" not in better and "higher" not in better
    assert better.startswith("beats") == (np.isfinite(p) and p < 0.05)


def test_findings_against_the_reference_put_every_model_on_the_right_side(result):
    text = " ".join(result.findings)
    assert "No model beats nb_window (the strongest simple baseline) significantly at any horizon" in text
    for h in HORIZONS:
        line = next(f for f in result.findings if f.startswith(f"{h}-day totals against nb_window"))
        lower, higher = line.split("higher (worse) mean log score than nb_window: ")
        assert "hawkes" in lower and "climatology" not in lower and "poisson" not in lower
        assert "climatology" in higher and "poisson" in higher and "hawkes" not in higher
        assert higher.rstrip(".").endswith("significantly for climatology")
    board = result.leaderboard.set_index(["label", "horizon"])
    assert board.loc[("climatology", 7), "versus_reference"] == "worse than nb_window (significant)"
    assert board.loc[("poisson", 7), "versus_reference"] == "higher mean log score than nb_window, not significant"
    assert board.loc[("hawkes", 7), "versus_reference"] == "lower mean log score than nb_window, not significant"
    assert board.loc[("nb_window", 7), "versus_reference"] == "same mean log score as nb_window"


def test_a_significant_win_over_the_reference_is_reported(tmp_path):
    write_record(tmp_path, "a", "nb_window", level=0.4)
    write_record(tmp_path, "b", "regime", level=0.3, versus=(-0.1, 0.001))
    write_record(tmp_path, "c", "negbin", level=0.5, versus=(0.1, 0.2))
    findings = compare([tmp_path], out_dir=tmp_path / "cmp", report=False).findings
    line = next(f for f in findings if f.startswith("Significantly better than nb_window"))
    assert "regime at 1 days" in line and "regime at 7 days" in line and "negbin" not in line
    # two models tested per cell: Holm doubles the smaller p-value
    assert "p = 0.002" in line


def test_risk_range_sentence_names_the_extremes(result):
    line = next(f for f in result.findings if f.startswith("P(≥1 attack in the 7 days after 2024-11-20)"))
    assert "ranges from 13.0% (poisson) to 35.0% (climatology) across 4 models" in line
    assert "the best model at 7-day totals: hawkes says 25.0%" in line


# ------------------------------------------------------------------------------------------ Holm
def test_holm_adjustment_arithmetic():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.01, 0.02, 0.03, 0.04]) == pytest.approx([0.04, 0.06, 0.06, 0.06])
    assert holm([0.5, 0.2, 0.9]) == pytest.approx([1.0, 0.6, 1.0])  # capped at 1, monotone in the raw order
    out = holm([0.02, np.nan, 0.01])  # NaN is no test: m = 2
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert holm([]).size == 0


def test_significance_and_reference_tests_are_holm_adjusted_per_horizon(result):
    sig = result.significance
    assert len(sig) == (len(MODELS) - 1) * len(HORIZONS)
    for _, g in sig.groupby("horizon"):
        assert g["p_holm"].to_numpy() == pytest.approx(holm(g["p_value"].to_numpy()))
        assert (g["n_tests"] == len(MODELS) - 1).all()
    ref = result.versus_reference
    assert set(ref["period"]) == {"all", "early", "late"}
    for _, g in ref.groupby(["period", "horizon"]):
        assert g["p_holm"].to_numpy() == pytest.approx(holm(g["p_value"].to_numpy()), nan_ok=True)
        assert (g["n_tests"] == 3).all()  # nb_window's own run has no test against itself
    board = result.leaderboard.set_index(["label", "horizon"])
    assert board.loc[("climatology", 7), "dm_p_vs_reference_holm"] == pytest.approx(0.003)
    by_period = result.by_period.set_index(["period", "label", "horizon"])
    assert by_period.loc[("late", "climatology", 7), "log_score_diff_vs_reference"] == pytest.approx(0.30)


# ------------------------------------------------------------------------------------------ labels
def test_labels_come_from_the_overrides_that_tell_runs_apart(tmp_path):
    half_life = {"model": {"trigger_half_life": 7.0}}
    for i, days in enumerate((3, 14)):
        write_record(tmp_path, f"{i}_hawkes", "hawkes", level=0.4, config=half_life,
                     overrides=[f"model.trigger_half_life={days}", "sweep=hawkes_half_life", "backtest=quick",
                                "report=none", f"paths.experiments_dir={tmp_path}", "hydra.launcher.n_jobs=2"])
    write_record(tmp_path, "2_hawkes", "hawkes", level=0.4, config=half_life,
                 overrides=["model=hawkes", "backtest=quick", f"paths.reports_dir={tmp_path}"])
    write_record(tmp_path, "3_climatology", "climatology", level=0.5,
                 overrides=["model=climatology", "backtest=quick", "seed=3"])
    runs = load_runs(find_runs([tmp_path]))
    assert [r.label for r in runs] == ["hawkes (trigger_half_life=3)", "hawkes (trigger_half_life=14)",
                                       "hawkes (trigger_half_life=7)", "climatology (seed=3)"]
    assert runs[0].variant == "trigger_half_life=3"
    colours = run_colors([(r.label, r.model) for r in runs])
    hsv = {label: rgb_to_hsv(to_rgb(c)) for label, c in colours.items()}
    hawkes = [hsv[r.label] for r in runs[:3]]
    assert len({round(h[0], 2) for h in hawkes}) == 1  # one hue for the model ...
    assert len({c for label, c in colours.items() if label.startswith("hawkes")}) == 3  # ... lighter or darker
    assert colours["climatology (seed=3)"] not in {colours[r.label] for r in runs[:3]}


def test_identical_labels_are_numbered_and_job_numbers_sort_as_numbers(tmp_path):
    for folder in ("10_hawkes", "2_hawkes"):
        write_record(tmp_path, folder, "hawkes", level=0.4)
    runs = load_runs(find_runs([tmp_path]))
    assert [r.folder.name for r in runs] == ["2_hawkes", "10_hawkes"]
    assert [r.label for r in runs] == ["hawkes", "hawkes #2"]


# ------------------------------------------------------------------------------------------ the PDF
def test_pdf_name_says_what_was_compared(result, sweep):
    assert result.report_path.name == f"compare_{sweep.name}_4-models.pdf"
    assert re.fullmatch(r"[A-Za-z0-9._=+-]+", result.report_path.name)


def test_pdf_page_one_gives_the_answer_and_the_definition(pdf_text):
    first = re.sub(r"\s+", " ", pdf_text[0])
    assert "7-day totals: best is hawkes" in first
    assert "No model beats nb_window" in first
    assert "ranges from 13.0% (poisson) to 35.0% (climatology)" in first
    assert re.sub(r"\s+", " ", BEST_RULE)[:60] in first
    assert "Holm-adjusted" in first
    assert "Mixed comparison" not in first


def test_pdf_holds_the_risk_table_leaderboard_and_tests(pdf_text, result):
    text = "\n".join(pdf_text)
    risk = next(t for t in pdf_text if "Current risk: every model" in t)
    for run in result.runs:
        assert run.label in risk
        p = pd.read_csv(run.folder / "risk.csv").set_index(["horizon_days", "threshold"])["probability"]
        assert f"{100 * p[(7, 1)]:.1f}%" in risk and f"{100 * p[(14, 3)]:.1f}%" in risk
    assert "median" in risk and "expected (90%)" in risk and "next 14 days" in risk
    assert "Leaderboard" in text and "Paired significance" in text and "Skill against nb_window" in text
    assert "Calibration verdicts" in text and "P(≥1) over-predicts" in text
    pages = [re.search(r"page (\d+)/(\d+)", t).groups() for t in pdf_text]
    assert pages == [(str(i), str(len(pdf_text))) for i in range(1, len(pdf_text) + 1)]


def test_pdf_pages_fixed_size_fonts_embedded_and_bytes_reproducible(result, sweep, tmp_path, monkeypatch):
    from pypdf import PdfReader

    reader = PdfReader(result.report_path)
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages}
    assert sizes == {(842, 595)}  # A4 landscape on every page
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            assert "/FontFile2" in descendant["/FontDescriptor"].get_object()  # TrueType, embedded
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    again = compare([sweep], out_dir=tmp_path / "a", reports_dir=tmp_path / "r").report_path.read_bytes()
    assert again == result.report_path.read_bytes()
    assert b"D:20231114" in again  # the creation date is SOURCE_DATE_EPOCH's


def test_mixed_runs_warning_is_on_page_one(tmp_path):
    from pypdf import PdfReader

    write_record(tmp_path, "a", "hawkes", level=0.4)
    write_record(tmp_path, "b", "negbin", level=0.5, sha="d" * 64)
    result = compare([tmp_path], out_dir=tmp_path / "cmp", reports_dir=tmp_path / "r", allow_mixed=True)
    assert result.warning and "data_sha256" in result.warning
    first = re.sub(r"\s+", " ", PdfReader(result.report_path).pages[0].extract_text())
    assert "Mixed comparison" in first and "negbin differs in data" in first
    assert first.index("Mixed comparison") < first.index("best is")  # before the answers
    assert (result.leaderboard_path.parent / "summary.txt").read_text().startswith("WARNING: Runs on different data")


def test_paired_tests_bound_the_difference(result):
    sig = result.significance
    assert ((sig["ci95_lo"] < sig["mean_log_score_diff"]) & (sig["mean_log_score_diff"] < sig["ci95_hi"])).all()
    assert paired_tests(result.runs)[["model", "p_holm"]].equals(sig[["model", "p_holm"]])
    assert len(reference_tests(result.runs)) == len(MODELS) * 3 * len(HORIZONS)
