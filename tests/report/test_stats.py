"""Intervals that mean what they say: Student-t quantiles without scipy, the mean's interval on known
samples, coverage by simulation (and why the percentile bootstrap of the mean was replaced), no interval
from one run, and bootstrap intervals labelled as range-like below SMALL_N runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gailrun.report.curves import aggregate_curves
from gailrun.report.stats import (
    SMALL_BOOTSTRAP,
    SMALL_N,
    STUDENT_T,
    bootstrap_ci,
    bootstrap_iqm_ci,
    bootstrap_poi_ci,
    ci_header,
    diff_ci,
    mean_ci,
    t_quantile,
)

# t(0.975, df) from printed tables (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
T_975 = {1: 12.706, 2: 4.303, 4: 2.776, 9: 2.262, 29: 2.045, 120: 1.980}


@pytest.mark.parametrize(("df", "expected"), T_975.items())
def test_t_quantile_matches_printed_tables(df: int, expected: float):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=5e-4)


def test_t_quantile_has_closed_forms_at_one_and_two_degrees_of_freedom():
    for q in (0.6, 0.9, 0.975, 0.999):
        assert t_quantile(q, 1) == pytest.approx(math.tan(math.pi * (q - 0.5)), rel=1e-10)  # Cauchy
        a = 4 * q * (1 - q)
        assert t_quantile(q, 2) == pytest.approx((2 * q - 1) * math.sqrt(2 / a), rel=1e-10)
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-12)


def test_t_quantile_agrees_with_scipy_where_it_is_installed():
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in [*range(1, 40), 75, 200, 1000]:
        for q in (0.55, 0.9, 0.975, 0.995):
            assert t_quantile(q, df) == pytest.approx(scipy_stats.t.ppf(q, df), rel=1e-8)


def test_mean_ci_of_a_known_sample():
    ci = mean_ci([1.0, 2.0, 3.0])  # mean 2, s = 1, t(0.975, 2) = 4.303
    half = 4.302653 / math.sqrt(3)
    assert (ci.low, ci.high) == pytest.approx((2 - half, 2 + half), abs=1e-5)
    assert ci.method == STUDENT_T and ci.n == 3 and ci.describe() == "Student-t, n=3"
    two = mean_ci([10.0, 14.0])  # s / sqrt(n) = 2*sqrt(2) / sqrt(2) = 2, t(0.975, 1) = 12.706
    assert two.high - 12.0 == pytest.approx(12.7062 * 2, abs=1e-3)


def test_welch_difference_of_known_samples():
    # a = [1, 2, 3], b = [4, 6, 8]: variances of the means 1/3 and 4/3, df = (5/3)^2 / ((1/9 + 16/9) / 2)
    ci = diff_ci([1.0, 2.0, 3.0], [4.0, 6.0, 8.0])
    df = (5 / 3) ** 2 / ((1 / 9 + 16 / 9) / 2)  # 2.94: rounded down to 2
    assert math.floor(df) == 2
    half = t_quantile(0.975, 2) * math.sqrt(5 / 3)
    assert (ci.low, ci.high) == pytest.approx((-4 - half, -4 + half), abs=1e-9)
    assert not diff_ci([1.0], [2.0, 3.0]).exists


@pytest.mark.parametrize("n", [5, 20])
def test_welch_covers_the_difference_95_percent_of_the_time(n: int):
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(2000):
        ci = diff_ci(rng.normal(size=n), rng.normal(scale=3.0, size=2 * n))
        hits += ci.low <= 0.0 <= ci.high
    assert 0.94 <= hits / 2000 <= 0.985  # rounding df down makes it slightly conservative


def test_one_run_gives_no_interval():
    for ci in (mean_ci([5.0]), bootstrap_iqm_ci([5.0]), bootstrap_poi_ci([5.0], [1.0, 2.0, 3.0])):
        assert not ci.exists and math.isnan(ci.low) and math.isnan(ci.high) and ci.n == 1
        assert ci.describe() == "n=1, no interval"
    assert not mean_ci([]).exists and mean_ci([]).n == 0
    one = aggregate_curves([(np.arange(3.0), np.arange(3.0))], points=3)
    assert np.isnan(one["low"]).all() and np.isnan(one["high"]).all()


def _coverage(make_interval, n: int, draws: int = 2000, seed: int = 7) -> float:
    """How often the interval of n standard-normal runs contains the true mean 0."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(draws):
        lo, hi = make_interval(rng.normal(size=n))
        hits += lo <= 0.0 <= hi
    return hits / draws


@pytest.mark.parametrize("n", [3, 10])
def test_student_t_covers_the_mean_95_percent_of_the_time(n: int):
    def t(x):
        ci = mean_ci(x)
        return ci.low, ci.high

    assert 0.93 <= _coverage(t, n) <= 0.97


def test_percentile_bootstrap_of_the_mean_undercovers_with_three_runs():
    """Why the mean's interval changed: with 3 runs the bootstrap is [min, max], which covers ~75%."""

    def boot(x):
        ci = bootstrap_ci(x, lambda s: s.mean(axis=1), n_boot=1000)
        return ci.low, ci.high

    x = np.array([3.0, 1.0, 2.0])
    assert boot(x) == (1.0, 3.0)  # the range of the runs: each extreme resample has probability 1/27
    assert _coverage(boot, 3, draws=1000) < 0.85


def test_small_sample_bootstrap_intervals_say_they_are_range_like():
    few, many = np.arange(3.0), np.arange(12.0)
    assert bootstrap_iqm_ci(few).method == SMALL_BOOTSTRAP
    assert bootstrap_iqm_ci(many).method == "percentile bootstrap"
    assert bootstrap_poi_ci(many, few).method == SMALL_BOOTSTRAP  # the smaller arm decides
    assert bootstrap_poi_ci(many, many + 1).n == 12 and SMALL_N == 10
    assert (bootstrap_iqm_ci(few).low, bootstrap_iqm_ci(few).high) == (0.0, 2.0)  # [min, max]


def test_headers_name_the_method_and_n():
    assert ci_header([mean_ci([1, 2, 3]), mean_ci([4, 5, 6]), mean_ci([7])]) == "95% CI (Student-t; n=3)"
    assert ci_header([mean_ci([1, 2]), mean_ci([1, 2, 3, 4])]) == "95% CI (Student-t; n=2-4)"
    mixed = ci_header([bootstrap_iqm_ci(np.arange(3.0)), bootstrap_iqm_ci(np.arange(12.0))])
    assert mixed == f"95% CI ({SMALL_BOOTSTRAP}; n=3 / percentile bootstrap; n=12)"
    assert ci_header([mean_ci([1.0])]) == "95% CI (none: fewer than 2 runs)"


def test_curve_band_is_the_pointwise_student_t_interval():
    a = (np.array([0.0, 1.0]), np.array([1.0, 10.0]))
    b = (np.array([0.0, 1.0]), np.array([2.0, 20.0]))
    c = (np.array([0.0, 1.0]), np.array([3.0, 30.0]))
    agg = aggregate_curves([a, b, c], points=2)
    for i, column in enumerate(([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])):
        ci = mean_ci(column)
        assert (agg["low"][i], agg["high"][i]) == pytest.approx((ci.low, ci.high))
