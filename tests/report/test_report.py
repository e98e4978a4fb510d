"""Reports and videos: statistics against hand computations, `gailrun report` on a real tiny sweep and a
GAIL run (every figure, correct tables, a self-contained html), and `record_video` on CartPole."""

from __future__ import annotations

import base64
import csv
import itertools
import json
import math
import re
import shutil
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gailrun.models.networks import ActorCritic
from gailrun.models.policy import Policy
from gailrun.report import build_report
from gailrun.report.curves import aggregate_curves
from gailrun.report.stats import (
    SMALL_BOOTSTRAP,
    bootstrap_iqm_ci,
    bootstrap_poi_ci,
    iqm,
    prob_improvement,
)
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.run.evaluate import evaluate
from gailrun.run.video import record_video
from tests.helpers import REPO, run_cli

TINY = (
    "env=cartpole",
    "train.total_steps=1024",
    "env.num_envs=2",
    "algo.num_steps=128",
    "final_eval.episodes=5",
)
SWEEP_FIGURES = {"return_vs_steps.png", "return_vs_time.png", "losses.png", "eval_box.png", "eval_bar.png"}


def brute_poi(x: list[float], y: list[float]) -> float:
    """P(X > Y) by enumerating every pair, ties counting one half."""
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(x, y))
    return wins / (len(x) * len(y))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- statistics --------------------------------------------------------------------------------------


def test_iqm_matches_hand_computations():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx((3 + 4 + 5 + 6) / 4)
    assert iqm([10, 1, 100, 2, 3]) == pytest.approx((2 + 3 + 10) / 3)  # n=5: one dropped at each end
    assert iqm([4.0, -2.0, 7.0]) == pytest.approx(3.0)  # n<4: nothing dropped, the mean
    assert iqm([0, 0, 0, 1000, 1, 1, 1, -1000]) == pytest.approx(0.5)
    assert math.isnan(iqm([]))


def test_iqm_is_scipys_25_percent_trimmed_mean_as_in_rliable():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for n in range(1, 23):
        x = rng.normal(size=n) * 100
        assert iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25))


def test_probability_of_improvement_matches_pair_counts():
    assert prob_improvement([1, 2, 3], [2, 2]) == pytest.approx(3 / 6)  # 0+0 + .5+.5 + 1+1
    assert prob_improvement([3, 4], [1, 2, 3]) == pytest.approx(5.5 / 6)
    assert prob_improvement([5, 6], [1, 2]) == 1.0 and prob_improvement([1, 2], [5, 6]) == 0.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 5, size=rng.integers(1, 9)).astype(float).tolist()
        y = rng.integers(0, 5, size=rng.integers(1, 9)).astype(float).tolist()
        assert prob_improvement(x, y) == pytest.approx(brute_poi(x, y))
        assert prob_improvement(x, y) + prob_improvement(y, x) == pytest.approx(1.0)


def test_bootstrap_intervals_are_deterministic_and_bracket_the_estimate():
    x, y = [1.0, 5.0, 2.0, 8.0, 3.0, 9.0], [0.0, 4.0, 1.0, 2.0]
    ci = bootstrap_iqm_ci(x)
    assert ci.low <= iqm(x) <= ci.high and ci == bootstrap_iqm_ci(x) and ci.low < ci.high
    p = bootstrap_poi_ci(x, y)
    assert 0.0 <= p.low <= prob_improvement(x, y) <= p.high <= 1.0 and p.low < p.high and p.n == 4
    sep = bootstrap_poi_ci([5, 6], [1, 2])
    assert (sep.low, sep.high) == (1.0, 1.0)  # every resample is fully separated
    assert not bootstrap_iqm_ci([7.0]).exists  # one run: no interval


def test_curves_are_interpolated_onto_a_common_grid_before_averaging():
    a = (np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0]))
    b = (np.array([5.0, 15.0, 25.0]), np.array([100.0, 100.0, 100.0]))
    agg = aggregate_curves([a, b], points=3)
    assert agg["x"].tolist() == [5.0, 12.5, 20.0]  # the range both seeds reached
    assert agg["mean"].tolist() == pytest.approx([(5 + 100) / 2, (12.5 + 100) / 2, (20 + 100) / 2])
    assert np.all(agg["low"] <= agg["mean"]) and np.all(agg["mean"] <= agg["high"])
    one = aggregate_curves([a], points=3)
    assert one["mean"].tolist() == [0.0, 10.0, 20.0] and np.isnan(one["low"]).all()  # no band from one seed


# --- gailrun report on real runs -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "sweep"
    res = run_cli("sweep", *TINY, "ppo_opts=ppo_m,top1", "seed=1,2", f"hydra.sweep.dir={out}")
    assert res.returncode == 0, res.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def sweep_report(sweep: Path) -> Path:
    res = run_cli("report", str(sweep))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "wrote" in res.stdout and "4 jobs (0 failed" in res.stdout
    return sweep / "report"


