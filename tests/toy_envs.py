"""Tiny environments whose returns can be computed by hand."""

from __future__ import annotations

import time
from typing import ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class CounterEnv(gym.Env):
    """Observation [steps taken this episode, 1.0]; reward 1 per step; terminates after `terminate_at` steps.

    Truncation comes from the TimeLimit wrapper (`max_episode_steps`), so the two ways an episode ends can be
    told apart in GAE tests.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, terminate_at: int | None = None, reward: float = 1.0) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.terminate_at = terminate_at
        self.reward = reward
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t, 1.0], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        return self._obs(), self.reward, terminated, False, {}


class NaNAfterEnv(CounterEnv):
    """CartPole-sized observations that turn NaN after `nan_after` steps of this env instance."""

    def __init__(self, nan_after: int = 300) -> None:
        super().__init__(terminate_at=20)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.nan_after, self.total = nan_after, 0

    def _obs(self) -> np.ndarray:
        value = np.nan if self.total >= self.nan_after else float(self.t)
        return np.array([value, 1.0, 0.0, 0.0], dtype=np.float32)

    def step(self, action):
        self.total += 1
        return super().step(action)


class SlowCartPoleEnv(CartPoleEnv):
    """CartPole that sleeps `delay` seconds in every step: a job whose wall time the clock sets, not the
    machine's speed (the SLURM time-limit test needs a job still running when SLURM signals it, on any CPU).
    The dynamics, and so every number a run computes, are CartPole's."""

    def __init__(self, delay: float = 0.002, **kwargs) -> None:
        super().__init__(**kwargs)
        self.delay = delay

    def step(self, action):
        time.sleep(self.delay)
        return super().step(action)


def register() -> None:
    if "GailrunTest/Counter-v0" not in gym.registry:
        gym.register("GailrunTest/Counter-v0", entry_point=CounterEnv)
    if "GailrunTest/NaNAfter-v0" not in gym.registry:
        gym.register("GailrunTest/NaNAfter-v0", entry_point=NaNAfterEnv)
    if "GailrunTest/SlowCartPole-v0" not in gym.registry:
        gym.register("GailrunTest/SlowCartPole-v0", entry_point=SlowCartPoleEnv, max_episode_steps=500)


register()  # on import, so `env.id=tests.toy_envs:GailrunTest/NaNAfter-v0` works in a subprocess
