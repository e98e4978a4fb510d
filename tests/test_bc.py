"""Behaviour cloning: logits into cross-entropy, a normalizer fitted once, best by validation loss, the
same checkpoint/eval path as PPO, and PPO starting from a BC checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gailrun.bc import BCSettings, BehaviourCloning
from gailrun.checkpoint import load_checkpoint
from gailrun.data.expert import load_expert
from gailrun.envs import env_info
from gailrun.networks import ActorCritic
from gailrun.normalize import ObsNormalizer
from tests.helpers import read_json, run_cli


@pytest.fixture
def cartpole_demos(make_cfg):
    return load_expert(make_cfg("env=cartpole", "algo=bc").expert, env_info("CartPole-v1"))


def test_loss_is_cross_entropy_of_logits_not_probabilities(cartpole_demos):
    torch.manual_seed(0)
    agent = ActorCritic(4, 2)
    bc = BehaviourCloning(
        agent,
        ObsNormalizer(4, enabled=False),
        cartpole_demos.transitions,
        BCSettings(epochs=1, batch_size=10**6, lr=0.0),
        torch.Generator().manual_seed(0),
    )
    metrics = bc.epoch()  # lr 0: one full-batch pass measures the loss without changing the weights
    logits = agent.logits(bc.train_obs)
    assert metrics["bc/train_loss"] == pytest.approx(F.cross_entropy(logits, bc.train_act).item(), rel=1e-5)
    softmax_twice = F.cross_entropy(torch.softmax(logits, -1), bc.train_act).item()
    assert metrics["bc/train_loss"] != pytest.approx(softmax_twice, rel=1e-3)


def test_normalizer_is_fitted_once_on_the_training_split(cartpole_demos):
    norm = ObsNormalizer(4, enabled=True)
    bc = BehaviourCloning(
        ActorCritic(4, 2),
        norm,
        cartpole_demos.transitions,
        BCSettings(epochs=2, batch_size=64, val_fraction=0.2),
        torch.Generator().manual_seed(0),
    )
    state = norm.state_dict()
    n = len(cartpole_demos.transitions)
    assert state["count"] == pytest.approx(n - round(0.2 * n) + 1e-4)
    bc.epoch()
    bc.epoch()
    np.testing.assert_array_equal(state["mean"], norm.state_dict()["mean"])
    assert abs(float(bc.train_obs.mean())) < 0.2  # standardized with its own statistics


def test_bc_cli_then_ppo_from_bc(tmp_path: Path):
    bc_dir, ppo_dir = tmp_path / "bc", tmp_path / "ppo"
    out = run_cli(
        "train",
        "algo=bc",
        "env=cartpole",
        "algo.epochs=8",
        "final_eval.episodes=5",
        f"hydra.run.dir={bc_dir}",
    )
    assert out.returncode == 0, out.stderr
    summary = read_json(bc_dir / "summary.json")
    assert summary["algo"] == "bc" and summary["epochs"] == 8 and summary["final_eval"]["episodes"] == 5
    header = (bc_dir / "metrics.csv").read_text().splitlines()[0]
    assert "bc/val_acc" in header and "bc/val_loss" in header
    val_losses = [
        float(line.split(",")[header.split(",").index("bc/val_loss")])
        for line in (bc_dir / "metrics.csv").read_text().splitlines()[1:]
    ]
    best = load_checkpoint(bc_dir / "best.pt")
    assert best["scores"]["bc/val_loss"] == pytest.approx(min(val_losses))
    assert read_json(bc_dir / "eval.json")["episodes"] == 5

    out = run_cli(
        "train",
        "env=cartpole",
        f"init_from={bc_dir / 'best.pt'}",
        "train.total_steps=2048",
        "env.num_envs=2",
        "algo.num_steps=1024",
        "final_eval.episodes=0",
        f"hydra.run.dir={ppo_dir}",
    )
    assert out.returncode == 0, out.stderr
    first = (ppo_dir / "episodes.csv").read_text().splitlines()[1:]
    assert np.mean([float(row.split(",")[2]) for row in first]) > 100, "starts from the cloned policy"
