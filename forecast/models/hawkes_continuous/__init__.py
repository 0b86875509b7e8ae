"""Continuous-time Hawkes process with an exponential kernel, on event times (days).

    lambda(t) = mu + sum_{t_i < t} alpha * beta * exp(-beta * (t - t_i))

mu = ``baseline_`` (events per day), alpha = ``adjacency_`` (branching ratio; stationary when < 1),
beta = ``decay_`` (per day), as in tick's ``HawkesExpKern``.

- ``likelihood``: exact log-likelihood, analytic gradient and Hessian (one O(n) recursion over events)
- ``estimator``: maximum likelihood (``fit_mle``) and the event-time learner ``ExpKernelHawkes``
- ``simulation``: exact paths and daily counts; within-day times for daily counts
- ``diagnostics``: time rescaling, sensitivity of a daily-count fit to the within-day spread
- ``predictive``: exact laws of window counts given the excitation, and the forecast built on them
- ``forecaster``: ``HawkesContinuous``, the daily-counts adapter (a ``Forecaster``)
"""
from forecast.models.hawkes_continuous.diagnostics import (
    TimeRescaling,
    compensator_increments,
    spread_sensitivity,
    time_rescaling,
)
from forecast.models.hawkes_continuous.estimator import ExpKernelHawkes, fit_mle, standard_errors
from forecast.models.hawkes_continuous.forecaster import HawkesContinuous
from forecast.models.hawkes_continuous.likelihood import (
    excitation_state,
    excitation_sums,
    loglik,
    loglik_and_grad,
    loglik_terms,
    observed_information,
)
from forecast.models.hawkes_continuous.predictive import HawkesCountForecast, WindowCountLaw
from forecast.models.hawkes_continuous.simulation import (
    counts_to_timestamps,
    expected_daily_counts,
    simulate_daily_counts,
    simulate_timestamps,
)

__all__ = ["HawkesContinuous", "ExpKernelHawkes", "HawkesCountForecast", "WindowCountLaw", "TimeRescaling",
           "compensator_increments", "counts_to_timestamps", "excitation_state", "excitation_sums",
           "expected_daily_counts", "fit_mle", "loglik", "loglik_and_grad", "loglik_terms", "observed_information",
           "simulate_daily_counts", "simulate_timestamps", "spread_sensitivity", "standard_errors", "time_rescaling"]
