"""Runs survive SIGKILL: killed at random points and resumed, a run ends with the same weights and metrics
as an uninterrupted run with the same seed (on CPU, same machine)."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from gailrun.config.resolvers import ASSETS
from gailrun.run.resume import config_hash
from tests.helpers import cli_env, gailrun_exe, run_cli

CASES = {
    # Box2D mid-episode at every checkpoint: the env state must come back by replay.
    "ppo-lunarlander": (
        "env=lunarlander",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=5000",
        "ppo_opts=plus",
    ),
    # The discriminator, its optimizer and the expert sampler's pointer and RNG.
    "gail-cartpole": (
        "algo=gail",
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=4000",
        "algo.dstep=4",
        "ppo_opts.reward_std=true",
    ),
    "bc-lunarlander": ("algo=bc", "env=lunarlander", "algo.epochs=12", "expert=n30"),
}
COMMON = ("train.checkpoint_every=1", "final_eval.episodes=3", "train.progress=false", "seed=5")


def rows(path: Path) -> int:
    try:
        return max(0, path.read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


def kill_when(args: list[str], run_dir: Path, at_row: int, timeout: float = 120) -> bool:
    """Start a run and SIGKILL it once metrics.csv has `at_row` rows; False if it finished first."""
    proc = subprocess.Popen(
        [*gailrun_exe(), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
    )
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if rows(run_dir / "metrics.csv") >= at_row:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.05)
    proc.wait()
    return False


@pytest.mark.parametrize("case", sorted(CASES))
def test_sigkill_at_random_points_then_resume_is_identical(tmp_path: Path, case: str):
    args = [*CASES[case], *COMMON]
    ref, killed = tmp_path / "reference", tmp_path / "killed"
    out = run_cli("train", *args, f"hydra.run.dir={ref}")
    assert out.returncode == 0, out.stderr
    total_rows = rows(ref / "metrics.csv")
    assert total_rows >= 8

    rng = random.Random(case)
    kills = sorted(rng.sample(range(1, total_rows - 1), 3))
    train_args = ["train", *args, f"hydra.run.dir={killed}"]
    for at in kills:
        kill_when(train_args, killed, at)
    out = run_cli(*train_args)  # resume=auto is the default
    assert out.returncode == 0, out.stderr
    assert "resuming from" in out.stdout + out.stderr

    for name in ("metrics.csv", "episodes.csv"):
        assert (ref / name).read_bytes() == (killed / name).read_bytes(), name
    if case.startswith("gail"):  # the reward-free selection's candidates and choice
        assert (ref / "rf_selection.json").read_bytes() == (killed / "rf_selection.json").read_bytes()
    a = torch.load(ref / "last.pt", weights_only=True)
    b = torch.load(killed / "last.pt", weights_only=True)
    assert a["agent"].keys() == b["agent"].keys()
    assert all(torch.equal(a["agent"][k], b["agent"][k]) for k in a["agent"])
    assert (ref / "eval.json").read_text().split('"returns"')[1] == (killed / "eval.json").read_text().split(
        '"returns"'
    )[1]


def test_resume_refuses_a_different_config(tmp_path: Path):
    base = (
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=512",
        "final_eval.episodes=0",
        "train.checkpoint_every=1",
    )
    assert run_cli("train", *base, f"hydra.run.dir={tmp_path}").returncode == 0
    out = run_cli("train", *base, "algo.lr=0.01", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 1
    assert "different config" in out.stderr and out.stderr.strip().count("\n") == 0


def test_resume_skips_a_corrupt_newest_checkpoint(tmp_path: Path):
    base = (
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=1024",
        "final_eval.episodes=0",
        "train.checkpoint_every=1",
    )
    assert run_cli("train", *base, f"hydra.run.dir={tmp_path}").returncode == 0
    reference = (tmp_path / "metrics.csv").read_bytes()
    states = sorted((tmp_path / "checkpoints").glob("state-*.pt"))
    states[-1].write_bytes(states[-1].read_bytes()[:1000])  # torn write of the newest
    out = run_cli("train", *base, f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert f"skipping {states[-1].name}" in out.stdout + out.stderr
    assert (tmp_path / "metrics.csv").read_bytes() == reference


def test_checkpoint_every_steps_counts_env_steps(tmp_path: Path):
    """checkpoint_every_steps=256: a state at the first update past each multiple of 256 env steps (reset
    rows of the 128-row rollouts are not env steps, so that is about every second update)."""
    out = run_cli(
        "train",
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=1024",
        "final_eval.episodes=0",
        "train.checkpoint_every=0",
        "train.checkpoint_every_steps=256",
        "train.keep_checkpoints=10",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    states = sorted((tmp_path / "checkpoints").glob("state-*.pt"))
    steps = [torch.load(p, weights_only=True)["counters"]["step"] for p in states]
    assert [s // 256 for s in steps] == [1, 2, 3, 4]


def test_resume_from_another_checkout_of_the_bundled_data(tmp_path: Path):
    """The same bundled dataset resolved from another checkout (or cluster node) has another absolute path;
    the run still resumes, and a state written before asset paths were made portable still validates."""
    copies = []
    for name in ("checkout-a", "checkout-b"):
        copy = tmp_path / name / "gailrun" / "assets" / "datasets" / "gailrun" / "cartpole-ppo-v0"
        shutil.copytree(ASSETS / "datasets" / "gailrun" / "cartpole-ppo-v0", copy)
        copies.append(copy)
    run_dir = tmp_path / "run"
    base = (
        "algo=gail",
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=512",
        "final_eval.episodes=0",
        "train.checkpoint_every=1",
        f"hydra.run.dir={run_dir}",
    )
    assert run_cli("train", *base, f"expert.path={copies[0]}").returncode == 0
    reference = (run_dir / "metrics.csv").read_bytes()
    out = run_cli("train", *base, f"expert.path={copies[1]}")
    assert out.returncode == 0, out.stderr
    assert "resuming from" in out.stdout + out.stderr
    assert (run_dir / "metrics.csv").read_bytes() == reference

    # A state of an older gailrun: its hash was over the absolute asset paths; it must still validate.
    resolved = torch.load(run_dir / "last.pt", weights_only=False)["config"]
    newest = sorted((run_dir / "checkpoints").glob("state-*.pt"))[-1]
    state = torch.load(newest, weights_only=False)
    assert state["config_hash"] == config_hash(resolved) != config_hash(resolved, legacy=True)
    state["config_hash"] = config_hash(resolved, legacy=True)
    torch.save(state, newest)
    out = run_cli("train", *base, f"expert.path={resolved['expert']['path']}")
    assert out.returncode == 0, out.stderr
    assert "resuming from" in out.stdout + out.stderr
    assert (run_dir / "metrics.csv").read_bytes() == reference
