"""Vectorized Gymnasium environments and what the rest of gailrun needs to know about them.

Gymnasium 1.x vector envs autoreset in NEXT_STEP mode: the step after an episode ends is a reset step whose
action is ignored and whose reward is 0. The collector masks those rows; this module only builds the envs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from gailrun.errors import GailrunError

# Old ids that users of the original experiments type, mapped to their Gymnasium 1.x replacements.
ENV_ALIASES: dict[str, str] = {"LunarLander-v2": "LunarLander-v3"}
_warned: set[str] = set()


def resolve_env_id(env_id: str) -> str:
    """Map a deprecated id to its replacement, saying so once per process."""
    new = ENV_ALIASES.get(env_id)
    if new is None:
        return env_id
    if env_id not in _warned:
        _warned.add(env_id)
        print(f"gailrun: {env_id} is gone from Gymnasium 1.x; using {new} instead.", file=sys.stderr)
    return new


@dataclass(frozen=True)
class EnvInfo:
    """Shapes of an environment, checked against checkpoints and expert data."""

    env_id: str
    obs_dim: int
    n_actions: int
    max_episode_steps: int | None

    def check_fits(
        self,
        what: str,
        env_id: str,
        obs_dim: int,
        actions: range,
        *,
        fix: str,
        error: type[GailrunError],
        dataset: bool = False,
    ) -> None:
        """Refuse `what` (a checkpoint, a dataset) made for another env, naming both envs' shapes and `fix`.

        The observation size must be this env's. A policy's `actions` (one logit each) must be this env's
        action set; a dataset's (its lowest to its highest action) must lie within it, as not every action
        need be played, and the env id a dataset records must be this one.
        """
        ours = range(self.n_actions)
        if dataset:
            fits = env_id == self.env_id and actions.start >= 0 and actions.stop <= ours.stop
        else:
            fits = actions == ours
        if obs_dim != self.obs_dim or not fits:
            raise error(
                f"{what} {env_id} (obs {obs_dim}, actions {actions.start}..{actions.stop - 1}), not "
                f"{self.env_id} (obs {self.obs_dim}, actions 0..{ours.stop - 1}); {fix}"
            )


class PositionShaping(gym.Wrapper):
    """Adds `weight * (1 - min(|obs[0] - target|, 1))` to every reward: a demonstrator with a style.

    Trains CartPole experts that keep the cart left or right of centre (obs[0] is the cart position) for
    the InfoGAIL study; evaluation and data collection use the unshaped env, so scores stay comparable.
    """

    def __init__(self, env: gym.Env, target: float, weight: float) -> None:
        super().__init__(env)
        self.target, self.weight = float(target), float(weight)

    def step(self, action):  # type: ignore[override]
        obs, reward, terminated, truncated, info = self.env.step(action)
        bonus = self.weight * (1.0 - min(abs(float(obs[0]) - self.target), 1.0))
        return obs, float(reward) + bonus, terminated, truncated, info


def _single_env_fn(
    env_id: str, max_episode_steps: int | None, render_mode: str | None, shaping: dict | None = None
) -> Callable[[], gym.Env]:
    def make() -> gym.Env:
        kwargs: dict = {"disable_env_checker": True}
        if max_episode_steps is not None:
            kwargs["max_episode_steps"] = int(max_episode_steps)
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        env = gym.make(env_id, **kwargs)
        if shaping:
            env = PositionShaping(env, target=shaping["target"], weight=shaping["weight"])
        return env

    return make


def env_info(env_id: str) -> EnvInfo:
    """Inspect an environment's spaces without keeping it open."""
    env_id = resolve_env_id(env_id)
    try:
        env = gym.make(env_id, disable_env_checker=True)
    except gym.error.Error as exc:
        raise GailrunError(
            f"cannot make environment {env_id!r}: {exc}; pick a registered Gymnasium id"
        ) from exc
    try:
        obs_space, act_space = env.observation_space, env.action_space
        if not isinstance(act_space, gym.spaces.Discrete):
            raise GailrunError(
                f"{env_id} has a {type(act_space).__name__} action space; "
                "gailrun supports Discrete actions only"
            )
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise GailrunError(f"{env_id} must have a flat Box observation space, got {obs_space}")
        spec_steps = env.spec.max_episode_steps if env.spec is not None else None
        return EnvInfo(env_id, int(obs_space.shape[0]), int(act_space.n), spec_steps)
    finally:
        env.close()


def make_vec_env(
    env_id: str,
    num_envs: int,
    *,
    vectorization: str = "sync",
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
    workers: int = 2,
    shaping: dict | None = None,
    backend: str = "gymnasium",
) -> VectorEnv:
    """Build `num_envs` copies of `env_id` in NEXT_STEP autoreset mode.

    `max_episode_steps` overrides the registered time limit (the original study cut LunarLander at 300 steps
    during training); hitting it is a truncation, so the learner bootstraps through it. `backend=envpool`
    steps EnvPool's C++ ports in `workers` native threads instead (`vectorization` does not apply).
    """
    env_id = resolve_env_id(env_id)
    if backend == "envpool":
        if shaping:
            raise GailrunError("env.shaping needs env.backend=gymnasium (envpool envs cannot be wrapped)")
        from gailrun.envs.envpool_backend import EnvPoolVectorEnv

        return EnvPoolVectorEnv(
            env_id, num_envs, max_episode_steps=max_episode_steps, num_threads=min(workers, num_envs)
        )
    if backend != "gymnasium":
        raise GailrunError(f"env.backend must be 'gymnasium' or 'envpool', got {backend!r}")
    fns = [_single_env_fn(env_id, max_episode_steps, render_mode, shaping) for _ in range(num_envs)]
    if vectorization == "sync":
        return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.NEXT_STEP)
    if vectorization == "async":
        return AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.NEXT_STEP, shared_memory=True)
    if vectorization == "subproc":
        from gailrun.envs.subproc import SubprocVectorEnv

        return SubprocVectorEnv(fns, workers=workers)
    raise GailrunError(f"env.vectorization must be 'sync', 'subproc' or 'async', got {vectorization!r}")


def seed_vec_env(envs: VectorEnv, seed: int) -> np.ndarray:
    """Reset with `seed` (sub-env i gets seed + i) and seed the action space; returns first observations."""
    obs, _ = envs.reset(seed=seed)
    envs.action_space.seed(seed)
    return obs
