"""Aggregate statistics for reports and sweep summaries: the mean with its 95% interval, the interquartile
mean, and probability of improvement (seed-averaged learning curves: `curves.py`).

Every interval says how it was made (`Interval.method`) and on how many runs (`Interval.n`), because with
few runs the method decides whether "95%" is true:

- The mean's interval is Student's t, mean +- t(0.975, n-1) * s / sqrt(n) with s the sample std (ddof=1),
  at every n >= 2: exact for normal scores, close for others as n grows, and one rule at every n keeps all
  tables comparable. The percentile bootstrap of the mean it replaces is [min, max] at n = 3 and covers the
  true mean of a symmetric distribution 75% of the time (it misses when all three runs fall on one side,
  2 / 2**3); rliable advises it only from about 10 runs on.
- One run gives no interval, never a fake [x, x].
- The IQM and P(X > Y) have no small-sample formula, so they keep the percentile bootstrap; below `SMALL_N`
  runs (per arm) their method says what the interval then is: about the runs' range, undercovering.

IQM and probability of improvement follow Agarwal et al. (2021, the rliable library): with few seeds the
mean is swayed by one lucky or failed run and the median wastes most of them, so the IQM (mean of the
middle half of the runs) is a robust point estimate, and P(X > Y) over all pairs of runs says how often one
configuration beats the other regardless of by how much. Everything is numpy and the standard library
(scipy is not a dependency); every bootstrap is seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_BOOT = 2000
CI_LEVEL = 95
SMALL_N = 10  # runs below which a percentile bootstrap is about the runs' range and undercovers
STUDENT_T = "Student-t"
WELCH = "Welch t"
BOOTSTRAP = "percentile bootstrap"
SMALL_BOOTSTRAP = f"bootstrap, n<{SMALL_N}: range-like, undercovers"

Values = Sequence[float] | np.ndarray

# How the intervals are made, in words, for captions and footnotes.
MEAN_CI_NOTE = (
    f"{CI_LEVEL}% CI of the mean: {STUDENT_T}, mean +- t(0.975, n-1) * s / sqrt(n) over the n runs with s "
    "the sample std (ddof=1); none with one run. Being symmetric, it can pass a capped score (CartPole's "
    "500)."
)
BOOTSTRAP_NOTE = (
    f"IQM and P(X > Y) intervals: {CI_LEVEL}% {BOOTSTRAP} over runs ({N_BOOT} resamples); with fewer than "
    f"{SMALL_N} runs (per arm) it is about the range of the runs and covers less than {CI_LEVEL}%, so it is "
    f'labelled "{SMALL_BOOTSTRAP}"; none with one run.'
)


@dataclass(frozen=True)
class Interval:
    """A 95% interval with its method and the runs it rests on; low = high = NaN when there is none."""

    low: float
    high: float
    method: str
    n: int  # runs (for P(X > Y): the smaller arm)

    @property
    def exists(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def describe(self) -> str:
        """`Student-t, n=3` or `n=1, no interval`: what a reader needs to trust the numbers."""
        return f"{self.method}, n={self.n}" if self.exists else f"n={self.n}, no interval"

    def fields(self, prefix: str = "") -> dict[str, float | str]:
        """The CSV/JSON fields other code reads (`ci_low`, `ci_high`), plus `ci_method`; NaN when none."""
        return {f"{prefix}ci_low": self.low, f"{prefix}ci_high": self.high, f"{prefix}ci_method": self.method}

    @classmethod
    def from_fields(cls, record: dict, n: int, prefix: str = "") -> Interval:
        """The interval `fields` wrote into `record` (NaN or None as missing bounds)."""
        low, high = (record.get(f"{prefix}ci_{k}") for k in ("low", "high"))
        return cls(
            math.nan if low is None else float(low),
            math.nan if high is None else float(high),
            str(record.get(f"{prefix}ci_method", "none")),
            n,
        )


def no_interval(n: int) -> Interval:
    return Interval(math.nan, math.nan, "none", n)


def ci_header(intervals: Sequence[Interval], per: str = "") -> str:
    """A column header naming the method(s) and run counts of its intervals: `95% CI (Student-t; n=3)`.

    A column mixing methods (bootstrap columns with some arms under SMALL_N) names each with its n range.
    """
    by_method: dict[str, list[int]] = {}
    for i in intervals:
        if i.exists:
            by_method.setdefault(i.method, []).append(i.n)
    if not by_method:
        return f"{CI_LEVEL}% CI (none: fewer than 2 runs)"
    parts = [f"{method}; n={_span(ns)}{per}" for method, ns in by_method.items()]
    return f"{CI_LEVEL}% CI ({' / '.join(parts)})"


def _span(ns: list[int]) -> str:
    lo, hi = min(ns), max(ns)
    return str(lo) if lo == hi else f"{lo}-{hi}"


# --- Student's t ---------------------------------------------------------------------------------------


def _t_central_mass(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer df: the finite series of Abramowitz & Stegun 26.7.3-4."""
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2 == 0:  # sin(th) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        term = total = 1.0
        for k in range(1, df // 2):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        return math.sin(theta) * total
    # odd: 2/pi * (th + sin(th) * (cos + 2/3 cos^3 + 2*4/(3*5) cos^5 + ... up to cos^(df-2)))
    term = math.cos(theta)
    total = term if df > 1 else 0.0
    for k in range(1, (df - 1) // 2):
        term *= cos2 * (2 * k) / (2 * k + 1)
        total += term
    return 2.0 / math.pi * (theta + math.sin(theta) * total)


@lru_cache(maxsize=256)
def t_quantile(q: float, df: int) -> float:
    """The q-quantile of Student's t with `df` degrees of freedom (scipy.stats.t.ppf), to ~1e-12.

    Bisection on the exact series CDF: slow only for huge df (linear in df), and each (q, df) is cached.
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"df must be a positive integer, got {df}")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie in (0, 1), got {q}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    target = 2.0 * q - 1.0
    lo, hi = 0.0, 1.0
    while _t_central_mass(hi, df) < target:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_central_mass(mid, df) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


def t_factor(n: int) -> float:
    """t(0.975, n-1) / sqrt(n): the half-width of the mean's interval per unit of sample std."""
    return t_quantile(1.0 - (100 - CI_LEVEL) / 200, n - 1) / math.sqrt(n)


def mean_ci(values: Values) -> Interval:
    """Student-t 95% interval of the mean of `values` (one per run); none with fewer than two."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        return no_interval(int(x.size))
    mean, half = float(x.mean()), t_factor(x.size) * float(x.std(ddof=1))
    return Interval(mean - half, mean + half, STUDENT_T, int(x.size))


def diff_ci(a: Values, b: Values) -> Interval:
    """Welch's 95% interval of mean(a) - mean(b) (unequal variances; df rounded down, which widens it)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size < 2 or y.size < 2:
        return no_interval(int(min(x.size, y.size)))
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    if vx + vy == 0.0:
        return Interval(diff, diff, WELCH, int(x.size + y.size))
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = t_quantile(1.0 - (100 - CI_LEVEL) / 200, max(1, math.floor(df))) * math.sqrt(vx + vy)
    return Interval(diff - half, diff + half, WELCH, int(x.size + y.size))


# --- bootstrap: IQM and probability of improvement -----------------------------------------------------


def bootstrap_method(n: int) -> str:
    """The name a percentile bootstrap on `n` runs (per arm) is shown under."""
    return BOOTSTRAP if n >= SMALL_N else SMALL_BOOTSTRAP


def _percentile_interval(samples: np.ndarray, n: int) -> Interval:
    lo, hi = np.percentile(samples, [(100 - CI_LEVEL) / 2, 100 - (100 - CI_LEVEL) / 2])
    return Interval(float(lo), float(hi), bootstrap_method(n), n)


def bootstrap_ci(
    values: Values,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Interval:
    """Percentile 95% interval of `statistic` (rows of resamples -> one value each), resampling runs."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        return no_interval(int(x.size))
    rng = np.random.default_rng(seed)
    return _percentile_interval(statistic(x[rng.integers(0, x.size, size=(n_boot, x.size))]), x.size)


def iqm(values: Values) -> float:
    """Mean of the values left after dropping floor(n/4) from each end of the sorted list.

    This is `scipy.stats.trim_mean(x, 0.25)`, which rliable uses: for n < 4 nothing is dropped.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if x.size == 0:
        return math.nan
    k = x.size // 4
    return float(x[k : x.size - k].mean())


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    s = np.sort(samples, axis=1)
    k = s.shape[1] // 4
    return s[:, k : s.shape[1] - k].mean(axis=1)


def bootstrap_iqm_ci(values: Values, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """Percentile 95% interval of the IQM, resampling runs with replacement (labelled below SMALL_N)."""
    return bootstrap_ci(values, _iqm_rows, n_boot, seed)


def prob_improvement(x: Values, y: Values) -> float:
    """P(X > Y): the fraction of (x_i, y_j) pairs with x_i > y_j, a tie counting one half."""
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.sort(np.asarray(y, dtype=np.float64).ravel())
    if xa.size == 0 or ya.size == 0:
        return math.nan
    return float(_wins(xa, ya) / (xa.size * ya.size))


def _wins(x: np.ndarray, y_sorted: np.ndarray) -> float:
    """Sum over x_i of (#y below x_i + half #y equal to x_i), in O((n + m) log m)."""
    below = np.searchsorted(y_sorted, x, side="left")
    not_above = np.searchsorted(y_sorted, x, side="right")
    return float(below.sum() + 0.5 * (not_above - below).sum())


def bootstrap_poi_ci(x: Values, y: Values, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """Percentile 95% interval of P(X > Y), resampling the runs of X and of Y independently.

    Its `n` is the smaller arm, which decides whether the interval is more than the pairs' spread.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    n = int(min(xa.size, ya.size))
    if n < 2:  # one run has no spread to resample
        return no_interval(n)
    rng = np.random.default_rng(seed)
    xi = rng.integers(0, xa.size, size=(n_boot, xa.size))
    yi = rng.integers(0, ya.size, size=(n_boot, ya.size))
    stats = np.empty(n_boot)
    for b in range(n_boot):
        stats[b] = _wins(xa[xi[b]], np.sort(ya[yi[b]])) / (xa.size * ya.size)
    return _percentile_interval(stats, n)
