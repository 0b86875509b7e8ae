"""Count distributions on 0, 1, ..., K: bounded truncation, Poisson / negative-binomial pmfs, quantiles.

Every pmf here lives on a finite support whose length has a stated bound (``MAX_SUPPORT``), so no
input can make a loop run forever or an allocation grow without limit.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import gammaln

from forecast.errors import ModelFitError

TAIL = 1e-10  # probability mass a truncated support may leave out
MAX_SUPPORT = 1_000_000  # longest support of any pmf (8 MB of float64); longer means an explosive model


def truncated_pmf(logpmf: Callable[[np.ndarray], np.ndarray], guess: float, ratio_limit: float = 0.0) -> np.ndarray:
    """pmf on 0..K from ``logpmf(k)``, normalised, with K the first count whose upper tail is provably
    below ``TAIL``.

    The tail beyond K is bounded by p(K) r / (1 - r), with r = max(p(K)/p(K-1), ``ratio_limit``) an upper
    bound on every later ratio p(k+1)/p(k): exact for Poisson (ratios m/(k+1) fall) and for a negative
    binomial with n >= 1; for n < 1 the ratios rise towards 1 - p, which the caller passes as
    ``ratio_limit``. The support starts at ``guess`` and doubles at most log2(MAX_SUPPORT / 8) times;
    a distribution that needs more than ``MAX_SUPPORT`` counts raises ModelFitError.
    """
    size = int(min(max(guess, 8), MAX_SUPPORT))
    while True:
        p = np.exp(logpmf(np.arange(size, dtype=float)))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.maximum(np.where(p[:-1] > 0, p[1:] / p[:-1], 0.0), ratio_limit)
            bound = np.where(r < 1, p[1:] * r / (1 - r), np.inf)
        bound[: int(np.argmax(p))] = np.inf  # before the mode the ratios exceed 1 (or underflow to 0/0)
        small = np.flatnonzero(bound <= TAIL * p.sum())
        if len(small):
            p = p[: small[0] + 2]
            return p / p.sum()
        if size >= MAX_SUPPORT:
            raise ModelFitError(f"a predictive distribution needs more than {MAX_SUPPORT:,} counts of support "
                                "(tail mass 1e-10): the fitted model is explosive or too heavy-tailed on this data")
        size = min(2 * size, MAX_SUPPORT)


def poisson_pmfs(means) -> list[np.ndarray]:
    """Truncated Poisson pmfs for each mean: log p(k) = k log m - m - log k!."""
    out, done = [], {}
    for m in np.maximum(np.asarray(means, float), 1e-12):
        if m not in done:  # equal means (e.g. a flat rate) share one pmf
            done[m] = truncated_pmf(lambda k, m=m: k * np.log(m) - m - gammaln(k + 1.0), m + 12 * np.sqrt(m) + 20)
        out.append(done[m])
    return out


def negbin_pmfs(means, alpha: float) -> list[np.ndarray]:
    """NB2 pmfs with mean m and variance m + alpha m^2: with n = 1/alpha and p = n/(n + m),
    log p(k) = log Gamma(k + n) - log Gamma(n) - log k! + n log p + k log(1 - p).
    Poisson when alpha <= 1e-8 (the NB2 limit; also where n is too large for float arithmetic)."""
    if not alpha > 1e-8:
        return poisson_pmfs(means)
    n = 1.0 / alpha
    out, done = [], {}
    for m in np.maximum(np.asarray(means, float), 1e-12):
        if m not in done:  # log p and log(1 - p) written so that neither rounds to log 0 for m << n
            log_p, log_q = -np.log1p(m / n), np.log(m) - np.log(n + m)
            done[m] = truncated_pmf(
                lambda k, a=log_p, b=log_q: gammaln(k + n) - gammaln(n) - gammaln(k + 1.0) + n * a + k * b,
                m + 12 * np.sqrt(m + alpha * m * m) + 20, ratio_limit=np.exp(log_q) if n < 1 else 0.0)
        out.append(done[m])
    return out


def pmf_quantile(pmf: np.ndarray, q: float) -> int:
    """Smallest k with F(k) >= q."""
    return int(min(np.searchsorted(np.cumsum(pmf), q - 1e-12), len(pmf) - 1))


def central_interval(pmf: np.ndarray, level: float) -> tuple[int, int]:
    """The (1 - level)/2 and (1 + level)/2 quantiles."""
    a = (1 - level) / 2
    return pmf_quantile(pmf, a), pmf_quantile(pmf, 1 - a)


class CountDistribution:
    """A distribution on 0..K given by its pmf: the one small object behind a day or a window total."""

    def __init__(self, pmf: np.ndarray):
        self.p = np.asarray(pmf, float)

    def pmf(self, k):
        k = np.asarray(k)
        return np.where((k >= 0) & (k < len(self.p)), self.p[np.clip(k, 0, len(self.p) - 1)], 0.0)

    def cdf(self, k):
        c = np.minimum(np.cumsum(self.p), 1.0)
        k = np.asarray(k)
        return np.where(k < 0, 0.0, c[np.clip(k, 0, len(c) - 1)])

    def sf(self, k):
        """P(X > k)."""
        return 1.0 - self.cdf(k)

    def prob_at_least(self, k: int) -> float:
        return 1.0 if k <= 0 else float(self.sf(k - 1))

    @property
    def mean(self) -> float:
        return float(np.dot(np.arange(len(self.p)), self.p))

    @property
    def var(self) -> float:
        k = np.arange(len(self.p))
        return float(np.dot((k - self.mean) ** 2, self.p))

    def quantile(self, q: float) -> int:
        return pmf_quantile(self.p, q)

    def interval(self, level: float = 0.9) -> tuple[int, int]:
        """Central interval: the (1 - level)/2 and (1 + level)/2 quantiles."""
        return central_interval(self.p, level)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(len(self.p), size=size, p=self.p / self.p.sum())
