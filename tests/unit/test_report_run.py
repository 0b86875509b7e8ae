"""The run PDF, rendered from the small fixture record alone (no model is fitted here)."""
from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from forecast.config import model_dir  # noqa: E402
from forecast.report import run_report  # noqa: E402
from forecast.report.record import load_record  # noqa: E402
from forecast.report.run_report import fmt_prob, headline, write_run_report  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "record_small"
REPORT_DIR = Path(run_report.__file__).parent


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _page(pages: list[str], heading: str) -> str:
    """The (whitespace-flattened) text of the page with ``heading`` (figure texts follow the axes' text)."""
    return next(_flat(p) for p in pages if heading in _flat(p))


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> tuple[Path, list[str]]:
    """The fixture's PDF and the text of each page."""
    out = tmp_path_factory.mktemp("pdf") / "run.pdf"
    write_run_report(FIXTURE, out)
    reader = PdfReader(out)
    return out, [page.extract_text() for page in reader.pages]


def test_page_one_numbers_match_the_record(pdf):
    _, pages = pdf
    view = load_record(FIXTURE)
    hl = headline(view)
    first = _flat(pages[0])
    assert first.startswith("Executive summary: attacks on US forces after 20 Apr 2024")
    assert f"{fmt_prob(hl['p_ge1_7'])} chance of at least one attack in the next 7 days" in first
    assert f"{fmt_prob(hl['p_gek_14'])} chance of 5 or more attacks in the next 14 days" in first
    assert "0.053 attacks expected in the next 14 days; 90% interval: 0 to 0" in first
    assert fmt_prob(hl["p_ge1_7"]) == "0.7%" and fmt_prob(hl["p_gek_14"]) == "0.4%"
    # how far to trust them: coverage and skill at every horizon, the paired-test p-values in words
    assert "90% intervals of 14-day totals held 71% of outcomes (expected 69% to 100%)" in first
    assert "log score vs nb_window (negative = better)" in first
    assert "Indistinguishable from nb_window at 1, 7 and 14 days (p=0.88, 0.93, 0.16)." in first
    for h in ("1 day", "7 days", "14 days"):
        assert h in first


def test_past_origin_says_what_happened(pdf):
    _, pages = pdf
    first = _flat(pages[0])
    assert "What happened: 2 attacks in the 14 days after 20 Apr 2024, which fell outside (above) the 90% " \
           "interval (0 to 0)." in first
    assert "what happened" in _page(pages, "Forecast and escalation risk")


def test_every_page_has_the_furniture_and_a_fixed_size(pdf):
    path, pages = pdf
    reader = PdfReader(path)
    n = len(pages)
    assert 8 <= n <= 14
    for i, (page, text) in enumerate(zip(reader.pages, pages), start=1):
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (842, 595)
        assert f"page {i}/{n}" in text and "run fixture_small_hawkes" in text and "model hawkes" in text
    meta = reader.metadata
    assert meta.title.startswith("Escalation-risk forecast") and "hawkes" in meta.subject


def test_fonts_are_embedded_truetype_and_one_subset_per_face(pdf):
    path, _ = pdf
    reader = PdfReader(path)
    fonts = {}
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            fonts[str(font["/BaseFont"])] = "/FontFile2" in descendant["/FontDescriptor"].get_object()
    assert fonts and all(fonts.values())
    faces = sorted(name.split("+", 1)[1] for name in fonts)
    assert faces == sorted(set(faces)), faces  # no second subset (ligatures, non-Latin-1 characters)


def test_sections_glossary_and_appendix(pdf):
    _, pages = pdf
    text = _flat("\n".join(pages))
    for section in ("Backtest: scores", "Backtest: calibration by period", "Onsets:", "Model: hawkes parameters",
                    "Data: daily attacks", "Data: attacks by month", "Glossary",
                    "Appendix: resolved configuration"):
        assert section in text, section
    glossary = _page(pages, "Glossary")
    for term in ("Branching ratio", "Log score", "RPS", "PIT", "Coverage", "Diebold-Mariano", "Skill", "Exposure"):
        assert term in glossary, term
    # every parameter of the record with its unit
    for name in load_record(FIXTURE).fit.params["parameter"]:
        assert name in glossary, name
    assert "attacks per day, with no triggers or recent attacks" in glossary
    assert "per day: excitation falls" in glossary and "..." not in glossary  # units are never cut


def test_effects_as_multipliers_and_calibration_verdicts(pdf):
    _, pages = pdf
    model = _page(pages, "Model: hawkes")
    assert "A US strike trigger is followed by ×1.00 (0.14 to 7.04) the attack rate: not distinguishable from no " \
           "effect." in model
    assert "A US posture trigger: effect not estimated" in model
    calibration = _page(pages, "Backtest: calibration")
    assert "lull_and_after" in calibration and "over-predicts" in calibration


def test_the_report_shows_no_machine_paths_or_false_zeros(pdf):
    _, pages = pdf
    text = "\n".join(pages)
    assert "/home/analyst" not in text and "/tmp/" not in text
    assert not re.search(r"(?<![\d.])0\.000(?!\d)", text)  # "<0.001", never "0.000"
    assert plt.get_fignums() == []


def test_months_without_attacks_are_in_the_month_table(pdf):
    _, pages = pdf
    months = _page(pages, "Data: attacks by month")
    counts = load_record(FIXTURE).counts["count"]
    quiet = counts.groupby(counts.index.to_period("M")).sum()
    quiet = [m.strftime("%b %Y") for m, v in quiet.items() if v == 0]
    assert quiet and all(m in months for m in quiet)


