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


def test_daily_counts_draws_one_artist_per_series_and_labels_strikes_without_overprinting(ax, real_counts,
                                                                                         real_triggers):
    lulls = detect_lulls(real_counts, 14)
    artists = F.plot_daily_counts(ax, real_counts, lulls, real_triggers)
    counts_artist = [c for c in ax.collections if c.get_label() == "attacks per day"]
    assert len(counts_artist) == 1  # every day in one path, not one bar patch per day
    assert len(ax.patches) == len(lulls)
    labels = ax.texts
    strikes = real_triggers[real_triggers["kind"] == "us_strike"]
    assert 0 < len(labels) <= len(strikes)
    names = set(strikes["name"])
    for t in labels:  # a label is a strike's name, or its start cut at a word boundary with "..."
        text = t.get_text()
        assert text in names or (text.endswith("...") and any(n.startswith(text[:-3]) for n in names))
    x = sorted(float(t.get_position()[0]) for t in labels)
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    days_per_in = (len(real_counts) + 1) / width_in
    assert min(b - a for a, b in zip(x, x[1:])) >= 6.5 * 1.3 / 72 * days_per_in * 0.999  # no overprinting
    assert ax.get_ylabel() == "attacks per day"
    assert all(float(t).is_integer() for t in ax.get_yticks())  # whole-number ticks on counts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"7-day mean", "us strike", "regional"} <= set(legend)
    assert artists


def test_trigger_labels_fit_the_strip_and_leave_the_rest_to_a_list(real_counts, real_triggers):
    start, end = real_counts.index[0], real_counts.index[-1] + pd.Timedelta(days=1)
    keep, length_in = F.trigger_labels(real_triggers, start, end, 10.0, 2.0)
    assert keep.dtype == bool and len(keep) == len(real_triggers) and 0 < keep.sum() < len(keep)
    assert 0 < length_in < 2.0
    x = np.sort(pd.to_datetime(real_triggers["date"][keep]).map(pd.Timestamp.toordinal).to_numpy())
    gap = 5.5 * 1.3 / 72 * (end - start).days / 10.0
    assert np.diff(x).min() >= gap - 1  # whole days: at least the gap, up to rounding to a day


def test_pit_and_reliability_small_multiples_in_one_axes_each(ax):
    counts = [5, 3, 2, 2, 1, 1, 2, 2, 3, 9]
    edges = list(np.linspace(0, 1, 11))
    F.plot_pit_grid(ax, [[(counts, edges)] * 3, [(counts, edges)] * 3], ["1 d", "7 d", "14 d"], "#0072B2")
    assert len(ax.collections) >= 6 and not ax.axison
    fig2, ax2 = plt.subplots()
    try:
        rel = {"mean_forecast": [0.05, None, 0.9], "observed_freq": [0.1, None, 0.8], "n": [40, 0, 12],
               "lo90": [0.02, None, 0.6], "hi90": [0.2, None, 0.95]}
        F.plot_reliability_grid(ax2, [rel, {}], "#0072B2")
        counts_written = {t.get_text() for t in ax2.texts}
        assert {"40", "12"} <= counts_written and "0" in counts_written  # bin counts next to their points
    finally:
        plt.close(fig2)


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
