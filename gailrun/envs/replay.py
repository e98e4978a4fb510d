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
    def __init__(self, envs: VectorEnv, seed: int) -> None:
        if not isinstance(envs, SyncVectorEnv) and not hasattr(envs, "replay"):
            raise GailrunError(
                "resumable runs need env.vectorization=sync or subproc (async sub-envs cannot be replayed)"
            )
        self.envs = envs
        n = envs.num_envs
        self.starts: list[dict[str, Any]] = [{"seed": seed + i} for i in range(n)]
        self.actions: list[list[int]] = [[] for _ in range(n)]

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
                taken.append(int(action))

    def _rng_states(self, indices: np.ndarray) -> dict[int, dict]:
        if isinstance(self.envs, SyncVectorEnv):
            return {int(i): generator_state(self.envs.envs[int(i)].np_random) for i in indices}
        return self.envs.rng_states([int(i) for i in indices])

    def state_dict(self) -> dict[str, Any]:
        return {
            "starts": [dict(s) for s in self.starts],
            "actions": [torch.tensor(a, dtype=torch.int64) for a in self.actions],
        }

    def restore(self, state: dict[str, Any], autoreset: np.ndarray) -> np.ndarray:
        """Bring the (freshly made) envs to the recorded state; returns each env's current observation."""
        if not isinstance(self.envs, SyncVectorEnv):
            actions = [a.tolist() for a in state["actions"]]
            obs = self.envs.replay(
                [dict(s) for s in state["starts"]], actions, np.asarray(autoreset, dtype=bool)
            )
            self.starts, self.actions = [dict(s) for s in state["starts"]], actions
            return obs
        obs = []
        for i, (start, acts) in enumerate(zip(state["starts"], state["actions"], strict=True)):
            env = self.envs.envs[i]
            if "seed" in start:
                o, _ = env.reset(seed=int(start["seed"]))
            else:
                set_generator_state(env.np_random, start["rng"])
                o, _ = env.reset()
            for a in acts.tolist():
                o, *_ = env.step(int(a))
            obs.append(o)
        self.starts = [dict(s) for s in state["starts"]]
        self.actions = [a.tolist() for a in state["actions"]]
        # The vector env must also know which sub-envs reset at the next step.
        self.envs._autoreset_envs = np.asarray(autoreset, dtype=bool).copy()
        return np.stack(obs)