def test_same_record_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    a, b = write_run_report(FIXTURE, tmp_path / "a.pdf"), write_run_report(FIXTURE, tmp_path / "b.pdf")
    assert a.read_bytes() == b.read_bytes()


def test_coverage_outside_its_band_puts_a_warning_on_the_headline(tmp_path):
    folder = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    metrics = json.loads((folder / "metrics.json").read_text())
    entry = metrics["calibration"]["periods"]["lull_and_after"]["horizons"]["14"]
    entry["coverage_90"], entry["states"]["coverage_90"] = 0.42, "too narrow"
    (folder / "metrics.json").write_text(json.dumps(metrics))
    first = _flat(PdfReader(write_run_report(folder, tmp_path / "w.pdf")).pages[0].extract_text())
    assert "held 42% of outcomes (expected 69% to 100%): treat as too narrow." in first


def test_worse_than_the_baseline_reads_worse_on_page_one(tmp_path):
    folder = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    metrics = json.loads((folder / "metrics.json").read_text())
    for scope in metrics["paired_tests"]["nb_window"].values():
        scope["14"].update(mean_diff=0.85, dm_p=0.012)
        scope["1"].update(mean_diff=-0.2, dm_p=0.03)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    first = _flat(PdfReader(write_run_report(folder, tmp_path / "w.pdf")).pages[0].extract_text())
    assert "Better than nb_window at 1 day (p=0.03); worse than nb_window at 14 days (p=0.01); " \
           "indistinguishable at 7 days (p=0.93)." in first
    assert "worse (p=0.01)" in first and "better (p=0.03)" in first


def test_scenario_page_shows_the_difference_and_what_its_uncertainty_leaves_out(tmp_path):
    folder = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    risk = pd.read_csv(folder / "risk.csv")
    scen = risk.assign(probability=risk["probability"] * 1.5, expected_total=risk["expected_total"] * 1.5)
    scen.to_csv(folder / "scenario_risk.csv", index=False)
    pd.read_csv(folder / "forecast.csv").to_csv(folder / "scenario_forecast.csv", index=False)
    rows = []
    for r in risk.itertuples():
        rows.append({"horizon_days": r.horizon_days, "quantity": f"p_ge{r.threshold}", "baseline": r.probability,
                     "scenario": 1.5 * r.probability, "difference": 0.5 * r.probability, "mc_se": 0.0001})
    for h, g in risk.groupby("horizon_days"):
        e = g["expected_total"].iloc[0]
        rows.append({"horizon_days": h, "quantity": "expected_total", "baseline": e, "scenario": 1.5 * e,
                     "difference": 0.5 * e, "mc_se": 0.001})
    pd.DataFrame(rows).to_csv(folder / "scenario_difference.csv", index=False)
    (folder / "scenario.json").write_text(json.dumps({
        "name": "us_strike_day3", "description": "A US strike on the third forecast day.",
        "triggers": [{"offset_days": 3, "kind": "us_strike", "name": "hypothetical strike"}],
        "method": ["Scenario and baseline share random numbers.", "Not included: the uncertainty of the fitted "
                                                                  "trigger effects."]}))
    pages = [p.extract_text() for p in PdfReader(write_run_report(folder, tmp_path / "s.pdf")).pages]
    page = _page(pages, "Scenario: us_strike_day3")
    assert "scenario - baseline" in page and "Monte Carlo error" in page
    assert "+0.91 pts" in page  # P(>=1 in 30 days): 3.6% -> 5.4%
    assert "Not included: the uncertainty of the fitted trigger effects." in page
    assert "A US strike trigger is followed by ×1.00 (0.14 to 7.04) the attack rate" in page


def test_sibling_runs_of_a_sweep_are_shown_side_by_side(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    me = Path(shutil.copytree(FIXTURE, sweep / "0_hawkes"))
    other = Path(shutil.copytree(FIXTURE, sweep / "1_toy"))
    metrics = json.loads((other / "metrics.json").read_text())
    metrics.update(model="toy_model", run_id="1_toy")
    (other / "metrics.json").write_text(json.dumps(metrics))
    risk = pd.read_csv(other / "risk.csv")
    risk.assign(probability=0.25).to_csv(other / "risk.csv", index=False)
    pages = [p.extract_text() for p in PdfReader(write_run_report(me, tmp_path / "s.pdf")).pages]
    forecast = _page(pages, "Forecast and escalation risk")
    assert "The other models of this sweep" in forecast and "hawkes toy_model 0.7% 25% 0.4% 25%" in forecast


def _string_literals(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
    return out


@pytest.mark.parametrize("module", ["run_report.py", "figures.py", "record.py"])
def test_report_code_names_no_model_option(module):
    stems = {p.stem for p in model_dir().glob("*.yaml")}
    assert stems  # the options exist
    found = _string_literals(REPORT_DIR / module) & stems
    assert not found, f"{module} names model options {found}: use the record's tables, notes and effect_scale"


@pytest.mark.parametrize("module", ["run_report.py", "figures.py"])
def test_report_code_reads_no_diagnostic_by_name(module):
    keys = set(json.loads((FIXTURE / "fit_summary.json").read_text())["diagnostics"])
    found = _string_literals(REPORT_DIR / module) & keys
    assert not found, f"{module} reads diagnostics {found} by name: models hand the report notes and tables"
