"""`env.backend=envpool`: EnvPool's C++ environments behind Gymnasium's vector-env interface.

EnvPool steps every sub-env in native threads and already autoresets the way Gymnasium 1.x does in NEXT_STEP
mode (the step after an episode ends returns the reset observation with reward 0 and both flags false), so
the collector's masks apply unchanged; `tests/envs/test_envpool.py` checks that side by side with Gymnasium.
Its physics are its own ports, so runs are reproducible with the same backend but not bit-identical to
`backend=gymnasium`. Evaluation and data collection always use Gymnasium, which keeps scores comparable.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gailrun.errors import GailrunError


def _envpool() -> Any:
    try:
        import envpool
    except ImportError as exc:
        raise GailrunError(
            "env.backend=envpool needs the envpool package; install it with "
            "`pip install -e '.[envpool]'` or use env.backend=gymnasium"
        ) from exc
    return envpool


class EnvPoolVectorEnv(VectorEnv):
    """`num_envs` EnvPool copies of `env_id`; `reset(seed=s)` rebuilds the pool (sub-env i: seed s + i)."""

    def __init__(
        self, env_id: str, num_envs: int, *, max_episode_steps: int | None = None, num_threads: int = 0
    ) -> None:
        envpool = _envpool()
        if env_id not in envpool.list_all_envs():
            raise GailrunError(f"envpool has no {env_id}; use env.backend=gymnasium for it")
        self.env_id, self.num_envs = env_id, int(num_envs)
        self._kwargs: dict[str, Any] = {"num_envs": self.num_envs, "num_threads": int(num_threads)}
        if max_episode_steps is not None:
            self._kwargs["max_episode_steps"] = int(max_episode_steps)
        self._pool = self._make(seed=0)
        shape = self._pool.observation_space.shape
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(int(self._pool.action_space.n))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def _make(self, seed: int) -> Any:
        return _envpool().make_gymnasium(self.env_id, seed=int(seed), **self._kwargs)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self._pool.close()
            self._pool = self._make(seed)
        obs, info = self._pool.reset()
        return np.asarray(obs, dtype=np.float32), dict(info)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        obs, reward, terminated, truncated, info = self._pool.step(np.asarray(actions, dtype=np.int32))
        return (
            np.asarray(obs, dtype=np.float32),
            np.asarray(reward, dtype=np.float64),
            np.asarray(terminated, dtype=bool),
            np.asarray(truncated, dtype=bool),
            dict(info),
        )

    def close_extras(self, **kwargs: Any) -> None:
        self._pool.close()
