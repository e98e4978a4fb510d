"""GAE against hand-computed values, on a real vector env with terminations, truncations and the
NEXT_STEP autoreset rows between episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from gailrun.models.networks import ActorCritic
from gailrun.rollout.buffer import Rollout
from gailrun.rollout.collector import Collector
from gailrun.rollout.gae import compute_gae
from gailrun.rollout.normalize import ObsNormalizer

GAMMA, LAM = 0.9, 0.8


def counter_envs() -> SyncVectorEnv:
    """env 0 terminates every 2 steps; env 1 is truncated by its time limit every 3 steps."""
    fns = [
        lambda: gym.make("GailrunTest/Counter-v0", terminate_at=2, max_episode_steps=10),
        lambda: gym.make("GailrunTest/Counter-v0", terminate_at=None, max_episode_steps=3),
    ]
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.NEXT_STEP)


def constant_critic_agent(c: float) -> ActorCritic:
    agent = ActorCritic(2, 2, hidden=(4,))
    with torch.no_grad():
        for p in agent.critic.parameters():
            p.zero_()
        agent.critic[-1].bias.fill_(c)
    return agent


def collect(agent: ActorCritic, steps: int = 6) -> Rollout:
    envs = counter_envs()
    obs, _ = envs.reset(seed=0)
    norm = ObsNormalizer(2, enabled=False)
    collector = Collector(envs, agent, norm, obs, torch.Generator().manual_seed(0))
    rollout = Rollout(steps, 2, 2)
    collector.collect(rollout)
    envs.close()
    return rollout


def test_rollout_marks_autoreset_rows_and_keeps_final_observations():
    r = collect(constant_critic_agent(0.5))
    # env 0: steps 0,1 | reset row 2 | steps 3,4 | reset row 5.  env 1: steps 0,1,2 | reset row 3 | steps 4,5.
    np.testing.assert_array_equal(r.valid[:, 0], [1, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(r.valid[:, 1], [1, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(r.terminated[:, 0], [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(r.truncated[:, 1], [0, 0, 1, 0, 0, 0])
    assert not r.truncated[:, 0].any() and not r.terminated[:, 1].any()
    # The reset row holds the final observation of the episode that ended (step counter 2 and 3)...
    assert r.raw_obs[2, 0, 0] == 2 and r.raw_obs[3, 1, 0] == 3
    # ...the row after it the new episode's first one, and the reset row's reward is 0.
    assert r.raw_obs[3, 0, 0] == 0 and r.raw_obs[4, 1, 0] == 0
    assert r.rewards[2, 0] == 0 and r.rewards[3, 1] == 0
    assert r.next_raw_obs[1, 0] == 2


def test_gae_matches_hand_computation_with_constant_critic():
    c = 0.5
    r = collect(constant_critic_agent(c))
    adv, ret = compute_gae(r.rewards, r.values, r.next_value, r.terminated, r.truncated, r.valid, GAMMA, LAM)
    step = 1 + GAMMA * c - c  # 0.95: a step that bootstraps (ordinary or truncated)
    term = 1 - c  # 0.5: a terminal step, no bootstrap
    gl = GAMMA * LAM
    expected_env0 = [step + gl * term, term, 0.0, step + gl * term, term, 0.0]
    expected_env1 = [step + gl * (step + gl * step), step + gl * step, step, 0.0, step + gl * step, step]
    np.testing.assert_allclose(adv[:, 0], expected_env0, rtol=1e-6)
    np.testing.assert_allclose(adv[:, 1], expected_env1, rtol=1e-6)
    np.testing.assert_allclose(ret, np.where(r.valid, adv + c, 0.0), rtol=1e-6)


def test_truncation_bootstraps_from_the_final_observation_not_the_reset_one():
    """With observation-dependent values, a truncated step uses V(final obs), stored on the reset row."""
    T = 5
    rewards = np.array([[1.0], [1.0], [0.0], [1.0], [1.0]])
    values = np.array([[0.1], [0.2], [7.0], [0.3], [0.4]])  # row 2 = V(final obs of the truncated episode)
    valid = np.array([[1], [1], [0], [1], [1]], bool)
    terminated = np.zeros((T, 1), bool)
    truncated = np.array([[0], [1], [0], [0], [0]], bool)
    next_value = np.array([0.9])
    adv, _ = compute_gae(rewards, values, next_value, terminated, truncated, valid, GAMMA, LAM)
    d1 = 1.0 + GAMMA * 7.0 - 0.2
    d0 = 1.0 + GAMMA * 0.2 - 0.1
    d4 = 1.0 + GAMMA * 0.9 - 0.4
    d3 = 1.0 + GAMMA * 0.4 - 0.3
    np.testing.assert_allclose(adv[:, 0], [d0 + GAMMA * LAM * d1, d1, 0.0, d3 + GAMMA * LAM * d4, d4])
    # The same step terminated instead: no bootstrap at all.
    adv_t, _ = compute_gae(rewards, values, next_value, truncated.copy(), terminated, valid, GAMMA, LAM)
    assert adv_t[1, 0] == pytest.approx(1.0 - 0.2)
