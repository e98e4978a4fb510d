"""Each of the seven code-level switches changes what it should and nothing else.

Actor and critic are separate networks and Adam is per-parameter, so from the same seed a switch that acts
on the value loss must leave the actor's update untouched, and one that acts on the policy loss the critic's.
Before the first update the policy does not depend on rewards, so reward switches leave the first rollout
itself unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gailrun.algos.ppo.losses import value_loss
from gailrun.models.networks import ActorCritic
from gailrun.run.trainer import Trainer

BASE = ("env=lunarlander", "env.num_envs=2", "algo.num_steps=160", "seed=3", "final_eval.episodes=0")


def one_iteration(make_cfg, tmp_path, *overrides: str) -> Trainer:
    trainer = Trainer(make_cfg(*BASE, *overrides), tmp_path)
    trainer.build()
    trainer.init_state = {k: v.clone() for k, v in trainer.agent.state_dict().items()}
    trainer.on_policy.iteration.step()
    trainer.loop.close()
    return trainer


def params(trainer: Trainer, part: str) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in getattr(trainer.agent, part).parameters()])


@pytest.fixture
def base(make_cfg, tmp_path):
    return one_iteration(make_cfg, tmp_path / "base")


def same_rollout(a: Trainer, b: Trainer) -> None:
    np.testing.assert_array_equal(a.on_policy.rollout.raw_obs, b.on_policy.rollout.raw_obs)
    np.testing.assert_array_equal(a.on_policy.rollout.actions, b.on_policy.rollout.actions)
    np.testing.assert_array_equal(a.on_policy.rollout.rewards, b.on_policy.rollout.rewards)


def test_value_clip_changes_only_the_critic(make_cfg, tmp_path, base):
    t = one_iteration(make_cfg, tmp_path, "ppo_opts.value_clip=true")
    same_rollout(base, t)
    np.testing.assert_array_equal(base.on_policy.iteration.gae_rewards, t.on_policy.iteration.gae_rewards)
    assert torch.equal(params(base, "actor"), params(t, "actor"))
    assert not torch.equal(params(base, "critic"), params(t, "critic"))


def test_value_clip_range_is_in_return_units(make_cfg, tmp_path):
    """Defect 4: the range scales with the return's std when rewards are unscaled, and is eps when scaled."""
    raw = one_iteration(make_cfg, tmp_path / "a", "ppo_opts.value_clip=true")
    assert raw.on_policy.iteration.value_clip_range() == pytest.approx(0.2 * raw.on_policy.scaler.std)
    assert raw.on_policy.scaler.std > 1.0  # LunarLander returns are far from unit scale
    scaled = one_iteration(make_cfg, tmp_path / "b", "ppo_opts.value_clip=true", "ppo_opts.reward_std=true")
    assert scaled.on_policy.iteration.value_clip_range() == pytest.approx(0.2)


def test_value_loss_clipping_is_pessimistic():
    v_old = torch.tensor([0.0, 0.0, 0.0])
    ret = torch.tensor([1.0, -1.0, 0.05])
    v = torch.tensor([1.0, 0.5, 0.1])
    unclipped = value_loss(v, v_old, ret, clip=False, clip_range=0.2)
    clipped = value_loss(v, v_old, ret, clip=True, clip_range=0.2)
    # sample 0: V moved 1.0 toward the target, clipped to 0.2 -> error (0.2-1)^2 = 0.64 replaces 0.
    # sample 1: clipped prediction 0.2 is closer to -1 than 0.5 is, so the unclipped 2.25 stays.
    # sample 2: inside the range, unchanged 0.0025.
    assert unclipped.item() == pytest.approx(0.5 * (0 + 2.25 + 0.0025) / 3)
    assert clipped.item() == pytest.approx(0.5 * (0.64 + 2.25 + 0.0025) / 3)


def test_policy_noclip_changes_only_the_actor(make_cfg, tmp_path, base):
    t = one_iteration(make_cfg, tmp_path, "ppo_opts.policy_noclip=true")
    same_rollout(base, t)
    assert torch.equal(params(base, "critic"), params(t, "critic"))
    assert not torch.equal(params(base, "actor"), params(t, "actor"))


def test_reward_clip_clips_learner_rewards_only(make_cfg, tmp_path, base):
    t = one_iteration(make_cfg, tmp_path, "ppo_opts.reward_clip=true")
    same_rollout(base, t)
    env_r = t.on_policy.rollout.rewards
    assert (np.abs(env_r) > 5).any(), "the rollout should contain a crash or landing reward"
    np.testing.assert_allclose(
        t.on_policy.iteration.gae_rewards, np.where(t.on_policy.rollout.valid, np.clip(env_r, -5, 5), 0)
    )
    np.testing.assert_array_equal(
        base.on_policy.iteration.gae_rewards, np.where(base.on_policy.rollout.valid, env_r, 0)
    )


