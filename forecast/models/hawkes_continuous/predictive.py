"""Exact predictive distributions of counts: the count in a window of w days given the excitation at its start.

Between events the excess intensity x = lambda - mu decays at rate beta; each event adds J = alpha beta.
(N, x) is Markov, and the count N of a window of length t that starts with excess x has the probability
generating function

    E[z^N | x] = exp(psi(t, z) + phi(t, z) x),  dphi/dt = -beta phi + z e^{J phi} - 1,  dpsi/dt = mu (z e^{J phi} - 1)

(the backward equation, phi = psi = 0 at t = 0). In powers of z, phi = sum_k a_k z^k, psi = sum_k psi_k z^k
with a_0 = -(1 - e^{-beta t}) / beta and psi_0 = -mu t, and for k >= 1 coefficients >= 0 that follow
order by order (the factor z lifts every order by one):

    a_k(t) = int_0^t e^{-beta (t - s)} E_{k-1}(s) ds,  psi_k(t) = mu int_0^t E_{k-1}(s) ds,
    E = e^{J phi}:  E_0 = e^{J a_0},  E_k = (J / k) sum_{j=1..k} j a_j E_{k-j}.

So N is compound Poisson, N = sum_k k M_k with independent M_k ~ Poisson(psi_k + a_k x): its pmf follows
by FFT from the truncated series (window totals from one x), or by Panjer's recursion p_0 = e^{psi_0 + a_0 x},
p_n = (1/n) sum_{k=1..n} k (psi_k + a_k x) p_{n-k}, whose terms are all >= 0 (one day's count for many x
at once, tails to full relative precision; see ``WindowCountLaw.table``). The integrals are spectral: time is cut
into steps of at most 2 / beta (``MAX_STEPS`` in all), each with Chebyshev-Lobatto nodes, the forcing
interpolated there and integrated exactly against the kernel (about 1e-10 relative); from step to step
a_k carries over with the factor e^{-beta step} (a lower-triangular matrix of those factors).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from forecast.distributions import TAIL
from forecast.errors import ModelFitError
from forecast.models.base import MixtureCountForecast

MAX_SUPPORT = 1000  # counts of a window's pmf at most; the last one holds the rest of the tail
MAX_STEPS = 128  # steps over the horizon at most (one a day at least); memory 2 x orders x steps x (NODES + 1)
NODES = 12  # Chebyshev-Lobatto nodes per step: polynomial degree of the forcing


def _step_operators(step: float, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes tau_i on [0, step], V[i, j] = int_0^{tau_i} e^{-beta (tau_i - s)} l_j(s) ds and q_j = int_0^step l_j,
    l_j the Lagrange polynomials on the Chebyshev-Lobatto nodes (Gauss-Legendre, 48 points on each [0, tau_i])."""
    i = np.arange(NODES + 1)
    tau = step * (1 - np.cos(np.pi * i / NODES)) / 2
    bary = (-1.0) ** i * np.where((i == 0) | (i == NODES), 0.5, 1.0)
    x, g = np.polynomial.legendre.leggauss(48)

    def lagrange(s):  # s: any shape, strictly inside (0, step) -> (..., NODES + 1)
        c = bary / (s[..., None] - tau)
        return c / c.sum(axis=-1, keepdims=True)

    s = tau[1:, None] * (1 + x) / 2  # row 0 (tau = 0) integrates over nothing
    kernel = np.exp(-beta * (tau[1:, None] - s)) * tau[1:, None] * g / 2
    V = np.zeros((NODES + 1, NODES + 1))
    V[1:] = np.einsum("im,imj->ij", kernel, lagrange(s))
    q = (step * g / 2) @ lagrange(step * (1 + x) / 2)
    return tau, V, q


