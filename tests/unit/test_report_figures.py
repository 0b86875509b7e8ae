"""Plot functions draw on a given ax and return their artists; no file is written."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from forecast.config import model_names  # noqa: E402
from forecast.data import detect_lulls  # noqa: E402
from forecast.models import Climatology, Hawkes  # noqa: E402
from forecast.report import figures as F  # noqa: E402
from forecast.report.builder import ReportBuilder, body_axes, draw_table  # noqa: E402


@pytest.fixture()
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_daily_counts_draws_bars_mean_lulls_and_labelled_strikes(ax, real_counts, real_triggers):
    lulls = detect_lulls(real_counts, 14)
    artists = F.plot_daily_counts(ax, real_counts, lulls, real_triggers)
    assert len(ax.patches) >= len(real_counts)  # one bar per day plus lull spans
    labels = [t.get_text() for t in ax.texts]
    strikes = real_triggers[(real_triggers["kind"] == "us_strike")]
    assert len(labels) == len(strikes) and labels[0] == strikes["name"].iloc[0][:28]
    assert ax.get_ylabel() == "attacks per day"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"7-day mean", "us strike", "regional"} <= set(legend)
    assert artists


def test_fan_chart_has_nested_bands(ax, real_counts, real_triggers):
    fc = Hawkes(random_state=0, n_paths=300).fit(real_counts, real_triggers).forecast(14)
    F.plot_fan(ax, real_counts.iloc[-60:], fc, "hawkes")
    bands = [c for c in ax.collections if c.get_label().endswith("interval")]
    assert [b.get_label() for b in bands] == ["95% interval", "80% interval", "50% interval"]
    mean_line = [line for line in ax.lines if line.get_label() == "forecast mean"][0]
    np.testing.assert_allclose(mean_line.get_ydata(), fc.predicted_mean.to_numpy())


def test_reliability_bins_match_hand_computation(ax):
    p = np.array([0.05, 0.1, 0.9, 0.95])
    o = np.array([0, 0, 1, 1])
    F.plot_reliability(ax, [("hawkes", p, o)], bins=2)
    line = [line for line in ax.lines if line.get_label() == "hawkes"][0]
    np.testing.assert_allclose(line.get_xdata(), [0.075, 0.925])
    np.testing.assert_allclose(line.get_ydata(), [0.0, 1.0])


def test_pit_histogram_is_a_density(ax):
    F.plot_pit(ax, np.random.default_rng(0).uniform(size=1000), "poisson", bins=10)
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 10 and np.isclose(np.sum(heights) * 0.1, 1.0)


def test_effects_forest_plot_one_row_per_estimated_effect(ax, real_counts, real_triggers):
    table = Hawkes(random_state=0).fit(real_counts, real_triggers).summary().table()
    F.plot_effects(ax, table)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        n.removeprefix("effect_").replace("_", " ") for n in table.index if n.startswith("effect_")]


def test_each_model_keeps_one_colour():
    assert len(set(F.MODEL_COLORS.values())) == len(F.MODEL_COLORS)
    for name in model_names():
        assert F.model_color(name) == F.MODEL_COLORS.get(name, F.model_color(name))
        assert F.model_color(name).startswith("#")
    # a model the palette does not name still gets a stable, non-black colour
    assert F.model_color("toy_model") == F.model_color("toy_model") != "#000000"


def test_table_bolds_the_best_value(ax):
    frame = pd.DataFrame({"model": ["a", "b", "c"], "rps": [0.5, 0.3, 0.4]})
    table = draw_table(ax, frame, bold_min=["rps"])
    assert table[(2, 1)].get_text().get_fontweight() == "bold"
    assert table[(1, 1)].get_text().get_fontweight() != "bold"
    assert table[(1, 1)].get_text().get_text() == "0.500"


def test_builder_renders_footer_page_numbers(real_counts):
    b = ReportBuilder("T", "S", "K", "run-x", "climatology")
    fc = Climatology().fit(real_counts).forecast(7)
    b.add("one", lambda fig: F.plot_fan(body_axes(fig, (0, 0, 1, 1)), real_counts.iloc[-30:], fc, "climatology"))
    b.add("two", lambda fig: None)
    data = b.render()
    assert data.startswith(b"%PDF") and plt.get_fignums() == []