def test_reward_std_divides_by_std_of_discounted_return(make_cfg, tmp_path, base):
    t = one_iteration(make_cfg, tmp_path, "ppo_opts.reward_std=true")
    same_rollout(base, t)
    r, valid, dones = t.on_policy.rollout.rewards, t.on_policy.rollout.valid, t.on_policy.rollout.dones
    gamma = 0.99
    # Independent computation of R_t = gamma * R_{t-1} + r_t (reset at episode end), var over all R so far.
    ret = np.zeros(r.shape[1])
    seen: list[float] = []
    expected = np.zeros_like(r)
    for step in range(r.shape[0]):
        ret = np.where(valid[step], gamma * ret + r[step], ret)
        seen.extend(ret[valid[step]].tolist())
        # RunningMeanStd starts from a prior of variance 1 with weight 1e-4.
        n, mean, var = len(seen), np.mean(seen), np.var(seen)
        tot = n + 1e-4
        m2 = 1.0 * 1e-4 + var * n + mean**2 * 1e-4 * n / tot
        std = math.sqrt(m2 / tot + 1e-8)
        expected[step] = np.where(valid[step], r[step] / std, 0.0)
        ret = np.where(valid[step] & dones[step], 0.0, ret)
    np.testing.assert_allclose(t.on_policy.iteration.gae_rewards, expected, rtol=1e-5)
    assert torch.equal(base.init_state["actor.0.weight"], t.init_state["actor.0.weight"])


def test_obs_norm_normalizes_what_the_policy_sees(make_cfg, tmp_path, base):
    t = one_iteration(make_cfg, tmp_path, "ppo_opts.obs_norm=true")
    assert np.array_equal(base.on_policy.rollout.obs, base.on_policy.rollout.raw_obs)
    assert not np.array_equal(t.on_policy.rollout.obs, t.on_policy.rollout.raw_obs)
    assert np.abs(t.on_policy.rollout.obs).max() <= 10.0
    # The normalized observations of the second half of the rollout are roughly standardized.
    late = t.on_policy.rollout.obs[80:][t.on_policy.rollout.valid[80:]]
    assert np.abs(late.mean(0)).max() < 1.0
    payload = t.payload(0, 0, 0)
    assert payload["obs_norm"]["enabled"] is True and payload["obs_norm"]["count"] > 1


def test_ortho_init_gains_and_zero_biases():
    torch.manual_seed(0)
    agent = ActorCritic(8, 4, hidden=(64, 64), ortho_init=True)
    for net, head_gain in ((agent.actor, 0.01), (agent.critic, 1.0)):
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        for i, layer in enumerate(linears):
            gain = head_gain if i == len(linears) - 1 else math.sqrt(2)
            w = layer.weight.detach()
            rows, cols = w.shape
            gram = w @ w.T if rows <= cols else w.T @ w
            torch.testing.assert_close(gram, gain**2 * torch.eye(min(rows, cols)), atol=1e-5, rtol=1e-4)
            assert torch.count_nonzero(layer.bias) == 0
    default = ActorCritic(8, 4, hidden=(64, 64), ortho_init=False)
    assert torch.count_nonzero(default.actor[0].bias) > 0


def test_ortho_init_leaves_the_data_pipeline_alone(make_cfg, tmp_path, base):
    t = one_iteration(make_cfg, tmp_path, "ppo_opts.ortho_init=true")
    assert not torch.equal(base.init_state["actor.0.weight"], t.init_state["actor.0.weight"])
    assert t.on_policy.scaler.enabled is False and t.obs_norm.enabled is False
    assert t.on_policy.iteration.processing.reward_clip is None


def test_grad_clip_bounds_the_update(make_cfg, tmp_path, base):
    loose = one_iteration(make_cfg, tmp_path / "loose", "ppo_opts.grad_clip=true", "algo.max_grad_norm=1e9")
    assert torch.equal(params(base, "actor"), params(loose, "actor"))
    assert torch.equal(params(base, "critic"), params(loose, "critic"))
    tight = one_iteration(make_cfg, tmp_path / "tight", "ppo_opts.grad_clip=true")
    same_rollout(base, tight)
    assert not torch.equal(params(base, "critic"), params(tight, "critic"))
