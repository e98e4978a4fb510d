"""Behaviour cloning: logits into cross-entropy, a normalizer fitted once, best by validation loss, the
same checkpoint/eval path as PPO, and PPO starting from a BC checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gailrun.algos.bc.cloning import BehaviourCloning
from gailrun.data.expert import load_expert
from gailrun.envs.make import env_info
from gailrun.models.networks import ActorCritic
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.run.checkpoint import load_checkpoint
from tests.helpers import read_json, run_cli
from tests.settings import bc_settings


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
        bc_settings(epochs=1, batch_size=10**6, lr=0.0),
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
        bc_settings(epochs=2, batch_size=64, val_fraction=0.2),
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


def plain_bc(data, val_fraction: float) -> BehaviourCloning:
    """BC on raw observations (training rows are the data's rows, so they can be traced to episodes)."""
    settings = bc_settings(epochs=1, val_fraction=val_fraction)
    return BehaviourCloning(
        ActorCritic(4, 2), ObsNormalizer(4, enabled=False), data, settings, torch.Generator().manual_seed(0)
    )


def test_validation_split_holds_out_whole_episodes(cartpole_demos):
    """Consecutive states of an episode are near-duplicates: validation rows come from held-out episodes
    only, so best-by-validation-loss is judged on states the model never trained on."""
    data = cartpole_demos.transitions
    episodes = len(np.unique(data.episode_index))
    assert episodes >= 5
    bc = plain_bc(data, val_fraction=0.2)
    episode_of = {row.tobytes(): int(e) for row, e in zip(data.obs, data.episode_index, strict=True)}
    train_eps = {episode_of[row.tobytes()] for row in bc.train_obs.numpy()}
    val_eps = {episode_of[row.tobytes()] for row in bc.val_obs.numpy()}
    assert not train_eps & val_eps
    assert len(val_eps) == round(0.2 * episodes) and len(train_eps) == episodes - len(val_eps)
    assert len(bc.val_obs) + len(bc.train_obs) == len(data)


def test_three_demonstrations_are_all_trained_on(cartpole_demos):
    """At val_fraction 0.1, 3 demonstrations (the LunarLander GAIL recipe's draw) hold out none."""
    from gailrun.data.episodes import to_transitions

    data = to_transitions(cartpole_demos.episodes[:3])
    bc = plain_bc(data, val_fraction=0.1)
    assert not bc.has_validation and len(bc.train_obs) == len(data)


def test_one_demonstration_has_no_validation_split_and_best_is_the_last_epoch(tmp_path: Path):
    out = run_cli(
        "train",
        "algo=bc",
        "env=cartpole",
        "expert.n_samples=1",
        "algo.epochs=3",
        "final_eval.episodes=0",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    assert "no validation split" in out.stdout + out.stderr
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    for k, v in last["agent"].items():
        torch.testing.assert_close(best["agent"][k], v)


def test_bc_pretraining_fits_the_normalizer_on_expert_data_alone(make_cfg, tmp_path, monkeypatch):
    """With obs_norm on, BC pretraining standardizes the expert data with statistics of its training split
    alone; the env's first observations join them only after pretraining."""
    import gailrun.algos.bc.cloning
    from gailrun.run.trainer import Trainer

    seen = []
    original = gailrun.algos.bc.cloning.BehaviourCloning.__init__

    def spy(self, agent, obs_norm, data, settings, generator, n_codes=0):
        original(self, agent, obs_norm, data, settings, generator, n_codes)
        seen.append((obs_norm.state_dict()["count"], len(self.train_act)))

    monkeypatch.setattr(gailrun.algos.bc.cloning.BehaviourCloning, "__init__", spy)
    cfg = make_cfg("algo=gail", "env=cartpole", "ppo_opts.obs_norm=true", "algo.bc_pretrain_epochs=1")
    t = Trainer(cfg, tmp_path)
    t.build()
    (count, n_train), num_envs = seen[0], int(cfg.env.num_envs)
    assert count == pytest.approx(n_train + 1e-4)
    assert t.obs_norm.state_dict()["count"] == pytest.approx(n_train + num_envs + 1e-4)
    t.loop.close()
