"""RegimeHMM: forward algorithm against brute force, the transition prior, parameter recovery, exact forecasts
against Monte Carlo, determinism, the regimes of the real series, update() and degenerate data."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit, logit

from forecast.errors import ForecastInputError, ModelFitError
from forecast.models.regime import RegimeHMM, _fb, _Params, forward_backward, nb_logpmf
from tests.conftest import real_series

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def series(values, start: str = "2024-01-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.int64),
                     index=pd.date_range(start, periods=len(values), freq="D", name="date"), name="count")


def simulate_chain(start, transmat, means, alpha, horizon, n_paths, rng) -> np.ndarray:
    """n_paths x horizon counts of the HMM started from the state distribution ``start``."""
    n = 1.0 / alpha
    p = n / (n + np.asarray(means))
    cum = np.cumsum(transmat, axis=1)
    state = rng.choice(len(start), size=n_paths, p=start)
    out = np.zeros((n_paths, horizon), dtype=np.int64)
    for h in range(horizon):
        state = np.minimum((rng.random(n_paths)[:, None] > cum[state]).sum(axis=1), len(start) - 1)
        out[:, h] = rng.negative_binomial(n, p[state])
    return out


@pytest.fixture(scope="module")
def real():
    return real_series()


@pytest.fixture(scope="module")
def real_fit(real):
    return RegimeHMM(random_state=0).fit(real[0])


# ---- (1) likelihood -------------------------------------------------------------------------------
def brute_force(logf, trans, startprob):
    """log p(y), P(s_t | y) and P(s_{t-1}, s_t | y) by enumerating every state path."""
    T, K = logf.shape
    total, marg, pair = 0.0, np.zeros((T, K)), np.zeros((T - 1, K, K))
    for path in itertools.product(range(K), repeat=T):
        w = startprob[path[0]] * np.exp(logf[0, path[0]])
        for t in range(1, T):
            w *= trans[t - 1, path[t - 1], path[t]] * np.exp(logf[t, path[t]])
        total += w
        marg[np.arange(T), path] += w
        for t in range(1, T):
            pair[t - 1, path[t - 1], path[t]] += w
    return np.log(total), marg / total, pair / total


def test_forward_backward_equals_brute_force_enumeration():
    rng = np.random.default_rng(1)
    T, K = 5, 2
    logf = nb_logpmf(np.array([0, 3, 7, 0, 1]), np.array([0.2, 3.0]), 0.4)
    trans = rng.dirichlet(np.ones(K), size=(T - 1, K))  # time-varying, as with trigger features
    start = np.array([0.3, 0.7])
    ll, filtered, smoothed, xi = forward_backward(logf, trans, start)
    ll_bf, marg, pair = brute_force(logf, trans, start)
    assert ll == pytest.approx(ll_bf, rel=1e-12)
    np.testing.assert_allclose(smoothed, marg, atol=1e-12)
    np.testing.assert_allclose(xi, pair, atol=1e-12)
    np.testing.assert_allclose(smoothed[-1], filtered[-1], atol=1e-12)  # at T filtering is smoothing
    # filtered probabilities = brute force on the prefix y_1..t
    ll3, marg3, _ = brute_force(logf[:3], trans[:2], start)
    np.testing.assert_allclose(filtered[2], marg3[-1], atol=1e-12)


def test_fitted_loglik_equals_brute_force_over_state_paths():
    counts = series([0, 2, 5, 0, 1])
    model = RegimeHMM(n_states=2, random_state=0).fit(counts)
    logf = nb_logpmf(counts.to_numpy(), model.means_, model.alpha_)
    trans = np.repeat(model.transmat_[None], len(counts) - 1, axis=0)
    ll_bf, marg, _ = brute_force(logf, trans, model.startprob_)
    assert model.loglik_ == pytest.approx(ll_bf, rel=1e-10)
    assert model.loglikelihood(counts) == pytest.approx(ll_bf, rel=1e-10)
    np.testing.assert_allclose(model.smoothed_.to_numpy(), marg, atol=1e-10)
    np.testing.assert_allclose(model.transmat_.sum(axis=1), 1.0)
    assert model.means_[0] < model.means_[1]


@pytest.mark.parametrize("prior", [0.0, 1.5])
def test_analytic_gradient_matches_finite_differences(real, prior):
    counts, triggers = real
    model = RegimeHMM(trigger_kinds=["us_strike", "regional"], transition_prior=prior, max_iter=5, n_starts=1,
                      random_state=0)
    model.fit(counts, triggers)
    y, X = model._fit_y, model._fit_X
    theta = model._theta + np.random.default_rng(0).normal(0, 0.3, len(model._theta))
    _, grad = model._objective(theta, y, X)
    eps = 1e-6
    numeric = [(model._objective(theta + e, y, X)[0] - model._objective(theta - e, y, X)[0]) / (2 * eps)
               for e in np.eye(len(theta)) * eps]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_transition_prior_adds_c_times_the_log_transition_probabilities(real):
    """The objective with prior c is the one without it minus c sum_ij log A[i, j] (A at x = 0), and with
    c = 0 it is the penalised negative log-likelihood as it was before the prior existed, to the last bit."""
    counts, triggers = real
    model = RegimeHMM(trigger_kinds=["us_strike"], max_iter=5, n_starts=1, random_state=0).fit(counts, triggers)
    y, X = model._fit_y, model._fit_X
    theta = model._theta + np.random.default_rng(1).normal(0, 0.3, len(model._theta))
    plain = RegimeHMM(trigger_kinds=["us_strike"], transition_prior=0.0)
    with_prior = RegimeHMM(trigger_kinds=["us_strike"], transition_prior=2.5)
    p = _Params(theta, 3, X.shape[1])
    ll = _fb(nb_logpmf(y, p.mu, p.alpha).T, p.transitions(X[1:]), np.full(3, 1 / 3))[0]
    assert plain._objective(theta, y, X)[0] == -(ll - 0.5 * float(p.beta @ p.beta))
    A = p.transitions(np.zeros((1, X.shape[1])))[..., 0]
    assert with_prior._objective(theta, y, X)[0] == pytest.approx(
        plain._objective(theta, y, X)[0] - 2.5 * np.log(A).sum(), rel=1e-12)


def test_transition_prior_keeps_every_transition_possible():
    """On the shipped series through 2024 (one campaign, then lulls) the plain MLE puts a transition
    probability on the bound of its logit (a new campaign is never foreseen from a lull); with the default
    prior every transition probability is above 1e-4, there and on the whole shipped series."""
    counts = real_series(end="2024-12-31")[0]
    plain = RegimeHMM(transition_prior=0.0, random_state=0).fit(counts)
    assert plain.transmat_.min() < 1e-6
    for series in (counts, real_series()[0]):
        model = RegimeHMM(random_state=0).fit(series)
        assert model.transition_prior == 1.0 and model.transmat_.min() > 1e-4
        assert model.loglik_ < RegimeHMM(transition_prior=0.0, random_state=0).fit(series).loglik_ + 1e-9


# ---- (2) recovery ----------------------------------------------------------------------------------
def test_recovers_simulated_parameters():
    means, alpha = np.array([0.05, 3.0]), 0.3
    transmat = np.array([[0.98, 0.02], [0.04, 0.96]])
    rng = np.random.default_rng(20240101)
    y = simulate_chain(np.array([0.5, 0.5]), transmat, means, alpha, 3000, 1, rng)[0]
    model = RegimeHMM(n_states=2, n_starts=2, random_state=0).fit(series(y, "2015-01-01"))
    s = model.summary()
    assert model.state_names_ == ["lull", "campaign"]
    assert model.converged_
    truth = {"mean_lull": 0.05, "mean_campaign": 3.0, "alpha": 0.3, "p_stay_lull": 0.98, "p_stay_campaign": 0.96}
    tol = {"mean_lull": 0.02, "mean_campaign": 0.3, "alpha": 0.12, "p_stay_lull": 0.01, "p_stay_campaign": 0.015}
    for name, value in truth.items():
        assert s.params[name] == pytest.approx(value, abs=tol[name]), name
        assert np.isfinite(s.stderr[name]) and s.stderr[name] > 0, name
        assert abs(s.params[name] - value) < 4 * s.stderr[name], name  # honest standard errors
    np.testing.assert_allclose(model.transmat_, transmat, atol=0.015)
    assert s.n_params == 5 and s.aic == pytest.approx(10 - 2 * s.loglik)


# ---- (3) exact forecasts ---------------------------------------------------------------------------
def test_total_pmf_matches_monte_carlo_and_daily_pmf_is_the_mixture(real):
    counts = real[0].loc[:"2024-01-20"]  # origin inside the campaign: a spread-out predictive distribution
    model = RegimeHMM(random_state=0).fit(counts)
    fc = model.forecast(14)
    start = model.filtered_.to_numpy()[-1]

    # daily pmf on day 1 by hand: mixture over start @ A of NB pmfs
    pi1 = start @ model.transmat_
    day1 = fc.daily_pmf(1)
    n = 1.0 / model.alpha_
    k = np.arange(len(day1))
    by_hand = sum(pi1[j] * stats.nbinom.pmf(k, n, n / (n + m)) for j, m in enumerate(model.means_))
    np.testing.assert_allclose(day1, by_hand, atol=1e-10)
    assert stats.nbinom.sf(len(day1) - 1, n, n / (n + model.means_.max())) <= 1e-10  # stated truncation

    # exact means: sum_h pi_h . mu
    pis = [start]
    for _ in range(14):
        pis.append(pis[-1] @ model.transmat_)
    exact_mean = sum(p @ model.means_ for p in pis[1:])
    assert fc.total_mean(14) == pytest.approx(exact_mean, rel=1e-8)
    np.testing.assert_allclose(fc.predicted_mean.to_numpy(), [p @ model.means_ for p in pis[1:]], rtol=1e-8)

    paths = simulate_chain(start, model.transmat_, model.means_, model.alpha_, 14, 200_000,
                           np.random.default_rng(7))
    for window in (1, 7, 14):
        total = fc.total_pmf(window)
        assert total.sum() == pytest.approx(1.0, abs=1e-12) and np.all(total >= 0)
        sim = paths[:, :window].sum(axis=1)
        se = sim.std() / np.sqrt(len(sim))
        assert fc.total_mean(window) == pytest.approx(sim.mean(), abs=4 * se)
        p0 = np.mean(sim == 0)
        assert total[0] == pytest.approx(p0, abs=4 * np.sqrt(p0 * (1 - p0) / len(sim)) + 1e-4)
        emp = np.bincount(sim, minlength=len(total)) / len(sim)
        width = max(len(emp), len(total))
        diff = np.abs(np.pad(emp, (0, width - len(emp))) - np.pad(total, (0, width - len(total))))
        assert diff.max() < 0.004
        # chi-square over bins with expected count >= 20 (the rest pooled)
        expected = total * len(sim)
        big = expected >= 20
        observed = np.bincount(sim, minlength=width)[:len(total)][big]
        obs = np.append(observed, len(sim) - observed.sum())
        exp = np.append(expected[big], len(sim) - expected[big].sum())
        assert stats.chisquare(obs, exp).pvalue > 1e-4


# ---- (4) determinism ---------------------------------------------------------------------------------
def test_fit_is_deterministic_and_forecasts_idempotent(real):
    counts = real[0]
    a = RegimeHMM(random_state=3).fit(counts)
    b = RegimeHMM(random_state=3).fit(counts)
    assert a.summary().params == b.summary().params
    fa, fb = a.forecast(14), b.forecast(14)
    np.testing.assert_array_equal(fa.total_pmf(14), fb.total_pmf(14))
    again = a.forecast(14)
    np.testing.assert_array_equal(fa.total_pmf(14), again.total_pmf(14))
    np.testing.assert_array_equal(fa.total_pmf(7), again.total_pmf(7))  # order of calls does not matter
    pd.testing.assert_frame_equal(fa.summary_frame(), again.summary_frame())


# ---- (5) the real series -------------------------------------------------------------------------------
def test_real_series_regimes(real_fit):
    model = real_fit
    assert model.state_names_ == ["lull", "sporadic", "campaign"]
    assert np.all(np.diff(model.means_) > 0)
    filt = model.filtered_
    assert filt.loc["2024-03-01":"2024-04-15", "lull"].min() > 0.8
    assert filt.loc["2024-01-01":"2024-01-31", "campaign"].mean() > 0.9
    assert filt.loc["2024-01-01":"2024-01-31", "campaign"].min() > 0.5
    np.testing.assert_allclose(filt.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.smoothed_.sum(axis=1), 1.0)

    s = model.summary()
    names = {"mean_lull", "mean_sporadic", "mean_campaign", "alpha", "p_stay_lull", "p_stay_sporadic",
             "p_stay_campaign", "p_lull_to_sporadic", "p_sporadic_to_lull", "p_campaign_to_lull"}
    assert set(s.params) == names == set(s.stderr)
    assert s.n_params == 10 and s.aic == pytest.approx(20 - 2 * s.loglik)
    assert np.isfinite(s.stderr["mean_campaign"]) and s.stderr["mean_campaign"] > 0
    last = model.filtered_.iloc[-1]
    for name in model.state_names_:
        assert s.diagnostics[f"p_state_{name}"] == pytest.approx(last[name])
        k = model.state_names_.index(name)
        assert s.diagnostics[f"expected_duration_{name}"] == pytest.approx(1 / (1 - model.transmat_[k, k]))
    assert "regime" in str(s)


def test_trigger_shifts_the_logit_of_leaving_the_lull(real):
    counts, triggers = real
    model = RegimeHMM(trigger_kinds=["us_strike", "diplomatic"], random_state=0).fit(counts, triggers)
    beta = model.effects_["effect_us_strike"]
    assert np.isfinite(beta) and 0 < abs(beta) < 5
    assert set(model.summary().params) >= {"effect_us_strike", "effect_diplomatic"}

    base = model.forecast(3)
    origin = counts.index[-1]
    scenario = pd.DataFrame({"date": [origin], "kind": ["us_strike"], "name": ["hypothetical"]})
    shifted = model.forecast(3, future_triggers=scenario)
    from forecast.data.annotate import trigger_matrix

    x = trigger_matrix(shifted.index, pd.concat([model.triggers_, scenario]), ["us_strike", "diplomatic"])[0]
    A = model.transmat_.copy()
    leave = expit(logit(1 - A[0, 0]) + x @ model.effects_.to_numpy())
    A[0, 1:] *= leave / (1 - A[0, 0])
    A[0, 0] = 1 - leave
    start = model.filtered_.to_numpy()[-1]
    np.testing.assert_allclose(shifted.state_probabilities.iloc[0], start @ A, atol=1e-12)
    higher = shifted.total_mean(3) > base.total_mean(3)
    assert higher == (beta > 0)
    # a kind absent from the training window is not estimated
    quiet = RegimeHMM(trigger_kinds=["us_strike"], random_state=0).fit(counts.loc[:"2023-10-25"], triggers)
    assert np.isnan(quiet.summary().params["effect_us_strike"]) and quiet.dropped_ == ["effect_us_strike"]


# ---- (6) update ----------------------------------------------------------------------------------------
def test_update_keeps_parameters_and_extends_the_filter(real):
    counts = real[0]
    model = RegimeHMM(random_state=0).fit(counts.iloc[:300])
    params, loglik = model.summary().params, model.loglik_
    filtered = model.filtered_.copy()
    assert model.update(counts) is model
    assert model.summary().params == params and model.loglik_ == loglik
    assert len(model.filtered_) == len(counts) and model.filtered_.index.equals(counts.index)
    pd.testing.assert_frame_equal(model.filtered_.iloc[:300], filtered, atol=1e-12, rtol=0)  # causal
    assert model.forecast(5).index[0] == counts.index[-1] + pd.Timedelta(days=1)
    assert model.summary().diagnostics["p_state_lull"] == pytest.approx(model.filtered_["lull"].iloc[-1])


# ---- (7) degenerate data ---------------------------------------------------------------------------------
def test_all_zero_series_is_a_clear_fit_error():
    with pytest.raises(ModelFitError, match="no attacks in the training window"):
        RegimeHMM(random_state=0).fit(series(np.zeros(60)))


@pytest.mark.parametrize("values", [np.r_[np.zeros(30), 1, np.zeros(29)], np.full(60, 2), [0, 1, 0, 2, 1], [3]])
def test_degenerate_series_fit_and_forecast(values):
    fc = RegimeHMM(random_state=0).fit(series(values)).forecast(14)
    total = fc.total_pmf(14)
    assert total.sum() == pytest.approx(1.0, abs=1e-12) and np.all(total >= 0)
    assert np.all(np.isfinite(fc.predicted_mean)) and 0 <= fc.prob_at_least(1, 7) <= 1


@pytest.mark.parametrize("bad", [{"n_states": 1}, {"n_starts": 0}, {"tol": 0.0}, {"trigger_kinds": ["nope"]},
                                 {"transition_prior": -1.0}])
def test_bad_parameters_name_the_key(bad):
    with pytest.raises(ForecastInputError, match=f"model.{next(iter(bad))}"):
        RegimeHMM(**bad).fit(series([0, 1, 2, 0]))
