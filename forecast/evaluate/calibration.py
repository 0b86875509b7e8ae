"""Calibration of backtested count forecasts: PIT, interval coverage and reliability of event probabilities.

All functions are pure and take arrays or ``backtest.csv``-like frames (one row per origin x horizon, with
``origin, horizon, observed_total, pit, in50, in90, p_ge<k>``).

Serial dependence. Forecasts of h-day totals made from consecutive daily origins share h - 1 days of
outcome, so their PITs, coverage hits and event indicators are (h - 1)-dependent even when the forecasts
are perfectly calibrated (Diebold, Gunther & Tay 1998); tests that treat them as independent reject far too
often (about half the time at the 5% level for h = 7 and a year of origins). Two adjustments: ``thin``
keeps every h-th origin (non-overlapping windows, independent under calibration; fewer data); ``ess``
keeps all origins and uses the long-run covariance of the indicators up to lag h - 1 (rectangular
truncation: under calibration autocorrelations vanish from lag h on). For a proportion that is the design
effect ``1 + 2 sum_{k<h} rho_k``; for the chi-square test of the PIT histogram the second-order Rao-Scott
(Satterthwaite) correction, which holds the level where a mean-only (first-order) correction does not.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

PIT_ALPHA = 0.01  # PIT uniformity p-value below this: "not uniform"
BAND = 0.95  # coverage outside this binomial band around the nominal level: miscalibrated
SHAPE_Z = 1.96  # |z| of the PIT mean / spread beyond this names a direction
RELIABILITY_BINS = tuple(np.round(np.linspace(0, 1, 11), 10))
RULES = [
    f"PIT: chi-square test of 10 equal bins against uniform, Rao-Scott-corrected for the overlap of h-day "
    f"windows from daily origins; p < {PIT_ALPHA} = not uniform.",
    f"PIT direction (named when |z| > {SHAPE_Z}, effective n): mean PIT above 1/2 = under-predicts (outcomes "
    "fall high in the forecast), below = over-predicts; mean (PIT - 1/2)^2 above 1/12 (U shape) = too "
    "narrow, below (hump) = too wide.",
    f"Coverage: outside the central {BAND:.0%} binomial band around the nominal level (effective n) = "
    "miscalibrated; below = too narrow; above = too wide only when the PIT also says so (intervals of "
    "discrete counts cover at least their level by construction), else 'above nominal'.",
    f"Event probabilities P(total >= k): the mean forecast outside the {BAND:.0%} Jeffreys interval of the "
    "observed frequency (effective n from the autocorrelation of 1{event} - P) = over-/under-predicts in the "
    "large.",
]


def _clean(x) -> np.ndarray:
    x = np.asarray(x, float)
    return x[np.isfinite(x)]


def design_effect(x: np.ndarray, horizon: int) -> float:
    """Variance inflation of a mean of ``x`` when lags < ``horizon`` may be correlated.

    ``1 + 2 sum_{k=1}^{h-1} rho_k`` with sample autocorrelations, clipped to ``[1, 2h - 1]``; 1 for h = 1;
    h for a constant series (no dependence can be estimated: count the non-overlapping windows).
    """
    x = np.asarray(x, float)
    n, h = len(x), max(int(horizon), 1)
    e = x - x.mean() if n else x
    c0 = float(np.dot(e, e))
    if h == 1 or n < 3:
        return 1.0
    if c0 <= 0:
        return float(h)
    rho = [float(np.dot(e[k:], e[:-k])) / c0 for k in range(1, min(h, n - 1))]
    return float(np.clip(1 + 2 * sum(rho), 1.0, 2 * h - 1))


def effective_n(x: np.ndarray, horizon: int) -> float:
    """``len(x) / design_effect(x, horizon)``."""
    return len(x) / design_effect(x, horizon)


def pit_histogram(pit, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Counts of PIT values in ``bins`` equal bins of [0, 1] and the ``bins + 1`` edges (NaNs dropped)."""
    return np.histogram(np.clip(_clean(pit), 0.0, 1.0), bins=int(bins), range=(0.0, 1.0))


