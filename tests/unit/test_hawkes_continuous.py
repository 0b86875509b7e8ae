"""Tests of the continuous-time exponential Hawkes model (the package forecast.models.hawkes_continuous).

Reference numbers in ``test_matches_hawkesbook_reference`` were computed once with hawkesbook 0.1.0
(numba 0.68.1, scipy 1.17.1, numpy 2.4.6, Python 3.11) on ``REF_TIMES`` / ``REF_END`` below.
hawkesbook writes lambda(t) = lam + sum a e^{-b (t - t_i)}, so lam = baseline, a = adjacency * decay,
b = decay. The script was:

    import numpy as np
    from scipy.optimize import minimize
    from hawkesbook.hawkes import (exp_log_likelihood, deriv_exp_log_likelihood,
                                   exp_mle_with_hess)
    t, T = np.array(REF_TIMES), 100.0
    exp_log_likelihood(t, T, np.array([0.5, 0.6 * 1.5, 1.5]))   # -> REF_LOGLIK[0]
    exp_log_likelihood(t, T, np.array([0.3, 0.8 * 4.0, 4.0]))   # -> REF_LOGLIK[1]
    # fixed decay 1.5: hawkesbook has no fixed-decay fit, so its log-likelihood and analytic
    # gradient were maximised over (lam, a) with scipy L-BFGS-B (a Nelder-Mead run agreed to 1e-8)
    b = 1.5
    f = lambda x: -exp_log_likelihood(t, T, np.array([x[0], x[1], b]))
    g = lambda x: -deriv_exp_log_likelihood(t, T, np.array([x[0], x[1], b]))[:2]
    r = minimize(f, [0.5, 0.5], jac=g, method="L-BFGS-B", bounds=((1e-5, None), (1e-5, None)),
                 options=dict(ftol=1e-15, gtol=1e-12, maxiter=10000))
    # -> REF_FIXED: baseline r.x[0], adjacency r.x[1] / b, loglik -r.fun
    th = exp_mle_with_hess(t, T)   # free decay (trust-constr with hawkesbook's gradient and Hessian)
    # -> REF_FREE: baseline th[0], adjacency th[1] / th[2], decay th[2], exp_log_likelihood(t, T, th)

REF_TIMES is one path simulated once with (baseline 0.5, adjacency 0.6, decay 1.5) on (0, 100],
rounded to 4 decimals and hard-coded so the test does not depend on any simulator.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecast.errors import ForecastInputError, ModelFitError
from forecast.models.base import FitSummary
from forecast.models.hawkes_continuous import (
    ExpKernelHawkes,
    HawkesContinuous,
    HawkesCountForecast,
    WindowCountLaw,
    compensator_increments,
    counts_to_timestamps,
    estimator,
    excitation_sums,
    expected_daily_counts,
    fit_mle,
    likelihood,
    loglik,
    loglik_and_grad,
    loglik_terms,
    observed_information,
    simulate_daily_counts,
    simulate_timestamps,
    time_rescaling,
)

REF_END = 100.0
REF_TIMES = [
    5.0361, 7.3377, 8.5397, 8.852, 8.9901, 9.9666, 10.5126, 11.2732, 11.6736, 13.8498, 14.964, 15.1896,
    16.5506, 17.7072, 18.6967, 19.1375, 19.1598, 19.3266, 19.5629, 19.5677, 20.1624, 20.3514, 20.376,
    20.4748, 20.5719, 20.5916, 20.6781, 20.8499, 20.877, 20.9443, 21.7203, 23.1932, 23.5265, 23.5427,
    23.5444, 24.7975, 25.128, 25.4082, 25.5171, 26.0067, 26.9834, 27.656, 27.7448, 27.9205, 28.1292,
    28.8858, 29.6335, 29.821, 32.0766, 34.7044, 35.5687, 36.1841, 36.216, 36.5232, 36.759, 36.9037,
    37.1401, 37.95, 38.6562, 40.6538, 41.197, 41.9271, 42.5821, 45.8502, 49.4774, 52.9077, 52.9445,
    53.357, 57.07, 57.2367, 57.9744, 58.6945, 62.2933, 62.6072, 64.6757, 64.9971, 65.0669, 65.1658,
    65.4807, 65.614, 67.3194, 68.2324, 68.6141, 70.3378, 70.3539, 70.9646, 71.2825, 71.7144, 74.405,
    82.5801, 82.6108, 86.1463, 86.9374, 88.9729, 94.0337, 94.143, 94.2954, 94.4014, 94.524, 96.143,
    96.27, 96.5529, 96.6015, 96.8553, 97.4279, 97.6083, 97.6101, 99.6315,
]
REF_LOGLIK = {(0.5, 0.6, 1.5): -84.7394686351002, (0.3, 0.8, 4.0): -103.02137855085063}
REF_FIXED = {"baseline": 0.5485175591411958, "adjacency": 0.4952332096143947, "loglik": -84.2542492296992}
REF_FREE = {"baseline": 0.5164490473401223, "adjacency": 0.5259493296723731, "decay": 1.2379536089440544,
            "loglik": -84.22306045811503}
TRUTH = {"baseline": 0.5, "adjacency": 0.6, "decay": 1.5}


def brute_force_loglik(params, t, end_time):
    """The same formula by an O(n^2) double sum (no recursion, no blocking)."""
    mu, alpha, beta = params
    t = np.asarray(t, float)
    lags = t[:, None] - t[None, :]
    earlier = np.tril(np.ones(lags.shape, bool), -1)
    A = np.where(earlier, np.exp(-beta * np.where(earlier, lags, 0.0)), 0.0).sum(axis=1)
    return float(np.log(mu + alpha * beta * A).sum() - mu * end_time
                 - alpha * (1.0 - np.exp(-beta * (end_time - t))).sum())


def daily_series(values, start="2024-01-01"):
    return pd.Series(np.asarray(values, np.int64), index=pd.date_range(start, periods=len(values), freq="D",
                                                                      name="date"))


@pytest.fixture(scope="module")
def long_path():
    return simulate_timestamps(**TRUTH, end_time=2000.0, rng=np.random.default_rng(1)), 2000.0


@pytest.fixture(scope="module")
def clustered_counts():
    t = simulate_timestamps(0.3, 0.7, 0.8, 400.0, rng=np.random.default_rng(7))
    return daily_series(np.bincount(np.ceil(t).astype(int) - 1, minlength=400))


# ---- likelihood ------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [(0.5, 0.6, 1.5), (0.3, 0.9, 50.0), (0.5, 0.2, 1e-3), (0.4, 0.5, 400.0)])
def test_loglik_matches_brute_force(long_path, params):
    t = long_path[0][:900]
    T = float(np.ceil(t[-1]))  # large decay x T: 400 x ~700 = 2.8e5, far beyond exp's range
    assert np.isclose(loglik_and_grad(params, t, T)[0], brute_force_loglik(params, t, T), rtol=1e-10, atol=0)
    assert np.isclose(loglik(params, t, T), brute_force_loglik(params, t, T), rtol=1e-10, atol=0)


def test_loglik_brute_force_random_and_capped_rows():
    rng = np.random.default_rng(3)
    # dense events at a small decay: one time cell, split into rows by the length cap
    t = np.sort(rng.uniform(0, 50.0, 2500))
    for params in [(0.5, 0.3, 0.01), (2.0, 0.5, 3.0), (1.0, 0.8, 2e4)]:
        assert np.isclose(loglik(params, t, 50.0), brute_force_loglik(params, t, 50.0), rtol=1e-10, atol=0)


def _direct_sums(t, beta):
    """A, B, E = sums over earlier events of lag^k e^{-beta lag}, k = 0, 1, 2, by an O(n^2) double sum."""
    lags = t[:, None] - t[None, :]
    earlier = np.tril(np.ones(lags.shape, bool), -1)
    lags = np.where(earlier, lags, 0.0)
    e = np.where(earlier, np.exp(-beta * lags), 0.0)
    return e.sum(1), (e * lags).sum(1), (e * lags**2).sum(1)


def _bursts(rng):
    """One burst of 1500 events and nine of 20, 1000 days apart."""
    sizes = [20] * 4 + [1500] + [20] * 5
    return np.sort(np.concatenate([1000.0 * k + rng.uniform(0, 2.0, m) for k, m in enumerate(sizes)]))


@pytest.mark.parametrize("case, beta", [("uniform", 0.02), ("uniform", 1.0), ("uniform", 30.0), ("bursts", 1.0),
                                        ("bursts", 300.0)])
def test_excitation_sums_match_direct_sums(case, beta):
    rng = np.random.default_rng(4)
    t = np.sort(rng.uniform(0, 3000.0, 700)) if case == "uniform" else _bursts(rng)
    A, B, E = excitation_sums(t, beta, order=2)
    A_ref, B_ref, E_ref = _direct_sums(t, beta)
    # the recursion adds nonnegative terms only: a few ulps, whatever beta x T (here up to 3e6)
    for M, ref in ((A, A_ref), (B, B_ref), (E, E_ref)):
        np.testing.assert_allclose(M, ref, rtol=1e-12, atol=1e-300)
    for order in (0, 1):
        lower = excitation_sums(t, beta, order=order)
        assert len(lower) == order + 1 and all(np.array_equal(M, ref) for M, ref in zip(lower, (A, B)))


def test_interpreted_scan_equals_the_compiled_one():
    """Without numba the same recursion runs in Python (slower): the same numbers."""
    t = np.sort(np.random.default_rng(8).uniform(0, 200.0, 300))
    out = np.zeros((3, len(t)))
    likelihood._scan(t, 1.3, 2, out)
    np.testing.assert_allclose(out, excitation_sums(t, 1.3, order=2), rtol=1e-14, atol=0)


@pytest.mark.parametrize("params", [(0.5, 0.6, 1.5), (0.2, 0.3, 20.0), (0.8, 0.1, 0.05)])
def test_gradient_matches_central_differences(long_path, params):
    t, T = long_path
    _, g = loglik_and_grad(params, t, T)
    fd = np.empty(3)
    for i in range(3):
        h = 1e-6 * params[i]
        e = np.zeros(3)
        e[i] = h
        fd[i] = (loglik(np.add(params, e), t, T) - loglik(np.subtract(params, e), t, T)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("params", [(0.5, 0.6, 1.5), (0.2, 0.3, 20.0), (0.8, 0.1, 0.05), (0.4, 1.2, 400.0)])
def test_hessian_matches_differences_of_the_gradient(long_path, params):
    t, T = long_path
    ll, g, H = loglik_terms(params, t, T, order=2)
    assert (ll, g.tolist()) == (loglik(params, t, T), loglik_and_grad(params, t, T)[1].tolist())
    fd = np.empty((3, 3))
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-5 * params[i]
        fd[:, i] = (loglik_and_grad(np.add(params, e), t, T)[1] - loglik_and_grad(np.subtract(params, e), t, T)[1]) / (
            2 * e[i])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7 * np.abs(H).max())
    assert np.array_equal(H, H.T)
    free = [True, False, True]
    np.testing.assert_array_equal(observed_information(params, t, T, free), -H[np.ix_(free, free)])


def test_extreme_decay_is_finite():
    t = np.sort(np.random.default_rng(5).uniform(0, 1e5, 5000))
    ll, g = loglik_and_grad((0.05, 0.5, 1e3), t, 1e5)  # decay x T = 1e8
    assert np.isfinite(ll) and np.all(np.isfinite(g))


# ---- estimation ------------------------------------------------------------------------------
def test_parameter_recovery(long_path):
    t, T = long_path
    model = HawkesContinuous().fit_timestamps(t, T)
    assert model.converged_
    for name, truth in TRUTH.items():
        est, se = getattr(model, f"{name}_"), model.stderr_[name]
        assert np.isfinite(se) and se > 0
        assert abs(est - truth) < 3 * se, (name, est, se)
    # the optimum: zero gradient, and no better point nearby
    p = np.array([model.baseline_, model.adjacency_, model.decay_])
    ll, g = loglik_and_grad(p, t, T)
    assert np.isclose(ll, model.loglik_) and np.max(np.abs(g * p)) < 1e-3
    for step in np.eye(3) * 1e-3:
        assert loglik(p * (1 + step), t, T) < ll and loglik(p * (1 - step), t, T) < ll


def test_matches_hawkesbook_reference():
    t = np.array(REF_TIMES)
    for params, ref in REF_LOGLIK.items():
        assert loglik(params, t, REF_END) == pytest.approx(ref, rel=1e-10)
    fixed = HawkesContinuous(decay=1.5).fit_timestamps(t, REF_END)
    assert fixed.decay_ == 1.5 and np.isnan(fixed.stderr_["decay"])
    assert fixed.loglik_ == pytest.approx(REF_FIXED["loglik"], rel=1e-6)
    assert fixed.baseline_ == pytest.approx(REF_FIXED["baseline"], rel=1e-4)
    assert fixed.adjacency_ == pytest.approx(REF_FIXED["adjacency"], rel=1e-4)
    # the fit_timestamps argument overrides the estimator parameter
    same = HawkesContinuous().fit_timestamps(t, REF_END, decay=1.5)
    assert same.adjacency_ == pytest.approx(fixed.adjacency_, rel=1e-9)
    free = HawkesContinuous().fit_timestamps(t, REF_END)
    assert free.loglik_ == pytest.approx(REF_FREE["loglik"], rel=1e-6)
    assert free.loglik_ >= REF_FREE["loglik"] - 1e-9  # never a worse optimum than the reference
    for name in ("baseline", "adjacency", "decay"):
        assert getattr(free, f"{name}_") == pytest.approx(REF_FREE[name], rel=1e-4)


def test_fit_timestamps_validates_input():
    with pytest.raises(ModelFitError, match="no events"):
        HawkesContinuous().fit_timestamps([], 10.0)
    with pytest.raises(ForecastInputError, match="end_time"):
        HawkesContinuous().fit_timestamps([1.0, 20.0], 10.0)
    with pytest.raises(ForecastInputError, match="decay"):
        HawkesContinuous(decay=-1.0).fit_timestamps([1.0, 2.0], 10.0)
    # unsorted input is sorted
    model = HawkesContinuous().fit_timestamps(REF_TIMES[::-1], REF_END)
    assert model.loglik_ == pytest.approx(REF_FREE["loglik"], rel=1e-6)


def _lbfgsb_reference(t, T, start):
    """Tight L-BFGS-B (scipy) maximum over (log mu, alpha, log beta) with the analytic gradient."""
    def objective(z):
        p = np.array([np.exp(z[0]), z[1], np.exp(z[2])])
        ll, g = loglik_and_grad(p, t, T)
        return -ll, -g * [p[0], 1.0, p[2]]

    res = optimize.minimize(objective, [np.log(start[0]), start[1], np.log(start[2])], jac=True, method="L-BFGS-B",
                            bounds=[(-20, 9), (0, 5), (-9, 9)], options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 5000})
    return np.array([np.exp(res.x[0]), res.x[1], np.exp(res.x[2])]), -res.fun


def _no_fallback(*args, **kwargs):
    raise AssertionError("L-BFGS-B fallback used")


def _path_with_decay(decay):
    return simulate_timestamps(0.5, 0.6, decay, end_time=800.0, rng=np.random.default_rng(int(10 * decay)))


@pytest.mark.parametrize("decay", [0.1, 1.0, 10.0])
def test_newton_reaches_the_lbfgsb_optimum(monkeypatch, decay):
    truth = (0.5, 0.6, decay)
    t = _path_with_decay(decay)
    ref_params, ref_ll = _lbfgsb_reference(t, 800.0, truth)
    monkeypatch.setattr(estimator, "optimize", SimpleNamespace(minimize=_no_fallback))
    params, ll, converged, n_eval = fit_mle(t, 800.0)
    assert converged and n_eval <= 14  # 4 start + about 5 Newton + 1 final
    assert ll >= ref_ll - 1e-10 * abs(ref_ll)
    np.testing.assert_allclose(params, ref_params, rtol=1e-5)
    assert ll == loglik(params, t, 800.0)
    model = HawkesContinuous().fit_timestamps(t, 800.0)  # recovery within 3 (analytic) standard errors
    for name, true_value, est in zip(("baseline", "adjacency", "decay"), truth, params):
        assert abs(est - true_value) < 3 * model.stderr_[name], (name, est, model.stderr_[name])


@pytest.mark.parametrize("decay, poor_start", [(0.1, 30.0), (1.0, 0.01)])
def test_start_avoids_poor_local_optima(decay, poor_start):
    """These paths have poor local optima: Newton started at a decay far above the data's scale ends on
    the alpha -> 0 plateau, far below it in a slow, trend-like kernel. The default start does not."""
    t = _path_with_decay(decay)
    rate = len(t) / 800.0
    best = fit_mle(t, 800.0)[1]
    assert fit_mle(t, 800.0, start=(rate / 2, 0.5, poor_start * rate))[1] < best - 5.0


def test_fit_mle_falls_back_to_lbfgsb_on_the_bound(monkeypatch):
    # more regular than a Poisson process: the maximum has no excitation, alpha = 0 on the bound
    t = (np.arange(300) + 0.5 + np.random.default_rng(2).uniform(-0.2, 0.2, 300)) * 4 / 3
    calls = []
    monkeypatch.setattr(estimator, "optimize", SimpleNamespace(
        minimize=lambda *a, **k: calls.append(1) or optimize.minimize(*a, **k)))
    params, ll, converged, _ = fit_mle(t, 400.0)
    assert calls and converged and params[1] == 0.0
    assert params[0] == pytest.approx(0.75, rel=1e-6)  # the Poisson MLE n / T
    assert ll == pytest.approx(300 * np.log(0.75) - 300, rel=1e-12)
    model = HawkesContinuous().fit_timestamps(t, 400.0)
    assert model.stderr_["baseline"] == pytest.approx(0.75 / np.sqrt(300), rel=1e-6)
    assert np.isnan(model.stderr_["adjacency"]) and np.isnan(model.stderr_["decay"])


def test_fit_mle_adjacency_on_the_bound():
    t = np.sort(np.random.default_rng(6).uniform(0, 500.0, 400))  # Poisson: no excitation
    params, *_ = fit_mle(t, 500.0, decay=2.0)
    assert params[1] < 0.05 and params[0] == pytest.approx(0.8 * (1 - params[1]), rel=0.1)


# ---- time rescaling --------------------------------------------------------------------------
def test_compensator_increments_sum_to_compensator(long_path):
    t, T = long_path
    mu, alpha, beta = TRUTH.values()
    inc = compensator_increments(t, T, mu, alpha, beta)
    k = 500
    direct = mu * t[k] + alpha * np.sum(1 - np.exp(-beta * (t[k] - t[:k])))
    assert inc[: k + 1].sum() == pytest.approx(direct, rel=1e-10)


def test_time_rescaling_accepts_the_true_model(long_path):
    t, T = long_path
    model = HawkesContinuous().fit_timestamps(t, T)
    tr = model.time_rescaling()
    assert tr.ks_p_value > 0.05
    assert list(tr.qq.columns) == ["theoretical", "empirical"] and len(tr.qq) == 200
    assert np.all(np.diff(tr.qq["empirical"]) >= 0)
    assert time_rescaling(t, T, *TRUTH.values()).ks_p_value > 0.05


def test_time_rescaling_rejects_a_wrong_model():
    t = simulate_timestamps(0.1, 0.9, 5.0, 2000.0, rng=np.random.default_rng(0))  # tight clusters
    wrong = HawkesContinuous(decay=0.05).fit_timestamps(t, 2000.0)  # slow kernel cannot make them
    assert wrong.time_rescaling().ks_p_value < 1e-6


# ---- simulation and forecasting --------------------------------------------------------------
def test_simulators_match_the_closed_form_mean():
    mu, alpha, beta, state = 0.4, 0.5, 1.2, 2.0
    expected = expected_daily_counts(mu, alpha, beta, 5, state)
    paths = simulate_daily_counts(mu, alpha, beta, 5, 40000, np.random.default_rng(8), state=state)
    se = paths.std(axis=0) / np.sqrt(len(paths))
    assert np.all(np.abs(paths.mean(axis=0) - expected) < 4 * se)
    rng = np.random.default_rng(9)
    totals = np.array([len(simulate_timestamps(mu, alpha, beta, 5.0, rng, state=state)) for _ in range(4000)])
    assert abs(totals.mean() - expected.sum()) < 4 * totals.std() / np.sqrt(len(totals))


def test_explosive_simulation_is_capped(caplog):
    with caplog.at_level("WARNING", logger="forecast.models.hawkes_continuous"):
        paths = simulate_daily_counts(0.5, 3.0, 2.0, 30, 50, np.random.default_rng(0), state=5.0,
                                      max_events_per_path=500)
    assert paths.shape == (50, 30) and "exceeded 500 events" in caplog.text
    assert paths.sum(axis=1).max() < 500 * 4 * 3  # stops within a generation or two of the cap


def test_counts_to_timestamps():
    y = np.array([0, 3, 1, 0, 2])
    for spread, rng in [("even", None), ("uniform", np.random.default_rng(0))]:
        t, T = counts_to_timestamps(y, spread, rng)
        assert T == 5.0 and len(t) == 6 and np.all(np.diff(t) > 0)
        np.testing.assert_array_equal(np.bincount(np.ceil(t).astype(int) - 1, minlength=5), y)
    np.testing.assert_allclose(counts_to_timestamps(y, "even")[0], [1 + 1 / 6, 1.5, 1 + 5 / 6, 2.5, 4.25, 4.75])
    with pytest.raises(ForecastInputError, match="spread"):
        counts_to_timestamps(y, "bogus")


def test_forecast_shape_determinism_and_conditioning(clustered_counts):
    model = HawkesContinuous(random_state=3, n_paths=500).fit(clustered_counts)
    assert model.uses_triggers is False
    fc = model.forecast(14)
    assert isinstance(fc, HawkesCountForecast) and fc.paths.shape == (500, 14)
    assert fc.index[0] == clustered_counts.index[-1] + pd.Timedelta(days=1)
    assert model.forecast(7, n_paths=300).paths.shape == (300, 7)
    again = HawkesContinuous(random_state=3, n_paths=500).fit(clustered_counts).forecast(14)
    np.testing.assert_array_equal(fc.paths, again.paths)
    other = HawkesContinuous(random_state=4, n_paths=500).fit(clustered_counts).forecast(14)
    assert not np.array_equal(fc.paths, other.paths)
    # mean of the simulated days vs the closed form given the excitation at the origin
    big = model.forecast(10, n_paths=40000).paths
    expected = expected_daily_counts(model.baseline_, model.adjacency_, model.decay_, 10, model.state_)
    assert np.all(np.abs(big.mean(axis=0) - expected) < 4 * big.std(axis=0) / np.sqrt(len(big)) + 1e-9)


def test_forecast_without_excitation_is_poisson(clustered_counts):
    model = HawkesContinuous(random_state=0).fit(clustered_counts)
    model.process_.baseline_, model.process_.adjacency_ = 0.7, 0.0
    fc = model.forecast(7, n_paths=40000)
    assert np.all(np.abs(fc.paths.mean(axis=0) - 0.7) < 4 * np.sqrt(0.7 / len(fc.paths)))
    assert np.all(np.abs(fc.paths.var(axis=0) / 0.7 - 1) < 0.05)
    # and the exact pmfs are Poisson(0.7 w) for the totals, Poisson(0.7) for the days
    for w in (1, 7):
        np.testing.assert_allclose(fc.total_pmf(w)[:12], stats.poisson.pmf(np.arange(12), 0.7 * w), rtol=1e-9,
                                   atol=1e-15)  # totals by FFT: absolute precision
    np.testing.assert_allclose(fc.daily_pmf(5)[:8], stats.poisson.pmf(np.arange(8), 0.7), rtol=1e-9)


def test_update_keeps_parameters_and_moves_the_state(clustered_counts):
    model = HawkesContinuous(random_state=0).fit(clustered_counts.iloc[:300])
    params = (model.baseline_, model.adjacency_, model.decay_)
    model.update(clustered_counts)
    assert (model.baseline_, model.adjacency_, model.decay_) == params
    expected = np.exp(-params[2] * (400 - np.arange(300, 400) - 0.5)) @ clustered_counts.iloc[300:].to_numpy()
    assert model.state_ == pytest.approx(expected, rel=0.5, abs=0.5)  # up to the within-day spread
    assert model.forecast(3).index[0] == clustered_counts.index[-1] + pd.Timedelta(days=1)


def test_summary(clustered_counts):
    model = HawkesContinuous(random_state=0).fit(clustered_counts)
    s = model.summary()
    assert isinstance(s, FitSummary) and s.model == "hawkes_continuous"
    assert set(s.params) == {"baseline", "adjacency", "decay"} == set(s.stderr)
    assert s.n_obs == clustered_counts.sum() and s.loglik == model.process_.loglik_ and np.isfinite(s.aic)
    d = s.diagnostics
    assert 0 <= d["ks_statistic"] <= 1 and 0 <= d["ks_p_value"] <= 1
    assert isinstance(d["qq"], pd.DataFrame)
    sens = d["spread_sensitivity"]
    for name, value in s.params.items():
        assert sens[name]["min"] <= value <= sens[name]["max"]
    assert "hawkes_continuous" in str(s)
    assert d["spread"] == "uniform"
    # fit_timestamps returns the event-time learner: summary and diagnostics, no daily forecast; the
    # estimator itself stays unfitted
    estimator_ = HawkesContinuous(decay=1.5)
    ts = estimator_.fit_timestamps(REF_TIMES, REF_END)
    assert isinstance(ts, ExpKernelHawkes) and ts.decay_ == 1.5 and not hasattr(ts, "forecast")
    diag = ts.summary().diagnostics
    assert "spread_sensitivity" not in diag and 0 <= diag["ks_p_value"] <= 1
    with pytest.raises(NotFittedError):
        estimator_.forecast(3)
    with pytest.raises(NotFittedError):
        ExpKernelHawkes().summary()


def test_estimator_conventions(clustered_counts):
    model = HawkesContinuous(decay=2.0, spread="even", n_paths=100, random_state=1)
    assert model.get_params() == {"decay": 2.0, "spread": "even", "n_paths": 100, "random_state": 1}
    with pytest.raises(NotFittedError):
        model.forecast(3)
    before = clustered_counts.copy()
    assert model.fit(clustered_counts) is model and model.decay_ == 2.0
    pd.testing.assert_series_equal(clustered_counts, before)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(ModelFitError, match="no attacks"):
        HawkesContinuous().fit(daily_series(np.zeros(30)))
    with pytest.raises(ForecastInputError, match="spread"):
        HawkesContinuous(spread="bogus").fit(clustered_counts)


# ---- exact predictive distributions (WindowCountLaw, HawkesCountForecast) --------------------------
def _frequencies(draws: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(draws, minlength=size)[:size] / len(draws)


@pytest.mark.parametrize("params, state", [((0.3, 0.7, 0.8), 2.0), ((1.3, 0.25, 2.5), 3.0), ((0.4, 0.4, 20.0), 1.0)])
def test_window_law_matches_monte_carlo(params, state):
    """The count in the first w days from a known excitation: the pgf's series vs simulated paths (the third
    case needs 10 time steps a day)."""
    mu, alpha, beta = params
    law = WindowCountLaw(*params, horizon=7)
    pmfs = law.window_pmfs(alpha * beta * state)
    paths = simulate_daily_counts(*params, 7, 100_000, np.random.default_rng(11), state=state)
    for w in (1, 3, 7):
        p = pmfs[w - 1]
        assert p.sum() == pytest.approx(1.0, abs=1e-12) and np.all(p >= 0)
        np.testing.assert_allclose(_frequencies(paths[:, :w].sum(axis=1), len(p)), p,
                                   atol=5 * np.sqrt(0.25 / len(paths)))
        mean = expected_daily_counts(*params, w, state).sum()
        assert np.arange(len(p)) @ p == pytest.approx(mean, rel=1e-6)


def test_window_law_closed_forms():
    """No excitation (alpha = 0): Poisson(mu w + x (1 - e^{-beta w}) / beta); and for any parameters the
    probability of no event in w days is exp(-mu w - x (1 - e^{-beta w}) / beta)."""
    mu, beta, x = 0.6, 1.7, 2.5
    pmfs = WindowCountLaw(mu, 0.0, beta, horizon=10).window_pmfs(x)
    for w in (1, 4, 10):
        m = mu * w + x * -np.expm1(-beta * w) / beta
        p = pmfs[w - 1]
        assert stats.poisson.sf(len(p) - 1, m) < 1e-10  # the support holds all but 1e-10 of the mass
        np.testing.assert_allclose(p[:-1], stats.poisson.pmf(np.arange(len(p) - 1), m), rtol=1e-9, atol=1e-15)
    pmfs = WindowCountLaw(mu, 0.9, beta, horizon=10).window_pmfs(x)
    for w in (1, 4, 10):
        assert pmfs[w - 1][0] == pytest.approx(np.exp(-mu * w + x * np.expm1(-beta * w) / beta), rel=1e-9)


def test_day_law_for_many_excess_values():
    law = WindowCountLaw(0.3, 0.8, 0.9, horizon=3)
    x = np.array([0.0, 0.4, 3.0, 12.0])
    P = law.pmfs(x)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(P @ np.arange(P.shape[1]), law.mean(x), rtol=1e-8)
    np.testing.assert_allclose(law.excess(law.mean(x)), x, rtol=1e-12, atol=1e-12)
    for xi, row in zip(x, P):  # the polynomial table (Panjer) equals the FFT of the pgf for this x alone
        single = law.window_pmfs(xi)[0][:-1]  # (the last count takes the cut-off tail)
        np.testing.assert_allclose(row[: len(single)], single, rtol=1e-9, atol=1e-15)


def test_forecast_totals_are_exact_and_days_rao_blackwellised(clustered_counts):
    model = HawkesContinuous(random_state=3).fit(clustered_counts)
    fc, few = model.forecast(14, n_paths=20_000), model.forecast(14, n_paths=50)
    other = HawkesContinuous(random_state=9).fit(clustered_counts)
    other.process_ = model.process_
    other.state_ = model.state_
    for w in (1, 7, 14):  # no simulation in the totals: the same pmf whatever the paths
        np.testing.assert_array_equal(fc.total_pmf(w), few.total_pmf(w))
        np.testing.assert_array_equal(fc.total_pmf(w), other.forecast(14, n_paths=80).total_pmf(w))
        assert fc.total_pmf(w).sum() == pytest.approx(1.0, abs=1e-12)
        total = fc.paths[:, :w].sum(axis=1)
        p = fc.total_pmf(w)
        np.testing.assert_allclose(_frequencies(total, len(p)), p, atol=5 * np.sqrt(0.25 / len(total)))
    # a surprise outcome keeps its exact probability: no event in 14 days
    x0 = model.adjacency_ * model.decay_ * model.state_
    p0 = np.exp(-model.baseline_ * 14 + x0 * np.expm1(-model.decay_ * 14) / model.decay_)
    assert few.total_pmf(14)[0] == pytest.approx(p0, rel=1e-9)
    # days: the mixture of each path's exact day law; day 1 starts from the origin's state on every path
    day1, total1 = fc.daily_pmf(1), fc.total_pmf(1)[:-1]
    np.testing.assert_allclose(day1[: len(total1)], total1, rtol=1e-9, atol=1e-15)
    assert day1[len(total1):].sum() < 1e-9
    for step in (2, 9):
        p = fc.daily_pmf(step)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(_frequencies(fc.paths[:, step - 1], len(p)), p, atol=5 * np.sqrt(0.25 / 20_000))
    expected = expected_daily_counts(model.baseline_, model.adjacency_, model.decay_, 14, model.state_)
    assert np.all(np.abs(fc.predicted_mean.to_numpy() - expected) < 0.03 * expected + 1e-3)
