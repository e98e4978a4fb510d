"""Environment state that survives a kill: each sub-env's current episode as (start, actions).

Box2D worlds cannot be serialized, but episodes are deterministic given the RNG state the reset drew from
and the actions taken since. `ReplayLog` records, for every sub-env of a sync vector env in NEXT_STEP
autoreset mode, how its current episode started (the seed of the first reset, or the env RNG state just
before an autoreset) and the actions applied since; `restore` rebuilds the same state in fresh envs by
resetting and replaying. Works with `sync` and `subproc` vectorization (whose workers do the same remotely);
Gymnasium's `async` mode cannot reach its sub-envs' RNGs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import SyncVectorEnv, VectorEnv

from gailrun.errors import GailrunError
from gailrun.run.rng import generator_state, set_generator_state


class ReplayLog:
    def __init__(self, envs: VectorEnv, seed: int, action_dtype: type) -> None:
        """`action_dtype`: the policy's `dist.action_dtype`, the dtype the actions are saved with."""
        if not isinstance(envs, SyncVectorEnv) and not hasattr(envs, "replay"):
            raise GailrunError(
                "resumable runs need env.vectorization=sync or subproc (async sub-envs cannot be replayed)"
            )
        self.envs, self.action_dtype = envs, action_dtype
        n = envs.num_envs
        self.starts: list[dict[str, Any]] = [{"seed": seed + i} for i in range(n)]
        self.actions: list[list[Any]] = [[] for _ in range(n)]

    def before_step(self, actions: np.ndarray, autoreset: np.ndarray) -> None:
        """Call right before `envs.step(actions)`; `autoreset[i]` means env i resets in this step."""
        resetting = np.flatnonzero(autoreset)
        if len(resetting):
            states = self._rng_states(resetting)
            for i in resetting:
                self.starts[i] = {"rng": states[int(i)]}
                self.actions[i] = []
        for taken, action, reset in zip(self.actions, actions.tolist(), autoreset.tolist(), strict=True):
            if not reset:
                taken.append(action)

    def _rng_states(self, indices: np.ndarray) -> dict[int, dict]:
        if isinstance(self.envs, SyncVectorEnv):
            return {int(i): generator_state(self.envs.envs[int(i)].np_random) for i in indices}
        return self.envs.rng_states([int(i) for i in indices])

    def state_dict(self) -> dict[str, Any]:
        return {
            "starts": [dict(s) for s in self.starts],
            "actions": [torch.from_numpy(np.asarray(a, dtype=self.action_dtype)) for a in self.actions],
        }

    def restore(self, state: dict[str, Any], autoreset: np.ndarray) -> np.ndarray:
        """Bring the (freshly made) envs to the recorded state; returns each env's current observation."""
        starts = [dict(s) for s in state["starts"]]
        actions = [a.tolist() for a in state["actions"]]
        autoreset = np.asarray(autoreset, dtype=bool)
        if isinstance(self.envs, SyncVectorEnv):
            obs = replay_episodes(self.envs, starts, actions, autoreset)
        else:
            obs = self.envs.replay(starts, actions, autoreset)
        self.starts, self.actions = starts, actions
        return obs


def replay_episodes(
    envs: SyncVectorEnv, starts: list[dict], actions: list[list[Any]], autoreset: np.ndarray
) -> np.ndarray:
    """Reset each sub-env as its episode started and step it through the actions taken since (in this
    process, or in a `subproc` worker); the vector env also learns which sub-envs reset at the next step."""
    obs = []
    for env, start, acts in zip(envs.envs, starts, actions, strict=True):
        if "seed" in start:
            o, _ = env.reset(seed=int(start["seed"]))
        else:
            set_generator_state(env.np_random, start["rng"])
            o, _ = env.reset()
        for a in acts:
            o, *_ = env.step(a)
        obs.append(o)
    envs._autoreset_envs = np.asarray(autoreset, dtype=bool).copy()
    return np.stack(obs)