def _rao_scott(idx: np.ndarray, bins: int, h: int) -> tuple[float, float]:
    """Scale c and degrees of freedom nu with X / c ~ chi2(nu) for Pearson's X of (h - 1)-dependent bin
    indicators: eigenvalues l of bins x (long-run covariance of the indicators, lags < h, rectangular
    weights), c = sum l^2 / sum l, nu = (sum l)^2 / sum l^2 (Rao & Scott 1984); (1, bins - 1) if degenerate."""
    n = len(idx)
    e = np.eye(bins)[idx]
    e -= e.mean(axis=0)
    omega = e.T @ e / n
    for k in range(1, min(h, n - 1)):
        g = e[k:].T @ e[:-k] / n
        omega += g + g.T
    lam = np.clip(np.linalg.eigvalsh(bins * omega), 0.0, None)
    if lam.sum() <= 0:
        return 1.0, float(bins - 1)
    return float(np.sum(lam ** 2) / lam.sum()), float(lam.sum() ** 2 / np.sum(lam ** 2))


def pit_uniformity_test(pit, *, bins: int = 10, method: str = "chi2", horizon: int = 1,
                        adjust: str = "ess") -> dict:
    """Test PIT values (in origin order) against the uniform distribution.

    Parameters
    ----------
    pit : randomised PIT values, one per origin, in time order.
    bins : number of equal bins of the chi-square test.
    method : ``"chi2"`` (Pearson on ``bins`` equal bins) or ``"ks"`` (Kolmogorov-Smirnov; ``adjust`` must be
        ``"thin"`` or ``"none"``: no effective n holds its level).
    horizon : h of the h-day totals; PITs of consecutive daily origins are then (h - 1)-dependent.
    adjust : ``"ess"`` (second-order Rao-Scott, all values), ``"thin"`` (every h-th value) or ``"none"``.
        Ignored for h = 1.

    Returns
    -------
    dict: ``statistic`` (Pearson X or KS D), ``p_value``, ``n`` (values used), ``n_eff`` (n over the mean
    design effect), ``df`` (chi2; fractional under ``ess``), ``method``, ``adjust``.
    """
    if method not in ("chi2", "ks"):
        raise ValueError(f"method must be 'chi2' or 'ks', got {method!r}")
    if adjust not in ("ess", "thin", "none") or (method == "ks" and adjust == "ess"):
        raise ValueError(f"adjust must be 'ess', 'thin' or 'none' ('thin' or 'none' with method='ks'), "
                         f"got {adjust!r}")
    u = np.clip(_clean(pit), 0.0, 1.0)
    h = max(int(horizon), 1)
    if adjust == "thin":
        u = u[::h]
    n = len(u)
    out = {"statistic": math.nan, "p_value": math.nan, "n": n, "n_eff": float(n), "df": math.nan,
           "method": method, "adjust": adjust}
    if n < 2:
        return out
    if method == "ks":
        res = stats.kstest(u, "uniform")
        out.update(statistic=float(res.statistic), p_value=float(res.pvalue))
        return out
    idx = np.minimum((u * bins).astype(int), bins - 1)
    x = float(np.sum((np.bincount(idx, minlength=bins) - n / bins) ** 2) / (n / bins))
    scale, df = _rao_scott(idx, bins, h) if adjust == "ess" and h > 1 else (1.0, float(bins - 1))
    out.update(statistic=x, p_value=float(stats.chi2.sf(x / scale, df)), df=df,
               n_eff=float(n * (bins - 1) / (scale * df)))
    return out