def per_run_scores(sweep: Path) -> dict[str, list[float]]:
    """Independently of gailrun: each job's ppo_opts override and the mean of its eval.json returns."""
    out: dict[str, list[float]] = {}
    for job in sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir()):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        label = next(o for o in overrides if o.startswith("ppo_opts="))
        returns = json.loads((job / "eval.json").read_text())["returns"]
        out.setdefault(label, []).append(float(np.mean(returns)))
    return out


def test_report_writes_every_figure_as_a_real_png(sweep_report: Path):
    pngs = {p.name for p in sweep_report.glob("*.png")}
    assert pngs == SWEEP_FIGURES
    for name in pngs:
        with Image.open(sweep_report / name) as img:
            assert img.format == "PNG" and img.width > 400 and img.height > 250
    md = (sweep_report / "report.md").read_text()
    for name in pngs:
        assert f"]({name})" in md
    assert "4 (4 succeeded, 0 failed" in md and "seeds: 2 (1 2)" in md and "`CartPole-v1`" in md
    assert "Shaded: pointwise 95% Student-t interval" in md  # captions say which interval is shaded
    assert "error bar: 95% CI of the mean: Student-t" in md and "percentile bootstrap interval" not in md


def test_report_tables_match_independent_computations(sweep: Path, sweep_report: Path):
    scores = per_run_scores(sweep)
    assert set(scores) == {"ppo_opts=ppo_m", "ppo_opts=top1"} and all(len(v) == 2 for v in scores.values())

    configs = {r["config"]: r for r in read_csv(sweep_report / "configurations.csv")}
    assert set(configs) == set(scores)
    for label, x in scores.items():
        row = configs[label]
        assert int(row["runs"]) == 2 and int(row["failed"]) == 0 and row["seeds"] == "1 2"
        assert int(row["episodes"]) == 10
        assert float(row["mean"]) == pytest.approx(sum(x) / len(x))
        assert float(row["std"]) == pytest.approx(abs(x[0] - x[1]) / 2)
        assert float(row["iqm"]) == pytest.approx(sum(x) / len(x))  # 2 runs: nothing to trim
        # Student-t with 2 runs: mean +- t(0.975, 1) * s / sqrt(2), s = |x0 - x1| / sqrt(2) (ddof=1).
        half = 12.7062 * abs(x[0] - x[1]) / 2
        assert float(row["ci_low"]) == pytest.approx(np.mean(x) - half, abs=1e-3)
        assert float(row["ci_high"]) == pytest.approx(np.mean(x) + half, abs=1e-3)
        assert row["ci_method"] == "Student-t" and row["iqm_ci_method"] == SMALL_BOOTSTRAP
        assert min(x) <= float(row["iqm_ci_low"]) <= float(row["iqm_ci_high"]) <= max(x)

    # ppo_m has every switch off; top1 turns on grad_clip, reward_clip and reward_std (its config.yaml).
    ablation = {r["switch"]: r for r in read_csv(sweep_report / "ablation.csv")}
    assert set(ablation) == {"ppo_opts.grad_clip", "ppo_opts.reward_clip", "ppo_opts.reward_std"}
    on, off = scores["ppo_opts=top1"], scores["ppo_opts=ppo_m"]
    for row in ablation.values():
        assert (int(row["runs_on"]), int(row["runs_off"])) == (2, 2)
        assert float(row["iqm_on"]) == pytest.approx(np.mean(on))
        assert float(row["iqm_off"]) == pytest.approx(np.mean(off))
        assert float(row["p_on_beats_off"]) == pytest.approx(brute_poi(on, off))
        assert float(row["p_ci_low"]) <= float(row["p_on_beats_off"]) <= float(row["p_ci_high"])
        assert row["p_ci_method"] == row["iqm_on_ci_method"] == SMALL_BOOTSTRAP

    pairs = {(r["config_x"], r["config_y"]): r for r in read_csv(sweep_report / "prob_improvement.csv")}
    assert set(pairs) == {("ppo_opts=ppo_m", "ppo_opts=top1"), ("ppo_opts=top1", "ppo_opts=ppo_m")}
    for (a, b), row in pairs.items():
        assert float(row["p_x_beats_y"]) == pytest.approx(brute_poi(scores[a], scores[b]))

    md = (sweep_report / "report.md").read_text()
    for label, x in scores.items():
        assert re.search(rf"\| `{re.escape(label)}` \| 2 \| 0 \| 1 2 \| {np.mean(x):.1f} \[", md)
    assert "| `ppo_opts.grad_clip` | 2 / 2 |" in md and "P(row > column)" in md
    # Every interval column names its method and n; the bootstrap ones say they are range-like.
    assert (
        "| mean [95% CI (Student-t; n=2)] | std | IQM [95% CI (bootstrap, n<10: range-like, undercovers; "
        "n=2)] |" in md
    )
    assert "P(on > off) [95% CI (bootstrap, n<10: range-like, undercovers; n=2 in the smaller arm)]" in md


