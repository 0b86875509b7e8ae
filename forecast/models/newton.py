"""Shared by the likelihood fits: damped Newton ascent inside a box (L-BFGS-B is their fallback) and Wald
standard errors from an observed information matrix."""
from __future__ import annotations

import numpy as np


def newton_maximise(terms, z: np.ndarray, lower: np.ndarray, upper: np.ndarray, max_step: float = np.inf,
                    max_iter: int = 50) -> tuple[np.ndarray, bool, int]:
    """Damped Newton ascent of f from ``z`` inside the box (lower, upper); ``terms(z)`` returns
    (f, gradient, Hessian).

    Each step solves (-H + tau I) d = g with the smallest tau >= 0 (doubling from 1e-6 x the largest
    diagonal entry) that makes the matrix positive definite, shortens d to at most ``max_step`` in
    every coordinate and then until it stays inside the box, and halves it until f rises by the
    Armijo condition f(z + s d) >= f(z) + 1e-4 s g'd. Converged when the Newton decrement
    g'd < 1e-14 max(1, |f|) with tau = 0; the full step is then taken. Returns
    ``(z, converged, n_evaluations)``; not converged when three steps were cut short by the box (an
    estimate heading for a bound), a step fails or the iterations run out.
    """
    f, g, H = terms(z)
    n_eval, box_cuts = 1, 0
    eye = np.eye(len(z))
    for _ in range(max_iter):
        if not np.all(np.isfinite(H)):
            return z, False, n_eval
        tau = 0.0
        while True:
            try:
                np.linalg.cholesky(tau * eye - H)  # positive definite?
                break
            except np.linalg.LinAlgError:
                tau = max(2 * tau, 1e-6 * max(1.0, float(np.abs(np.diag(H)).max())))
        d = np.linalg.solve(tau * eye - H, g)
        longest = float(np.abs(d).max())
        if longest > max_step:
            d *= max_step / longest
        decrement = float(g @ d)
        inside = bool(np.all((z + d > lower) & (z + d < upper)))
        if decrement < 1e-14 * max(1.0, abs(f)) and inside:
            return z + d, tau == 0.0, n_eval
        step = 1.0
        while step > 1e-10 and not np.all((z + step * d > lower) & (z + step * d < upper)):
            step /= 2
        box_cuts += step < 1.0
        if box_cuts >= 3:
            return z, False, n_eval
        while step > 1e-10:
            trial = z + step * d
            f_trial, g_trial, H_trial = terms(trial)
            n_eval += 1
            if np.isfinite(f_trial) and f_trial >= f + 1e-4 * step * decrement:
                break
            step /= 2
        else:
            return z, False, n_eval
        z, f, g, H = trial, f_trial, g_trial, H_trial
    return z, False, n_eval


def inverse_information(info: np.ndarray) -> np.ndarray | None:
    """The asymptotic covariance of maximum-likelihood estimates: the inverse of the observed information
    -d2 l; None when it is singular or not finite."""
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.isfinite(cov)) else None


def wald_stderr(info: np.ndarray, free: np.ndarray | None = None) -> np.ndarray:
    """Wald standard errors sqrt(diag(I^-1)) of the ``free`` parameters (all by default) from the observed
    information ``info`` of all of them; NaN for parameters held at a bound and where a variance is not
    positive."""
    free = np.ones(len(info), bool) if free is None else np.asarray(free, bool)
    se = np.full(len(info), np.nan)
    cov = inverse_information(info[np.ix_(free, free)]) if free.any() else None
    if cov is not None:
        d = np.diag(cov)
        se[free] = np.sqrt(np.where(d > 0, d, np.nan))
    return se
