"""Seed-averaged learning curves: each seed's curve interpolated onto one grid, averaged, with the mean's
Student-t band (`stats.t_factor`, the tables' rule) at every grid point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gailrun.report.stats import t_factor


def common_grid(xs: Sequence[np.ndarray], points: int = 200) -> np.ndarray:
    """An evenly spaced grid over the range every curve covers (no extrapolation past a seed's end)."""
    lo = max(float(x[0]) for x in xs)
    hi = min(float(x[-1]) for x in xs)
    if not hi > lo:
        return np.asarray([lo]) if hi == lo else np.empty(0)
    return np.linspace(lo, hi, points)


def aggregate_curves(
    curves: Sequence[tuple[np.ndarray, np.ndarray]], points: int = 200
) -> dict[str, np.ndarray]:
    """Mean over seeds of curves sampled at different x, with a pointwise Student-t 95% band.

    Each seed logs at its own steps (episodes end at different times), so each curve is first linearly
    interpolated onto one grid; the band is `mean_ci`'s rule at every grid point (NaN, so not drawn, with
    one seed). Returns `x`, `mean`, `low`, `high` and `n` (seeds), empty arrays when the curves share no
    x range.
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
    mean, n = ys.mean(axis=0), len(clean)
    half = t_factor(n) * ys.std(axis=0, ddof=1) if n > 1 else np.full_like(mean, np.nan)
    return {"x": grid, "mean": mean, "low": mean - half, "high": mean + half, "n": np.asarray(n)}