class WindowCountLaw:
    """The laws of the counts in windows of 1..``horizon`` days given the excess intensity x at the start
    (see the module docstring), from (mu, alpha, beta) = (``baseline``, ``adjacency``, ``decay``).

    ``window_pmfs(x)``: pmfs of the windows' totals for one x; ``table`` and ``weights``: the law of one
    day for many x at once (``pmfs``); ``mean(x)`` = c0 + c1 x the closed-form mean of one day and
    ``excess(mean)`` its inverse. Orders of z are computed as far as the pmfs need them (at most
    ``MAX_SUPPORT``). Steps are at most 2 / beta long (pmfs to about 1e-10 relative) unless that needs more
    than ``MAX_STEPS`` over the horizon (decay above 2 x MAX_STEPS / horizon per day, 18 for 14 days): then
    longer and less accurate (about 1e-4 relative at decay 1000 over 14 days).
    """

    def __init__(self, baseline: float, adjacency: float, decay: float, horizon: int):
        mu, alpha, beta = float(baseline), float(adjacency), float(decay)
        kappa = beta * (1.0 - alpha)  # the mean intensity relaxes at this rate towards mu / (1 - alpha)
        self.slope = 1.0 if abs(kappa) < 1e-12 else -math.expm1(-kappa) / kappa
        self.intercept = (mu + beta * mu / 2 if abs(kappa) < 1e-12
                          else mu / (1 - alpha) * (1 - self.slope) + mu * self.slope)
        self.mu, self.jump, self.horizon = mu, alpha * beta, int(horizon)
        self._per_day = max(1, min(math.ceil(beta / 2), MAX_STEPS // self.horizon))
        step = 1.0 / self._per_day
        self._tau, self._V, self._q = _step_operators(step, beta)
        lag = np.subtract.outer(np.arange(self.horizon * self._per_day), np.arange(self.horizon * self._per_day)) - 1
        self._carry = np.where(lag >= 0, np.exp(-beta * step * np.maximum(lag, 0)), 0.0)  # end of step j -> start of s
        self._shrink = np.exp(-beta * self._tau)
        t = step * np.arange(self.horizon * self._per_day)[:, None] + self._tau  # steps x nodes
        a0 = np.expm1(-beta * t) / beta
        self._a, self._E = a0[None], np.exp(self.jump * a0)[None]
        ends = np.arange(1, self.horizon + 1) * self._per_day - 1  # the step that ends each day
        self._ends = ends
        self._A = a0[ends, -1][None]  # a_k(w) and psi_k(w) for the windows w = 1..horizon
        self._Psi = -mu * np.arange(1.0, self.horizon + 1)[None]
        self._size = 64  # orders (= counts) the windows' pmfs need: grows with the excess seen

    def _extend(self, order: int) -> None:
        """Orders up to ``order``, one at a time (each needs all lower ones at every node)."""
        K = len(self._A) - 1
        if order <= K:
            return
        a = np.concatenate([self._a, np.zeros((order - K, *self._a.shape[1:]))])
        E = np.concatenate([self._E, np.zeros_like(a[K + 1:])])
        A = np.vstack([self._A, np.zeros((order - K, self.horizon))])
        Psi = np.vstack([self._Psi, np.zeros_like(A[K + 1:])])
        for k in range(K + 1, order + 1):
            F = E[k - 1] @ self._V.T  # int_0^tau e^{-beta (tau - s)} E_{k-1}: within each step
            start = self._carry @ F[:, -1]  # a_k at each step's start: sum_{j<s} e^{-beta (t_s - t_j^end)} F_j(end)
            a[k] = start[:, None] * self._shrink + F
            A[k] = a[k][self._ends, -1]
            Psi[k] = self.mu * np.cumsum(E[k - 1] @ self._q)[self._ends]
            E[k] = self.jump / k * np.einsum("j,jsi->si", np.arange(1.0, k + 1), a[1:k + 1] * E[k - 1::-1])
        self._a, self._E, self._A, self._Psi = a, E, A, Psi

    def window_pmfs(self, x: float) -> list[np.ndarray]:
        """pmf of the count in each window of 1..horizon days from excess ``x``, on 0..L_w - 1: L_w the first
        support holding all but ``TAIL`` of the mass (at most ``MAX_SUPPORT``, the last count then holding
        the rest).

        The pgf exp(psi(z) + phi(z) x) of every window at once on 4 x size points of the unit circle (it is
        at most 1 there), inverted by FFT: exact below ``size`` orders, which start at the last call's and
        double until the longest window fits; absolute error about 1e-16 (relative precision is lost below
        1e-14, far under the log score's floor)."""
        x = float(x)
        while True:
            self._extend(self._size)
            exponent = self._Psi[: self._size + 1] + x * self._A[: self._size + 1]  # orders x windows
            n = 4 * self._size
            P = np.fft.irfft(np.exp(np.fft.rfft(exponent, n=n, axis=0)), n=n, axis=0)[: self._size].T
            np.maximum(P, 0.0, out=P)
            if P[-1].sum() >= 1 - TAIL or self._size >= MAX_SUPPORT:
                break
            self._size = min(2 * self._size, MAX_SUPPORT)
        P[:, -1] += np.maximum(1.0 - P.sum(axis=1), 0.0)
        cut = [p[: np.flatnonzero(np.cumsum(p) >= 1 - TAIL)[0] + 1] for p in P]
        return [p / p.sum() for p in cut]

    # ---- one day, many excess values -------------------------------------------------------------
    def mean(self, x: np.ndarray) -> np.ndarray:
        """E[count of one day | x]: the day's integral of the mean intensity, which relaxes from mu + x
        towards mu / (1 - alpha) at rate beta (1 - alpha)."""
        return self.intercept + self.slope * np.asarray(x, float)

    def excess(self, mean: np.ndarray) -> np.ndarray:
        """The x whose one-day mean is ``mean`` (inverse of ``mean``)."""
        return np.maximum((np.asarray(mean, float) - self.intercept) / self.slope, 0.0)

    def table(self, scale: float) -> np.ndarray:
        """q[n, d] with P(N_day = n | x) = e^{psi_0 + a_0 x} sum_d q[n, d] (x / scale)^d, n = 0..L-1: L the
        first support holding all but ``TAIL`` of the mass at x = ``scale`` (so of every x <= scale), at
        most ``MAX_SUPPORT``. Panjer's recursion on polynomials in u = x / scale (coefficients >= 0)."""
        p0 = math.exp(self._Psi[0, 0] + self._A[0, 0] * scale)
        if p0 == 0.0:
            raise ModelFitError("hawkes_continuous: a simulated day expects more than 700 events: the fitted model "
                                "is explosive on this data")
        Q = np.zeros((32, 32))
        Q[0, 0] = 1.0
        cum, n = p0, 0
        while cum < 1 - TAIL and n < MAX_SUPPORT - 1:
            n += 1
            if n == len(Q):
                Q = np.pad(Q, (0, min(len(Q), MAX_SUPPORT - len(Q))))
            if n >= len(self._A):
                self._extend(min(n + 63, MAX_SUPPORT))
            k = np.arange(n, 0.0, -1)  # k = n..1 against q[0..n-1]
            Q[n] = (k * self._Psi[n:0:-1, 0]) @ Q[:n]
            Q[n, 1:] += scale * ((k * self._A[n:0:-1, 0]) @ Q[:n, :-1])
            Q[n] /= n
            cum += p0 * Q[n].sum()
        return Q[: n + 1, : n + 1]

    def weights(self, x: np.ndarray, scale: float, size: int) -> np.ndarray:
        """e^{psi_0 + a_0 x_i} (x_i / scale)^d in row i, d = 0..size-1 (one day)."""
        x = np.asarray(x, float)
        W = np.empty((len(x), size))
        W[:, 0] = np.exp(self._Psi[0, 0] + self._A[0, 0] * x)
        W[:, 1:] = (x / scale)[:, None]
        return np.cumprod(W, axis=1, out=W)

    def pmfs(self, x: np.ndarray) -> np.ndarray:
        """P(N_day = n | x_i) in row i, n = 0..L-1, the last count holding the rest of the tail (``table``)."""
        scale = max(float(np.max(x, initial=0.0)), 1e-12)
        Q = self.table(scale)
        P = self.weights(x, scale, len(Q)) @ Q.T
        P[:, -1] += np.maximum(1.0 - P.sum(axis=1), 0.0)
        return P


class HawkesCountForecast(MixtureCountForecast):
    """Predictive distribution of the continuous-time Hawkes process from the excitation at the origin.

    Window totals are exact: the law of the count in the first w days given the excess ``origin_excess`` at
    the origin (``WindowCountLaw.window_pmfs``), no simulation. Daily pmfs are Rao-Blackwellised, exact given the
    simulated paths: path p carries its counts and, for each day s, the mean of that day's count given the
    path's events before it, ``means[p, s]`` = c0 + c1 x_{p,s} (x_{p,s} the excess at the day's start), and

        P(y_s = k) = (1/N) sum_p P(N_day = k | x_{p,s})

    as ``MixtureCountForecast`` does with negative-binomial days. One polynomial table (``WindowCountLaw.table``,
    scaled to the largest excess of any path and day) serves every day; the paths' weights are summed and
    multiplied by it in blocks of ``BLOCK`` paths.
    """

    def __init__(self, index: pd.DatetimeIndex, paths: np.ndarray, means: np.ndarray, law: WindowCountLaw,
                 origin_excess: float):
        super().__init__(index, paths, means)
        if law.horizon < len(index):
            raise ValueError(f"the law covers {law.horizon} days, the forecast {len(index)}")
        self.law, self.origin_excess = law, float(origin_excess)

    def total_pmf(self, window: int) -> np.ndarray:
        window = self._window(window)
        if ("total", window) not in self._cache:
            pmfs = self.law.window_pmfs(self.origin_excess)[: self.horizon]
            self._cache.update({("total", w): p for w, p in enumerate(pmfs, 1)})
        return self._cache[("total", window)]

    @functools.cached_property
    def _table(self) -> tuple[float, np.ndarray]:
        scale = max(float(self.law.excess(self.means).max(initial=0.0)), 1e-12)
        return scale, self.law.table(scale)

    def _mixture(self, mu: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """(1/N) sum_p pmf(k - shift_p | path p) on 0..max(shift) + L (daily pmfs: shift 0)."""
        scale, table = self._table
        out = np.zeros(1)
        for lo in range(0, len(mu), self.BLOCK):
            sh = shift[lo: lo + self.BLOCK]
            W = self.law.weights(self.law.excess(mu[lo: lo + self.BLOCK]), scale, len(table))
            order = np.argsort(sh, kind="stable")
            values, starts, n_paths = np.unique(sh[order], return_index=True, return_counts=True)
            rows = np.add.reduceat(W[order], starts, axis=0) @ table.T
            rows[:, -1] += np.maximum(n_paths - rows.sum(axis=1), 0.0)
            out = np.pad(out, (0, max(int(values[-1]) + len(table) - len(out), 0)))
            for s, row in zip(values, rows):
                out[s: s + len(table)] += row
        return out / out.sum()
