"""Exact log-likelihood of the exponential-kernel Hawkes process on event times, its analytic gradient
and Hessian.

    lambda(t) = mu + sum_{t_i < t} alpha beta e^{-beta (t - t_i)}

On the window (0, T], with A_i = sum_{j<i} e^{-beta (t_i - t_j)}:

    l = sum_i log(mu + alpha beta A_i) - mu T - alpha sum_i (1 - e^{-beta (T - t_i)})
"""
from __future__ import annotations

import functools
import math

import numpy as np


def _scan(t: np.ndarray, beta: float, order: int, out: np.ndarray) -> None:
    """The O(n) recursion behind ``excitation_sums``, written into ``out`` (rows k = 0..order, zeros in).

    With g = t_i - t_{i-1}, d = e^{-beta g} and a1 = A_{i-1} + 1 (the state just after event i - 1):
    A_i = d a1, B_i = d (B_{i-1} + g a1), E_i = d (E_{i-1} + 2 g B_{i-1} + g^2 a1). Every term is >= 0:
    no cancellation, no overflow, whatever beta x T.
    """
    a = b = e = 0.0
    for i in range(1, len(t)):
        g = t[i] - t[i - 1]
        d = math.exp(-beta * g)
        a1 = a + 1.0
        if order == 2:
            e = d * (e + g * (2.0 * b + g * a1))
            out[2, i] = e
        if order >= 1:
            b = d * (b + g * a1)
            out[1, i] = b
        a = d * a1
        out[0, i] = a


@functools.cache
def _compiled_scan():
    """``_scan`` compiled by numba (cached on disk; ~40x faster), or as is when numba is not installed."""
    try:
        from numba import njit
    except ImportError:
        return _scan
    return njit(cache=True, nogil=True)(_scan)


def excitation_sums(t, beta: float, order: int = 1) -> list[np.ndarray]:
    """M_k,i = sum_{j<i} (t_i - t_j)^k e^{-beta (t_i - t_j)} for k = 0..order (at most 2), ``t`` sorted.

    A = M_0, B = M_1, E = M_2, with dA/dbeta = -B and dB/dbeta = -E. One pass over the events
    (``_scan``), accurate to a few ulps for any beta x T.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
    t = np.ascontiguousarray(t, dtype=float)
    out = np.zeros((order + 1, len(t)))
    _compiled_scan()(t, float(beta), order, out)
    return list(out)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum_i a_i b_i without a temporary array; einsum, not np.dot: BLAS threads stall on a busy machine."""
    return float(np.einsum("i,i->", a, b))


def loglik_terms(params, t, end_time, order: int = 2) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Exact log-likelihood on (0, end_time] and, for ``order`` >= 1, its analytic gradient, for
    ``order`` 2 also its analytic Hessian, with respect to (mu, alpha, beta).

    With lambda_i = mu + alpha beta A_i, r_i = T - t_i, e_i = e^{-beta r_i} and
    dlambda_i = (1, beta A_i, alpha (A_i - beta B_i)):

        dl = sum_i dlambda_i / lambda_i + (-T, sum_i (e_i - 1), -alpha sum_i r_i e_i)
        d2l = -sum_i dlambda_i dlambda_i' / lambda_i^2 + sum_i d2lambda_i / lambda_i + d2c

    where d2lambda/dalpha dbeta = A - beta B, d2lambda/dbeta2 = alpha (beta E - 2 B), and the
    compensator term c = alpha sum_i (e_i - 1) has d2c/dalpha dbeta = -sum r e, d2c/dbeta2 = alpha sum r^2 e
    (all other second derivatives vanish). Returns ``(loglik, gradient or None, Hessian or None)``.
    """
    mu, alpha, beta = (float(p) for p in params)
    t, T = np.asarray(t, dtype=float).ravel(), float(end_time)
    if len(t) == 0:
        return -mu * T, (np.array([-T, 0.0, 0.0]) if order else None), (np.zeros((3, 3)) if order > 1 else None)
    M = excitation_sums(t, beta, order=order)
    A = M[0]
    lam = A * (alpha * beta)
    lam += mu
    rem = T - t
    em1 = np.multiply(rem, -beta)
    np.expm1(em1, out=em1)  # e^{-beta (T - t_i)} - 1
    s_em1 = float(em1.sum())
    ll = float(np.log(lam).sum()) - mu * T + alpha * s_em1
    if order == 0:
        return ll, None, None
    inv = np.divide(1.0, lam, out=lam)
    r_e = em1 + 1.0
    r_e *= rem  # r_i e_i
    s_a, s_b, s_re = _dot(A, inv), _dot(M[1], inv), float(r_e.sum())
    g = np.array([float(inv.sum()) - T, beta * s_a + s_em1, alpha * (s_a - beta * s_b - s_re)])
    if order == 1:
        return ll, g, None
    x1 = np.multiply(A, inv, out=A)  # A_i / lambda_i
    x2 = np.multiply(M[1], inv, out=M[1])
    x2 *= -beta
    x2 += x1
    x2 *= alpha  # (dlambda/dbeta) / lambda = alpha (A_i - beta B_i) / lambda_i
    x1 *= beta  # (dlambda/dalpha) / lambda
    # sum_i d2lambda_i / lambda_i + d2c, alpha-beta and beta-beta entries
    ab = s_a - beta * s_b - s_re
    bb = alpha * (beta * _dot(M[2], inv) - 2.0 * s_b + _dot(rem, r_e))
    s01, s02, s12 = _dot(inv, x1), _dot(inv, x2), _dot(x1, x2)
    H = np.array([[-_dot(inv, inv), -s01, -s02],
                  [-s01, -_dot(x1, x1), ab - s12],
                  [-s02, ab - s12, bb - _dot(x2, x2)]])
    return ll, g, H


def loglik_and_grad(params, t, end_time) -> tuple[float, np.ndarray]:
    """Exact log-likelihood on (0, end_time] and its analytic gradient with respect to (mu, alpha, beta);
    mu > 0, alpha >= 0, beta > 0, ``t`` sorted event times in (0, end_time]."""
    ll, g, _ = loglik_terms(params, t, end_time, order=1)
    return ll, g


def loglik(params, t, end_time) -> float:
    """Exact log-likelihood on (0, end_time] (no derivatives; see ``loglik_terms``)."""
    return loglik_terms(params, t, end_time, order=0)[0]


def observed_information(params, t, end_time, free=(True, True, True)) -> np.ndarray:
    """Negative analytic Hessian of the log-likelihood (``loglik_terms``) over the free parameters."""
    idx = np.flatnonzero(free)
    return -loglik_terms(params, t, end_time, order=2)[2][np.ix_(idx, idx)]


def excitation_state(t, decay: float, at: float) -> float:
    """S = sum_{t_j <= at} e^{-decay (at - t_j)}: lambda(at+) = mu + alpha * decay * S."""
    t = np.asarray(t, float)
    t = t[t <= at]
    return float(np.exp(-decay * (at - t)).sum())
