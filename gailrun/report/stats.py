"""Aggregate statistics for reports: the interquartile mean, probability of improvement, and seed-averaged
learning curves, each with a percentile bootstrap 95% interval.

IQM and probability of improvement follow Agarwal et al. (2021, the rliable library): with few seeds the
mean is swayed by one lucky or failed run and the median wastes most of them, so the IQM (mean of the
middle half of the runs) is the point estimate, and P(X > Y) over all pairs of runs says how often one
configuration beats the other regardless of by how much. Both are computed here with numpy alone; every
bootstrap is seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

N_BOOT = 2000
CI_LEVEL = 95


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the values left after dropping floor(n/4) from each end of the sorted list.

    This is `scipy.stats.trim_mean(x, 0.25)`, which rliable uses: for n < 4 nothing is dropped.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if x.size == 0:
        return math.nan
    k = x.size // 4
    return float(x[k : x.size - k].mean())


def _percentile_ci(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [(100 - CI_LEVEL) / 2, 100 - (100 - CI_LEVEL) / 2])
    return float(lo), float(hi)


def bootstrap_iqm_ci(
    values: Sequence[float] | np.ndarray, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float]:
    """Percentile 95% interval of the IQM, resampling runs with replacement."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    samples = np.sort(x[rng.integers(0, x.size, size=(n_boot, x.size))], axis=1)
    k = x.size // 4
    return _percentile_ci(samples[:, k : x.size - k].mean(axis=1))


def prob_improvement(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
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


def bootstrap_poi_ci(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile 95% interval of P(X > Y), resampling the runs of X and of Y independently."""
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.size == 0 or ya.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    xi = rng.integers(0, xa.size, size=(n_boot, xa.size))
    yi = rng.integers(0, ya.size, size=(n_boot, ya.size))
    stats = np.empty(n_boot)
    for b in range(n_boot):
        stats[b] = _wins(xa[xi[b]], np.sort(ya[yi[b]])) / (xa.size * ya.size)
    return _percentile_ci(stats)


def common_grid(xs: Sequence[np.ndarray], points: int = 200) -> np.ndarray:
    """An evenly spaced grid over the range every curve covers (no extrapolation past a seed's end)."""
    lo = max(float(x[0]) for x in xs)
    hi = min(float(x[-1]) for x in xs)
    if not hi > lo:
        return np.asarray([lo]) if hi == lo else np.empty(0)
    return np.linspace(lo, hi, points)


def aggregate_curves(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
    points: int = 200,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Mean over seeds of curves sampled at different x, with a pointwise 95% bootstrap band.

    Each seed logs at its own steps (episodes end at different times), so each curve is first linearly
    interpolated onto one grid. The band resamples seeds with replacement (the same resample at every grid
    point) and takes the 2.5th and 97.5th percentiles of the resampled means; one seed gives no band.
    Returns `x`, `mean`, `low`, `high` and `n` (seeds), empty arrays when the curves share no x range.
    """
    clean = []
    for x, y in curves:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= 1:
            order = np.argsort(x[ok], kind="stable")
            clean.append((x[ok][order], y[ok][order]))
    empty = {k: np.empty(0) for k in ("x", "mean", "low", "high")}
    if not clean:
        return {**empty, "n": np.asarray(0)}
    grid = common_grid([c[0] for c in clean], points)
    if grid.size == 0:
        return {**empty, "n": np.asarray(len(clean))}
    ys = np.stack([np.interp(grid, x, y) for x, y in clean])
    mean = ys.mean(axis=0)
    if len(clean) == 1:
        low = high = mean
    else:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(clean), size=(n_boot, len(clean)))
        boot = ys[idx].mean(axis=1)
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    return {"x": grid, "mean": mean, "low": low, "high": high, "n": np.asarray(len(clean))}
