"""Periodic deterministic evaluation during training, and an ETA that knows about max_episodes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gailrun.report.load import read_csv_columns
from gailrun.run.progress import Progress
from tests.helpers import run_cli

TINY = ("env=cartpole", "env.num_envs=2", "algo.num_steps=256", "train.total_steps=4096", "seed=3")


def test_periodic_evaluation_is_logged_and_leaves_training_unchanged(tmp_path: Path):
    plain, evald = tmp_path / "plain", tmp_path / "eval"
    assert run_cli("train", *TINY, "final_eval.episodes=0", f"hydra.run.dir={plain}").returncode == 0
    out = run_cli(
        "train",
        *TINY,
        "final_eval.episodes=2",  # after training: metrics.csv is the same; the report wants an evaluation
        "train.eval_every_steps=1000",
        "train.eval_episodes=3",
        f"hydra.run.dir={evald}",
    )
    assert out.returncode == 0, out.stderr
    a, b = read_csv_columns(plain / "metrics.csv"), read_csv_columns(evald / "metrics.csv")
    assert set(b) - set(a) == {"eval/return_mean", "eval/return_std"}
    for name, values in a.items():  # evaluation draws from no random stream of training
        np.testing.assert_array_equal(values, b[name], err_msg=name)
    logged = np.isfinite(b["eval/return_mean"])
    steps = b["global_step"][logged]
    assert len(steps) == 4 and np.all(np.diff(steps // 1000) >= 1)  # once per 1000 env steps crossed
    assert np.all((b["eval/return_mean"][logged] >= 8) & (b["eval/return_mean"][logged] <= 500))

    report = tmp_path / "report"
    assert run_cli("report", str(evald), f"--out={report}").returncode == 0
    assert (report / "periodic_eval_vs_steps.png").stat().st_size > 1000
    assert "eval/return_mean" in (report / "report.md").read_text()


def test_periodic_evaluation_refuses_bc_and_bad_values(tmp_path: Path):
    out = run_cli(
        "train", "algo=bc", "env=cartpole", "train.eval_every_steps=100", f"hydra.run.dir={tmp_path}"
    )
    assert (
        out.returncode == 1
        and "train.eval_every_steps applies to algorithms that count env steps" in out.stderr
    )
    out = run_cli(
        "train", *TINY, "train.eval_every_steps=100", "train.eval_episodes=0", f"hydra.run.dir={tmp_path}"
    )
    assert out.returncode == 1 and "both must be positive" in out.stderr


def test_eta_counts_the_episode_budget_when_it_comes_first(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    with_budget = Progress(1_000_000, "ppo", enabled=False, max_episodes=200)
    without = Progress(1_000_000, "ppo", enabled=False)
    for p in (with_budget, without):
        p.update(0, {}, episodes=0)
    now[0] = 100.0  # 100 s for 10k steps and 100 episodes
    for p in (with_budget, without):
        p.update(10_000, {}, episodes=100)
    # The step budget would take 9900 s more; the episode budget ends after 100 more episodes: 100 s.
    assert with_budget.eta(10_000) == "0:01:40"
    assert without.eta(10_000) == "2:45:00"
