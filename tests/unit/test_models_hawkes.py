"""Discrete-time Hawkes model (forecast.models.hawkes): likelihood against brute force, analytic
gradient against finite differences, recovery of simulated parameters, the background test, the
simulator against the closed-form conditional mean and exponential forgetting (weighted likelihood)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast import trigger_features
from forecast.models import Hawkes
from forecast.models.glm import forgetting_weights
from forecast.models.hawkes import (
    _bounds,
    _loglik_terms,
    excitation_states,
    fit_mle,
    intensity,
    loglik_and_grad,
    observed_information,
    simulate,
)

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def brute_force_loglik(theta, y, X):
    """O(n^2) log-likelihood straight from the model equation
    lambda_t = mu_t + alpha sum_{s<t} (1 - e^{-beta}) e^{-beta (t-1-s)} y_s."""
    gamma, alpha, beta = theta[:-2], theta[-2], theta[-1]
    total = 0.0
    for t in range(len(y)):
        mu = math.exp(float(np.dot(X[t], gamma)))
        exc = sum((1 - math.exp(-beta)) * math.exp(-beta * (t - 1 - s)) * y[s] for s in range(t))
        lam = mu + alpha * exc
        total += y[t] * math.log(lam) - lam - math.lgamma(y[t] + 1)
    return total


def _design(n, seed=0):
    """Intercept plus two trigger-feature columns (decay and impulse encodings) on n days."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq="D")
    days = np.sort(rng.choice(n, size=max(n // 15, 3), replace=False))
    trig = pd.DataFrame({"date": index[days], "kind": rng.choice(["us_strike", "regional"], size=len(days)),
                         "name": "t"})
    decay = trigger_features(index, trig, kinds=["us_strike"], encoding="decay", half_life=5.0, lag=1)
    impulse = trigger_features(index, trig, kinds=["regional"], encoding="impulse", lag=1)
    return np.column_stack([np.ones(n), decay.to_numpy()[:, 0], impulse.to_numpy()[:, 0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loglik_equals_brute_force_and_gradient_equals_finite_differences(seed):
    rng = np.random.default_rng(seed)
    n = 150
    X = _design(n, seed)
    theta = np.array([np.log(rng.uniform(0.1, 0.8)), rng.normal(0, 0.5), rng.normal(0, 0.5),
                      rng.uniform(0.1, 0.9), rng.uniform(0.2, 2.0)])
    y = simulate(theta, X, 0.0, 0.0, 1, np.random.default_rng(seed + 100))[0].astype(float)
    assert y.sum() > 10

    ll, grad = loglik_and_grad(theta, y, X)
    assert ll == pytest.approx(brute_force_loglik(theta, y, X), rel=1e-10)

    # evaluated away from the simulating values too
    theta2 = theta + rng.normal(0, 0.1, size=len(theta))
    theta2[-2:] = np.abs(theta2[-2:]) + 0.05
    for th in (theta, theta2):
        ll, grad = loglik_and_grad(th, y, X)
        assert ll == pytest.approx(brute_force_loglik(th, y, X), rel=1e-10)
        fd = np.empty_like(th)
        for i in range(len(th)):
            h = 1e-6 * max(1.0, abs(th[i]))
            e = np.zeros_like(th)
            e[i] = h
            fd[i] = (loglik_and_grad(th + e, y, X)[0] - loglik_and_grad(th - e, y, X)[0]) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(grad)))


@pytest.mark.parametrize("prior_sd", [None, 0.7])
def test_hessian_equals_finite_differences_of_the_gradient(prior_sd):
    rng = np.random.default_rng(11)
    X = _design(200, 11)
    theta = np.array([np.log(0.4), 0.3, -0.2, 0.5, 0.8])
    y = simulate(theta, X, 0.0, 0.0, 1, rng)[0].astype(float)
    th = theta + rng.normal(0, 0.05, size=len(theta))
    H = -observed_information(th, y, X, prior_sd)
    fd = np.empty_like(H)
    for i in range(len(th)):
        h = 1e-6 * max(1.0, abs(th[i]))
        e = np.zeros_like(th)
        e[i] = h
        fd[i] = (loglik_and_grad(th + e, y, X, prior_sd)[1]
                 - loglik_and_grad(th - e, y, X, prior_sd)[1]) / (2 * h)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(H)))
    assert np.allclose(H, H.T)


def _lbfgsb_reference(y, X, prior_sd, weights=None):
    """scipy's L-BFGS-B on the same objective, tight tolerances: the reference optimum."""
    from scipy import optimize

    def objective(th):
        ll, g = loglik_and_grad(th, y, X, prior_sd, weights=weights)
        return -ll, -g

    start = np.r_[np.log(y.mean() * 0.5), np.zeros(X.shape[1] - 1), 0.5, 0.5]
    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=_bounds(X.shape[1]),
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
    return res.x, -res.fun


@pytest.mark.parametrize("seed,prior_sd", [(0, None), (1, 1.0), (2, 0.5)])
def test_newton_fit_reaches_the_reference_optimum(seed, prior_sd):
    X = _design(400, seed)
    truth = np.array([np.log(0.3), 0.5, -0.4, 0.6, 0.7])
    if prior_sd is None:  # without the prior a rare impulse trigger on attack-free days is not identified
        X, truth = X[:, :2], truth[[0, 1, 3, 4]]
    y = simulate(truth, X, 0.0, 0.0, 1, np.random.default_rng(seed + 50))[0].astype(float)
    theta, ll, converged = fit_mle(y, X, None, prior_sd)
    ref, ref_obj = _lbfgsb_reference(y, X, prior_sd)
    assert converged
    # the optimum is at least as good as the reference and has a zero gradient
    assert loglik_and_grad(theta, y, X, prior_sd)[0] >= ref_obj - 1e-9
    np.testing.assert_allclose(theta, ref, atol=1e-4)
    assert np.max(np.abs(loglik_and_grad(theta, y, X, prior_sd)[1])) < 1e-8
    assert ll == pytest.approx(loglik_and_grad(theta, y, X)[0], rel=1e-12)


def test_fit_with_no_self_excitation_puts_the_adjacency_on_its_bound(monkeypatch):
    """An attack every other day is anti-clustered: the MLE of alpha is 0, on the bound, so Newton
    hands over to L-BFGS-B; the fit matches the reference optimum and the baseline is the mean."""
    from types import SimpleNamespace

    from scipy import optimize

    import forecast.models.hawkes as hk

    fallbacks = []
    monkeypatch.setattr(hk, "optimize", SimpleNamespace(
        minimize=lambda *a, **k: fallbacks.append(1) or optimize.minimize(*a, **k)))
    y = np.tile([1.0, 0.0], 150)
    X = np.ones((300, 1))
    theta, _, converged = fit_mle(y, X)
    monkeypatch.undo()
    ref, ref_obj = _lbfgsb_reference(y, X, None)
    assert converged and fallbacks == [1]
    assert loglik_and_grad(theta, y, X, None)[0] >= ref_obj - 1e-8
    assert theta[-2] < 1e-6
    assert np.exp(theta[0]) == pytest.approx(0.5, rel=1e-4)


def test_excitation_states_match_their_definitions():
    rng = np.random.default_rng(5)
    y = rng.poisson(1.0, 60).astype(float)
    beta = 0.8
    R, D, E = excitation_states(y, beta, second=True)
    for t in range(len(y)):
        s = np.arange(t)
        assert R[t] == pytest.approx(np.sum(np.exp(-beta * (t - 1 - s)) * y[s]), abs=1e-10)
        assert D[t] == pytest.approx(np.sum((t - 1 - s) * np.exp(-beta * (t - 1 - s)) * y[s]), abs=1e-9)
        assert E[t] == pytest.approx(np.sum((t - 1 - s) ** 2 * np.exp(-beta * (t - 1 - s)) * y[s]), abs=1e-8)


def test_parameter_recovery_from_a_long_simulation():
    """3000 days simulated with baseline 0.3, adjacency 0.5, decay 0.7 and a us_strike effect of 0.8:
    every MLE lies within 3 standard errors of the truth."""
    n = 3000
    index = pd.date_range("2015-01-01", periods=n, freq="D", name="date")
    rng = np.random.default_rng(2024)
    days = np.sort(rng.choice(n - 1, size=80, replace=False))
    triggers = pd.DataFrame({"date": index[days], "kind": "us_strike", "name": "strike"})
    x = trigger_features(index, triggers, kinds=["us_strike"], encoding="decay", half_life=7.0, lag=1)
    X = np.column_stack([np.ones(n), x.to_numpy()[:, 0]])
    truth = {"baseline": 0.3, "adjacency": 0.5, "decay": 0.7, "effect_us_strike": 0.8}
    theta = np.array([np.log(truth["baseline"]), truth["effect_us_strike"], truth["adjacency"], truth["decay"]])
    y = simulate(theta, X, 0.0, 0.0, 1, rng)[0]
    counts = pd.Series(y, index=index, name="count")

    model = Hawkes(trigger_kinds=["us_strike"], effect_prior_sd=None, forget_half_life=None, random_state=0).fit(
        counts, triggers)
    s = model.summary()
    assert model.converged_
    assert set(s.params) == set(truth)
    for name, value in truth.items():
        se = s.stderr[name]
        assert np.isfinite(se) and se > 0, name
        assert abs(s.params[name] - value) < 3 * se, (name, s.params[name], value, se)
    # the attributes carry the same numbers as the summary
    assert model.baseline_ == s.params["baseline"]
    assert model.adjacency_ == s.params["adjacency"]
    assert model.decay_ == s.params["decay"]
    assert model.effects_["effect_us_strike"] == s.params["effect_us_strike"]
    # the standard errors are of the size the Fisher information of 3000 days implies (not vacuous)
    assert s.stderr["adjacency"] < 0.1 and s.stderr["effect_us_strike"] < 0.5


def test_background_test_detects_a_step_in_the_background():
    """No self-excitation, background 0.15 -> 1.2 per day halfway: a constant-background Hawkes fit
    mistakes the step for excitation; the piecewise-constant alternative explains it."""
    rng = np.random.default_rng(7)
    y = np.concatenate([rng.poisson(0.15, 300), rng.poisson(1.2, 300)])
    counts = pd.Series(y, index=pd.date_range("2020-01-01", periods=len(y), freq="D"))
    model = Hawkes(background_segments=6, forget_half_life=None, random_state=0).fit(counts)
    bt = model.background_test()
    assert bt["df"] == 5 and bt["segments"] == 6
    assert bt["p_value"] < 1e-3
    assert bt["adjacency_constant"] == model.adjacency_
    assert bt["adjacency_time_varying"] < bt["adjacency_constant"]
    assert bt["adjacency_time_varying"] < 0.15
    s = model.summary()
    assert s.diagnostics["background_p_value"] == bt["p_value"]


def test_background_test_does_not_reject_a_constant_background(make_hawkes_counts):
    counts = make_hawkes_counts(n_days=1000, seed=3)
    bt = Hawkes(background_segments=4, random_state=0).fit(counts).background_test()
    assert bt["p_value"] > 0.01
    assert abs(bt["adjacency_time_varying"] - bt["adjacency_constant"]) < 0.15


def test_simulate_mean_matches_the_closed_form_conditional_expectation():
    """E[y_{T+1}] = mu_{T+1} + alpha (1 - e^{-beta}) R_{T+1} with R_{T+1} = e^{-beta} R_T + y_T, and
    E[y_{T+2}] = mu_{T+2} + alpha (1 - e^{-beta}) (e^{-beta} R_{T+1} + E[y_{T+1}])."""
    gamma = np.array([np.log(0.4), 0.6])
    alpha, beta = 0.6, 0.9
    theta = np.r_[gamma, alpha, beta]
    X = np.array([[1.0, 0.0], [1.0, 1.0]])
    R_T, y_T = 2.5, 3
    n = 40000
    paths = simulate(theta, X, R_T, y_T, n, np.random.default_rng(0))
    assert paths.shape == (n, 2) and paths.dtype.kind == "i"
    a, c = np.exp(-beta), 1 - np.exp(-beta)
    mu = np.exp(X @ gamma)
    R1 = a * R_T + y_T
    m1 = mu[0] + alpha * c * R1
    m2 = mu[1] + alpha * c * (a * R1 + m1)
    for step, m in ((0, m1), (1, m2)):
        sd = paths[:, step].std() / np.sqrt(n)
        assert abs(paths[:, step].mean() - m) < 4 * sd, (step, paths[:, step].mean(), m)
    # day 1 is exactly Poisson given the history: variance equals the mean
    assert paths[:, 0].var() == pytest.approx(m1, rel=0.05)


def test_forecast_continues_from_the_observed_state(synthetic_counts, synthetic_triggers):
    """The model's day-1 forecast mean is the closed form at the fitted parameters, with the trigger
    features of the first forecast day."""
    model = Hawkes(n_paths=20000, random_state=1).fit(synthetic_counts, synthetic_triggers)
    y = synthetic_counts.to_numpy().astype(float)
    R, _ = excitation_states(y, model.decay_)
    assert model.state_ == (pytest.approx(R[-1]), y[-1])
    fc = model.forecast(3)
    index = synthetic_counts.index.append(fc.index)
    x = trigger_features(index, synthetic_triggers[synthetic_triggers["date"] <= synthetic_counts.index[-1]],
                         encoding="decay", half_life=7.0, lag=1).add_prefix("effect_")
    eta = np.log(model.baseline_) + sum(model.effects_[c] * x[c].iloc[len(y)] for c in model.columns_[1:])
    a = np.exp(-model.decay_)
    expected = np.exp(eta) + model.adjacency_ * (1 - a) * (a * R[-1] + y[-1])
    sd = fc.paths[:, 0].std() / np.sqrt(fc.paths.shape[0])
    assert abs(fc.predicted_mean.iloc[0] - expected) < 4 * sd


def test_intensity_matches_loglik_definition():
    X = _design(80, 4)
    theta = np.array([np.log(0.3), 0.2, -0.3, 0.4, 0.5])
    y = simulate(theta, X, 0.0, 0.0, 1, np.random.default_rng(4))[0].astype(float)
    lam = intensity(theta, y, X)
    ll = np.sum(y * np.log(lam) - lam - np.array([math.lgamma(v + 1) for v in y]))
    assert ll == pytest.approx(loglik_and_grad(theta, y, X)[0], rel=1e-12)


def test_summary_after_update_describes_the_fitted_data(synthetic_counts, synthetic_triggers):
    """update() keeps the parameters: summary() reports them with the log-likelihood, n_obs, standard
    errors and background test of the data they were fitted on (not a mix of old and new data)."""
    model = Hawkes(random_state=0).fit(synthetic_counts.iloc[:150], synthetic_triggers)
    model.update(synthetic_counts, synthetic_triggers)
    after = model.summary()
    fresh = Hawkes(random_state=0).fit(synthetic_counts.iloc[:150], synthetic_triggers).summary()
    assert after.n_obs == fresh.n_obs == 150
    assert after.loglik == fresh.loglik
    pd.testing.assert_series_equal(pd.Series(after.params), pd.Series(fresh.params))  # NaN = not estimated
    pd.testing.assert_series_equal(pd.Series(after.stderr), pd.Series(fresh.stderr), rtol=1e-8)
    assert after.diagnostics["background_lr_stat"] == pytest.approx(fresh.diagnostics["background_lr_stat"])
    # while the forecast state follows the new data
    R, _ = excitation_states(synthetic_counts.to_numpy().astype(float), model.decay_)
    assert model.state_ == (pytest.approx(R[-1]), float(synthetic_counts.iloc[-1]))


# ---- exponential forgetting (weighted likelihood) -----------------------------------------------------
def _weighted_problem(n=200, seed=11):
    X = _design(n, seed)
    theta = np.array([np.log(0.4), 0.3, -0.2, 0.5, 0.8])
    y = simulate(theta, X, 0.0, 0.0, 1, np.random.default_rng(seed))[0].astype(float)
    return theta, y, X


def test_unit_weights_are_the_unweighted_likelihood_bit_for_bit():
    """weights=None is w_t = 1: the log-likelihood, gradient, Hessian and fit are the same numbers, bit for
    bit, and the estimator without forgetting fits the unweighted likelihood."""
    theta, y, X = _weighted_problem()
    for a, b in zip(_loglik_terms(theta, y, X, 0.7, hessian=True),
                    _loglik_terms(theta, y, X, 0.7, hessian=True, weights=np.ones(len(y)))):
        np.testing.assert_array_equal(a, b)
    assert loglik_and_grad(theta, y, X)[0] == loglik_and_grad(theta, y, X, weights=np.ones(len(y)))[0]
    np.testing.assert_array_equal(fit_mle(y, X)[0], fit_mle(y, X, weights=np.ones(len(y)))[0])
    counts = pd.Series(y.astype(np.int64), index=pd.date_range("2024-01-01", periods=len(y), freq="D"))
    model = Hawkes(forget_half_life=None, random_state=0).fit(counts)
    assert model.weights_ is None
    np.testing.assert_array_equal(model.theta_, fit_mle(y, np.ones((len(y), 1)), None, 1.0)[0])


@pytest.mark.parametrize("prior_sd", [None, 0.7])
def test_weighted_loglik_gradient_and_hessian_match_brute_force_and_finite_differences(prior_sd):
    """sum_t w_t log Poisson(y_t; lambda_t) by brute force; gradient and Hessian against central
    differences of the weighted log-likelihood and gradient (forgetting weights and random weights)."""
    theta, y, X = _weighted_problem()
    th = theta + np.random.default_rng(3).normal(0, 0.05, size=len(theta))
    for w in (forgetting_weights(len(y), 10.0), np.random.default_rng(4).uniform(0.0, 2.0, len(y))):
        lam = intensity(th, y, X)
        brute = sum(w[t] * (y[t] * math.log(lam[t]) - lam[t] - math.lgamma(y[t] + 1)) for t in range(len(y)))
        penalty = 0.0 if prior_sd is None else float(th[1:-2] @ th[1:-2]) / (2 * prior_sd**2)
        assert loglik_and_grad(th, y, X, prior_sd, weights=w)[0] == pytest.approx(brute - penalty, rel=1e-10)
        grad = loglik_and_grad(th, y, X, prior_sd, weights=w)[1]
        H = -observed_information(th, y, X, prior_sd, weights=w)
        fd_grad, fd_hess = np.empty_like(th), np.empty_like(H)
        for i in range(len(th)):
            e = np.zeros_like(th)
            e[i] = 1e-6 * max(1.0, abs(th[i]))
            up, down = loglik_and_grad(th + e, y, X, prior_sd, weights=w), loglik_and_grad(th - e, y, X, prior_sd,
                                                                                              weights=w)
            fd_grad[i] = (up[0] - down[0]) / (2 * e[i])
            fd_hess[i] = (up[1] - down[1]) / (2 * e[i])
        np.testing.assert_allclose(grad, fd_grad, rtol=1e-5, atol=1e-6 * np.max(np.abs(grad)))
        np.testing.assert_allclose(H, fd_hess, rtol=1e-5, atol=1e-6 * np.max(np.abs(H)))
        assert np.allclose(H, H.T)


def test_weighted_fit_reaches_the_reference_optimum():
    theta, y, X = _weighted_problem(400, 5)
    w = forgetting_weights(len(y), 60.0)
    fitted, ll, converged = fit_mle(y, X, None, 1.0, weights=w)
    ref, ref_obj = _lbfgsb_reference(y, X, 1.0, weights=w)
    assert converged
    assert loglik_and_grad(fitted, y, X, 1.0, weights=w)[0] >= ref_obj - 1e-9
    np.testing.assert_allclose(fitted, ref, atol=1e-4)
    assert ll == pytest.approx(loglik_and_grad(fitted, y, X, weights=w)[0], rel=1e-12)


def test_forgetting_follows_a_regime_change():
    """0.2/day for 300 days then 2.0/day for 30 (ten seeded series): with a 14-day half-life the 7-day
    forecast mean averages 2.0 within 0.25 and is higher in every series than without forgetting, whose
    excitation follows the change only part of the way (average below 1.6)."""
    forget, plain = [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        y = np.concatenate([rng.poisson(0.2, 300), rng.poisson(2.0, 30)])
        counts = pd.Series(y, index=pd.date_range("2022-01-01", periods=len(y), freq="D", name="date"))
        forget.append(Hawkes(forget_half_life=14.0, random_state=0).fit(counts).forecast(7).predicted_mean.mean())
        plain.append(Hawkes(forget_half_life=None, random_state=0).fit(counts).forecast(7).predicted_mean.mean())
    assert abs(np.mean(forget) - 2.0) < 0.25 and np.mean(plain) < 1.6
    assert np.all(np.array(forget) > np.array(plain))


def test_forgetting_tends_to_the_unweighted_fit_as_the_half_life_grows():
    """|theta(h) - theta(None)| = O(1/h): a tenth of the distance for ten times the half-life, below 1e-5
    at h = 1e7 days (beyond the estimator's 3650-day limit, so through fit_mle)."""
    theta, y, X = _weighted_problem(300, 2)
    base = fit_mle(y, X, None, 1.0)[0]
    dist = [np.max(np.abs(fit_mle(y, X, None, 1.0, weights=forgetting_weights(len(y), h))[0] - base))
            for h in (365.0, 3650.0, 1e7)]
    assert dist[1] / dist[0] == pytest.approx(0.1, abs=0.03) and dist[2] < 1e-5


def test_summary_under_forgetting(synthetic_counts, synthetic_triggers):
    """Standard errors from the weighted information, effective days = sum w, and the background test on
    the unweighted likelihood (its constant-background fit is the unforgetting model's)."""
    model = Hawkes(forget_half_life=28.0, random_state=0).fit(synthetic_counts, synthetic_triggers)
    plain = Hawkes(forget_half_life=None, random_state=0).fit(synthetic_counts, synthetic_triggers)
    s = model.summary()
    w = forgetting_weights(len(synthetic_counts), 28.0)
    assert s.diagnostics["effective_days"] == pytest.approx(w.sum())
    _, y, X = model._fit_data
    info = observed_information(model.theta_, y, X, 1.0, weights=w)
    assert s.stderr["adjacency"] == pytest.approx(np.sqrt(np.linalg.inv(info)[-2, -2]), rel=1e-8)
    assert s.loglik == pytest.approx(loglik_and_grad(model.theta_, y, X, weights=w)[0], rel=1e-12)
    bt = model.background_test()
    assert bt == plain.background_test()


@pytest.mark.parametrize("bad", [0.0, -1.0, 3651.0, True])
def test_bad_forget_half_life_names_the_key(bad, synthetic_counts):
    from forecast.errors import ForecastInputError

    with pytest.raises(ForecastInputError, match="model.forget_half_life"):
        Hawkes(forget_half_life=bad).fit(synthetic_counts)
