"""The words of the run report: numbers, skill, p-values, interval trust, outcomes and trigger effects."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from forecast.report.record import load_record
from forecast.report.run_report import (
    effect_sentence,
    fmt_p,
    fmt_prob,
    headline,
    interval_trust,
    outcome_sentence,
    skill_sentence,
    verdict,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "record_small"


@pytest.mark.parametrize("p, text", [(0.0, "<0.001"), (0.0004, "<0.001"), (0.0042, "0.004"), (0.031, "0.03"),
                                     (0.41, "0.41"), (None, "n/a"), (float("nan"), "n/a")])
def test_p_values_never_read_as_zero(p, text):
    assert fmt_p(p) == text


@pytest.mark.parametrize("p, text", [(0.0, "<0.1%"), (0.0004, "<0.1%"), (0.0087, "0.9%"), (0.0123, "1.2%"),
                                     (0.5, "50%"), (0.996, "99.6%"), (0.99995, ">99.9%")])
def test_probabilities_never_round_to_false_zero_or_certainty(p, text):
    assert fmt_prob(p) == text


def test_a_model_worse_than_the_baseline_is_never_called_better():
    tests = {"1": {"mean_diff": 0.02, "dm_p": 0.5}, "7": {"mean_diff": 0.4, "dm_p": 0.01},
             "14": {"mean_diff": 0.9, "dm_p": 0.2}}
    text = skill_sentence(tests, "nb_window")
    assert text == ("Worse than nb_window at 7 days (p=0.01); indistinguishable at 1 and 14 days (p=0.50, 0.20).")
    assert "better" not in text.lower()


def test_a_model_better_than_the_baseline_is_called_better_with_its_p_value():
    tests = {"1": {"mean_diff": 0.01, "dm_p": 0.7}, "7": {"mean_diff": -0.05, "dm_p": 0.41},
             "14": {"mean_diff": -0.3, "dm_p": 0.03}}
    text = skill_sentence(tests, "nb_window")
    assert text == "Better than nb_window at 14 days (p=0.03); indistinguishable at 1 and 7 days (p=0.70, 0.41)."


def test_indistinguishable_everywhere_and_tiny_p_values():
    assert skill_sentence({"1": {"mean_diff": -0.2, "dm_p": 0.3}}, "ref") == \
        "Indistinguishable from ref at 1 day (p=0.30)."
    assert skill_sentence({"7": {"mean_diff": -0.2, "dm_p": 1e-6}}, "ref") == "Better than ref at 7 days (p=<0.001)."


def test_verdict_sign_over_many_cases():
    rng = np.random.default_rng(0)
    for d, p in zip(rng.normal(size=500), rng.uniform(size=500)):
        word = verdict(d, p)
        assert word == ("better" if (d < 0 and p < 0.05) else "worse" if (d > 0 and p < 0.05) else "indistinguishable")
    assert verdict(None, 0.01) == verdict(0.1, float("nan")) == "untested"


@pytest.mark.parametrize("est, lo, hi, scale, expected", [
    (math.log(0.6), math.log(0.1), math.log(3.4), "log_rate",
     "A US strike trigger is followed by ×0.60 (0.10 to 3.40) the attack rate: not distinguishable from no effect."),
    (math.log(2.0), math.log(1.2), math.log(3.3), "log_rate",
     "A US strike trigger is followed by ×2.00 (1.20 to 3.30) the attack rate: raises it (backlash)."),
    (math.log(0.5), math.log(0.3), math.log(0.8), "log_rate",
     "A US strike trigger is followed by ×0.50 (0.30 to 0.80) the attack rate: lowers it (deterrence)."),
    (math.log(3.0), math.log(1.5), math.log(6.0), "log_odds",
     "A US strike trigger is followed by ×3.00 (1.50 to 6.00) the odds of a change of regime: makes a change "
     "more likely."),
    (0.3, -0.1, 0.7, "sqrt_level", "A US strike trigger shifts the square root of the daily attack level by +0.30 "
                                   "(-0.10 to +0.70): not distinguishable from no effect."),
    (0.3, 0.1, 0.5, None, "A US strike trigger has an effect of +0.30 (+0.10 to +0.50) on the model's scale: raises "
                          "the attack level."),
    (float("nan"), float("nan"), float("nan"), "log_rate",
     "A US strike trigger: effect not estimated (no variation in the data)."),
])
def test_trigger_effects_in_words(est, lo, hi, scale, expected):
    assert effect_sentence("us_strike", est, lo, hi, scale) == expected


def test_headline_numbers_come_from_risk_csv():
    view = load_record(FIXTURE)
    hl = headline(view)
    risk = view.risk.set_index(["horizon_days", "threshold"])
    assert (hl["h7"], hl["h14"], hl["k"]) == (7, 14, 5)
    assert hl["p_ge1_7"] == risk.loc[(7, 1), "probability"]
    assert hl["p_gek_14"] == risk.loc[(14, 5), "probability"]
    assert hl["mean_14"] == risk.loc[(14, 5), "expected_total"]
    assert (hl["lo90_14"], hl["hi90_14"]) == (risk.loc[(14, 5), "lo90"], risk.loc[(14, 5), "hi90"])


def test_interval_trust_warns_when_backtest_coverage_is_outside_its_band():
    view = load_record(FIXTURE)
    text, warn = interval_trust(view, 14)
    assert not warn and "held 71% of outcomes (expected 69% to 100%)" in text and "treat as" not in text
    entry = view.metrics["calibration"]["periods"]["lull_and_after"]["horizons"]["14"]
    entry["coverage_90"], entry["states"]["coverage_90"] = 0.5, "too narrow"
    text, warn = interval_trust(view, 14)
    assert warn and text == ("Backtest (lull_and_after): 90% intervals of 14-day totals held 50% of outcomes "
                             "(expected 69% to 100%): treat as too narrow.")


def test_interval_trust_without_calibration_uses_a_binomial_band():
    view = load_record(FIXTURE)
    view.metrics["calibration"] = {}
    view.metrics["scores"]["14"].update(coverage_90=0.6, n_origins=700)  # ~50 independent 14-day windows
    text, warn = interval_trust(view, 14)
    assert warn and "Backtest (all origins)" in text and "treat as too narrow" in text


def test_past_origin_outcome_fell_outside_then_inside():
    view = load_record(FIXTURE)
    hl = headline(view)
    text = outcome_sentence(view, hl)
    assert text.startswith("What happened: 2 attacks in the 14 days after 20 Apr 2024, which fell outside (above) "
                           "the 90% interval (0 to 0).")
    assert "At least one attack did come within 7 days (first on 21 Apr 2024); the forecast gave it 0.7%." in text
    hl["hi90_14"] = 5
    assert "which fell inside the 90% interval (0 to 5)" in outcome_sentence(view, hl)
    view.metrics["origin"] = view.counts.index[-1].strftime("%Y-%m-%d")  # an origin at the data end: no outcome
    assert outcome_sentence(view, hl) == ""