def jeffreys_interval(k, n, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval for a binomial proportion: Beta(k + 1/2, n - k + 1/2) quantiles; 0 at k = 0 and
    1 at k = n (Brown, Cai & DasGupta 2001). ``n`` may be fractional (an effective n)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k <= 0, 0.0, stats.beta.ppf(a, k + 0.5, n - k + 0.5))
        hi = np.where(k >= n, 1.0, stats.beta.ppf(1 - a, k + 0.5, n - k + 0.5))
    empty = n <= 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def reliability(prob, happened, bins: Sequence[float] = RELIABILITY_BINS, *, level: float = 0.9,
                deff: float = 1.0) -> pd.DataFrame:
    """Reliability table of probability forecasts of an event.

    Bins are ``[lo, hi)`` (the last one closed). ``observed_freq`` gets a Jeffreys interval at ``level``
    computed with ``n / deff`` trials (1: origins treated as independent).

    Returns
    -------
    DataFrame with one row per bin: ``bin_lo, bin_hi, n, mean_forecast, observed_freq, lo90, hi90``
    (interval columns named after ``level``; NaN for empty bins).
    """
    p, y = np.asarray(prob, float), np.asarray(happened, float)
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = p[keep], y[keep]
    edges = np.asarray(bins, float)
    j = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(j, minlength=len(edges) - 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_fc = np.bincount(j, weights=p, minlength=len(edges) - 1) / n
        freq = np.bincount(j, weights=y, minlength=len(edges) - 1) / n
    n_eff = n / max(float(deff), 1.0)
    lo, hi = jeffreys_interval(np.nan_to_num(freq) * n_eff, n_eff, level)
    pct = int(round(level * 100))
    return pd.DataFrame({"bin_lo": edges[:-1], "bin_hi": edges[1:], "n": n.astype(int), "mean_forecast": mean_fc,
                         "observed_freq": freq, f"lo{pct}": lo, f"hi{pct}": hi})


def _order(bt: pd.DataFrame) -> pd.DataFrame:
    return bt.assign(_o=pd.to_datetime(bt["origin"])).sort_values(["horizon", "_o"]).drop(columns="_o")


def coverage(bt: pd.DataFrame, levels: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
    """Empirical coverage of the central intervals per horizon, with a binomial band around the nominal level.

    Reads the ``in<100 level>`` columns. The band is the central ``BAND`` binomial range at the nominal
    level with ``n_eff`` (rounded) trials, ``n_eff`` the hit series' effective n (overlap of h-day windows).

    Returns
    -------
    DataFrame: ``horizon, level, n, n_eff, coverage, band_lo, band_hi``.
    """
    rows = []
    for level in levels:
        col = f"in{int(round(level * 100))}"
        if col not in bt:
            have = [c[2:] for c in bt.columns if c.startswith("in") and c[2:].isdigit()]
            raise ValueError(f"levels: no column {col!r} in the backtest frame; levels with columns: "
                             f"{', '.join(f'0.{c}' for c in have) or 'none'}")
        for h, g in _order(bt).groupby("horizon"):
            hit = g[col].dropna().astype(float).to_numpy()
            n_eff = effective_n(hit, int(h)) if len(hit) else 0.0
            m = max(int(round(n_eff)), 1)
            lo, hi = stats.binom.interval(BAND, m, level)
            rows.append({"horizon": int(h), "level": float(level), "n": len(hit), "n_eff": float(n_eff),
                         "coverage": float(hit.mean()) if len(hit) else math.nan,
                         "band_lo": float(lo / m), "band_hi": float(hi / m)})
    return pd.DataFrame(rows)


def _jsonable(x):
    """NaN -> None, numpy scalars -> Python numbers, recursively."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    return x


def pit_shape(pit, horizon: int = 1) -> dict:
    """Mean of the PIT u and its spread mean((u - 1/2)^2), z-scores against a uniform's 1/2 and 1/12
    (standard errors sqrt(1/12 / n_eff) and sqrt(1/180 / n_eff), n_eff of u and of (u - 1/2)^2) and the
    directions they name (``|z| > SHAPE_Z``): ``under-predicts`` / ``over-predicts`` (mean above / below 1/2),
    ``too narrow`` / ``too wide`` (spread above / below 1/12: U / hump shape; a one-sided pile-up of a
    biased forecast also counts as too narrow, its intervals miss)."""
    u = _clean(pit)
    if len(u) < 3:
        return {"mean": math.nan, "spread": math.nan, "z_mean": math.nan, "z_spread": math.nan, "direction": []}
    m, v = float(u.mean()), float(np.mean((u - 0.5) ** 2))
    z_m = (m - 0.5) / math.sqrt(1 / 12 / effective_n(u, horizon))
    z_v = (v - 1 / 12) / math.sqrt(1 / 180 / effective_n((u - 0.5) ** 2, horizon))
    direction = []
    if abs(z_m) > SHAPE_Z:
        direction.append("under-predicts" if z_m > 0 else "over-predicts")
    if abs(z_v) > SHAPE_Z:
        direction.append("too narrow" if z_v > 0 else "too wide")
    return {"mean": m, "spread": v, "z_mean": z_m, "z_spread": z_v, "direction": direction}


def _horizon_summary(g: pd.DataFrame, h: int, thresholds: Sequence[int], period: str) -> dict:
    counts, edges = pit_histogram(g["pit"])
    test = pit_uniformity_test(g["pit"], horizon=h, adjust="ess")
    shape = pit_shape(g["pit"], h)
    cov = coverage(g)
    what = f"{h}-day total" if h > 1 else "1-day count"
    verdicts, states = [], {}
    if np.isfinite(test["p_value"]):
        if test["p_value"] < PIT_ALPHA:
            states["pit"] = "not uniform: " + (" and ".join(shape["direction"]) or "irregular shape")
            verdicts.append(f"{period}: PIT of {what}s {states['pit']} (p={test['p_value']:.2g})")
        else:
            states["pit"] = "uniform"
            verdicts.append(f"{period}: PIT of {what}s consistent with uniform (p={test['p_value']:.2g})")
    out = {"n": len(g), "pit_counts": counts, "pit_edges": edges, "pit_statistic": test["statistic"],
           "pit_p_value": test["p_value"], "pit_n_eff": test["n_eff"], "pit_mean": shape["mean"],
           "pit_spread": shape["spread"], "pit_direction": shape["direction"]}
    for r in cov.itertuples():
        pct = int(round(r.level * 100))
        out[f"coverage_{pct}"], out[f"coverage_{pct}_band"] = r.coverage, [r.band_lo, r.band_hi]
        if np.isfinite(r.coverage):
            wide = "too wide" in shape["direction"] and test["p_value"] < PIT_ALPHA
            state = ("too narrow" if r.coverage < r.band_lo else "as nominal" if r.coverage <= r.band_hi
                     else "too wide" if wide else "above nominal, as intervals of discrete counts can be")
            states[f"coverage_{pct}"] = state
            verdicts.append(f"{period}: {pct}% intervals held {r.coverage:.0%} of {what}s "
                            f"(band {r.band_lo:.0%}-{r.band_hi:.0%}): {state}")
    out["reliability"] = {}
    for k in thresholds:
        col = f"p_ge{k}"
        if col not in g:
            continue
        event = (g["observed_total"] >= k).astype(float).to_numpy()
        deff = design_effect(event - g[col].to_numpy(float), h)  # of the forecast errors: (h-1)-dependent under H0
        tab = reliability(g[col], event, deff=deff)
        out["reliability"][f"ge{k}"] = {c: tab[c].tolist() for c in tab.columns}
        p_bar, n_eff = float(g[col].mean()), len(event) / deff
        lo, hi = jeffreys_interval(event.mean() * n_eff, n_eff, BAND)
        state = ("over-predicts" if p_bar > hi else "under-predicts" if p_bar < lo else "calibrated in the large")
        states[f"ge{k}"] = state
        verdicts.append(f"{period}: P({what} >= {k}) averaged {p_bar:.0%}, observed {event.mean():.0%} "
                        f"({float(lo):.0%}-{float(hi):.0%}): {state}")
    out["states"], out["verdicts"] = states, verdicts
    return out


def calibration_summary(bt: pd.DataFrame, thresholds: Sequence[int], periods: list[dict] | None = None) -> dict:
    """Calibration per period and horizon, JSON-serialisable (floats, lists, strings; NaN as null).

    Parameters
    ----------
    bt : backtest frame (``run_backtest``).
    thresholds : k of the ``p_ge<k>`` columns to tabulate.
    periods : ``[{name, start, end}]`` selecting origins (inclusive); default one period ``all``.

    Returns
    -------
    ``{"rules": [str], "periods": {name: {"start", "end", "horizons": {"h": {n, pit_counts, pit_edges,
    pit_statistic, pit_p_value, pit_n_eff, pit_mean, pit_spread, pit_direction, coverage_50, coverage_50_band,
    coverage_90, coverage_90_band, reliability: {"ge<k>": {column: list}}, states: {"pit" | "coverage_50" |
    "coverage_90" | "ge<k>": short state}, verdicts: [str]}}}}}``; the rules behind the verdicts in ``RULES``.
    """
    missing = {"origin", "horizon", "observed_total", "pit", "in50", "in90"} - set(bt.columns)
    if missing:
        raise ValueError(f"bt: missing column(s) {', '.join(sorted(missing))}")
    bt = _order(bt)
    origin = pd.to_datetime(bt["origin"])
    if not periods:
        periods = [{"name": "all", "start": str(origin.min().date()), "end": str(origin.max().date())}]
    out = {"rules": list(RULES), "periods": {}}
    for p in periods:
        sel = bt[(origin >= pd.Timestamp(p["start"])) & (origin <= pd.Timestamp(p["end"]))]
        out["periods"][str(p["name"])] = {
            "start": str(p["start"]), "end": str(p["end"]),
            "horizons": {str(int(h)): _horizon_summary(g, int(h), thresholds, str(p["name"]))
                         for h, g in sel.groupby("horizon")}}
    return _jsonable(out)