def test_report_html_is_self_contained(sweep_report: Path):
    page = (sweep_report / "report.html").read_text()
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(SWEEP_FIGURES)
    files = {(sweep_report / n).read_bytes() for n in SWEEP_FIGURES}
    assert {base64.b64decode(e) for e in embedded} == files
    assert not re.search(r'(src|href)="(?!data:)', page), "nothing is loaded from beside the page"
    assert "<table>" in page and "Ablation per switch" in page


def test_iqm_in_the_table_trims_the_extreme_runs(sweep: Path, tmp_path: Path):
    """Five copies of one real job with their scores set by hand, so that trimming matters."""
    fake = tmp_path / "five"
    scores = [0.0, 10.0, 20.0, 30.0, 1000.0]
    for i, score in enumerate(scores):
        job = fake / str(i)
        shutil.copytree(sweep / "0", job)
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        overrides = [o for o in overrides if not o.startswith("seed=")] + [f"seed={i + 10}"]
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        summary = json.loads((job / "summary.json").read_text())
        summary["final_eval"]["mean"] = score
        (job / "summary.json").write_text(json.dumps(summary))
    report = build_report([fake])
    (row,) = read_csv(report.folder / "configurations.csv")
    assert float(row["iqm"]) == pytest.approx(20.0)  # (10 + 20 + 30) / 3
    assert float(row["mean"]) == pytest.approx(212.0)
    assert row["seeds"] == "10 11 12 13 14"


def test_gail_run_gets_the_discriminator_figure(tmp_path: Path):
    run_dir = tmp_path / "gail"
    res = run_cli("train", "algo=gail", *TINY, f"hydra.run.dir={run_dir}")
    assert res.returncode == 0, res.stderr[-2000:]
    report = build_report([run_dir], tmp_path / "out")
    names = {p.name for p in report.figures}
    assert "gail.png" in names and names >= SWEEP_FIGURES
    with Image.open(tmp_path / "out" / "gail.png") as img:
        assert img.width > 1000
    md = (tmp_path / "out" / "report.md").read_text()
    assert "](gail.png)" in md and "best_irl.pt mean" in md and "algo: `gail`" in md


def test_a_directory_without_runs_is_one_line_error(tmp_path: Path):
    res = run_cli("report", str(tmp_path))
    assert res.returncode == 1
    assert (
        res.stderr.strip().startswith("gailrun: error: no jobs under") and len(res.stderr.splitlines()) == 1
    )


# --- videos --------------------------------------------------------------------------------------------


def test_record_video_writes_the_evaluated_episodes(tmp_path: Path):
    torch.manual_seed(0)
    policy = Policy(ActorCritic(4, 2), ObsNormalizer(4, enabled=False), "CartPole-v1", "ppo", {})
    video = record_video(policy, 3, 123, True, tmp_path, num_envs=2)
    assert video.returns == evaluate(policy, 3, seed=123, num_envs=2).returns
    assert video.mp4 == tmp_path / "eval.mp4" and video.gif == tmp_path / "eval_best.gif"
    assert video.mp4.stat().st_size > 1000 and video.gif.stat().st_size > 1000

    reader = imageio.get_reader(str(video.mp4))
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == video.mp4_frames == sum(video.lengths) + 3  # reset frame + one per step
    assert frames[0].shape == (400, 600, 3) and frames[-1].std() > 5  # a rendered scene, not a blank

    best_len = video.lengths[video.best_episode]
    assert video.returns[video.best_episode] == max(video.returns)
    with Image.open(video.gif) as gif:
        assert gif.size == (320, 213) and gif.n_frames == video.gif_frames
        assert 2 <= gif.n_frames <= best_len // 2 + 2  # every 2nd frame at 50 fps -> 25 fps


def test_a_study_run_in_parts_is_one_configuration():
    """ppo_m at the study's budget ran as seeds 1-4 (`seeds=4`) and then seed 5 alone: the committed parts
    combine into one configuration of 5 runs (the `seeds` count steers the sweep, not the training)."""
    from gailrun.report.load import load_study

    parts = REPO / "docs" / "results" / "ppo_agents_full"
    study = load_study([parts / "ppo_m", parts / "ppo_m_seed5"])
    assert len(study.labels) == 1 and "ppo_opts=ppo_m" in study.shared
    assert sorted(r.job.seed for r in study.runs) == [1, 2, 3, 4, 5]
    # Seeds 6-10 ran from another checkout (/work/repro-wt): the bundled dataset's absolute path differs,
    # the configuration does not.
    assert "/work/repro-wt/" in (parts / "ppo_m_seeds6-10" / "0" / "config.yaml").read_text()
    study = load_study([parts / "ppo_m", parts / "ppo_m_seed5", parts / "ppo_m_seeds6-10"])
    assert len(study.labels) == 1 and sorted(r.job.seed for r in study.runs) == list(range(1, 11))
