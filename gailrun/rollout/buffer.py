"""Preallocated rollout storage, shaped [num_steps, num_envs, ...].

Row t of env i holds the observation the policy acted on, the action, its log-probability and value, and
what the env returned. Rows whose `valid` is false are NEXT_STEP autoreset steps: the env ignored the
action and returned the reset observation; their `obs` is the final observation of the episode that just
ended, and their value is V(final observation), the bootstrap for a truncated episode.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class Rollout:
    """Arrays of one rollout, allocated once. `obs_dim` is the env's observations' (raw_obs), `policy_obs_dim`
    what the policy sees (obs: obs_dim plus InfoGAIL's one-hot code; 0 = obs_dim), `action_dtype` the
    policy's `dist.action_dtype`."""

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_dim: int,
        policy_obs_dim: int = 0,
        action_dtype: type = np.int64,
    ) -> None:
        t, n, d = num_steps, num_envs, obs_dim
        self.num_steps, self.num_envs, self.obs_dim = t, n, d
        self.policy_obs_dim = policy_obs_dim or d
        self.action_dtype = action_dtype
        self.obs = np.zeros((t, n, self.policy_obs_dim), np.float32)
        self.raw_obs = np.zeros((t, n, d), np.float32)
        self.actions = np.zeros((t, n), action_dtype)
        self.logprobs = np.zeros((t, n), np.float32)
        self.values = np.zeros((t, n), np.float32)
        self.rewards = np.zeros((t, n), np.float32)
        self.terminated = np.zeros((t, n), bool)
        self.truncated = np.zeros((t, n), bool)
        self.valid = np.zeros((t, n), bool)
        self.next_obs = np.zeros((n, self.policy_obs_dim), np.float32)
        self.codes = np.zeros((t, n), np.int64)
        self.next_raw_obs = np.zeros((n, d), np.float32)
        self.next_value = np.zeros(n, np.float32)

    @property
    def dones(self) -> np.ndarray:
        return self.terminated | self.truncated

    @property
    def num_valid(self) -> int:
        return int(self.valid.sum())


class EpisodeSums:
    """Each env's return and length so far in its current episode, under NEXT_STEP autoreset: a step that is
    not `valid` (the reset step after an episode ended) belongs to no episode and adds nothing. The
    collector's env returns, the discriminator's IRL returns and evaluation all count episodes this way."""

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs, np.float64)
        self.lengths = np.zeros(num_envs, np.int64)

    def step(self, rewards: np.ndarray, valid: np.ndarray, done: np.ndarray) -> list[tuple[int, float, int]]:
        """Add one step's rewards; return (env, return, length) of each episode it ended, in env order, and
        start those envs' next episodes at zero."""
        self.returns += np.where(valid, rewards, 0.0)
        self.lengths += valid
        ended = np.flatnonzero(done & valid)
        out = [(int(i), float(self.returns[i]), int(self.lengths[i])) for i in ended]
        self.returns[ended] = 0.0
        self.lengths[ended] = 0
        return out


class Batch(NamedTuple):
    """The valid rows of a rollout, flattened, as tensors for the policy update."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def __len__(self) -> int:
        return self.obs.shape[0]


def make_batch(rollout: Rollout, advantages: np.ndarray, returns: np.ndarray) -> Batch:
    """Keep only valid rows; autoreset rows never reach a loss."""
    m = rollout.valid.reshape(-1)

    def flat(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x.reshape(m.shape[0], *x.shape[2:])[m]))

    return Batch(
        obs=flat(rollout.obs),
        actions=flat(rollout.actions),
        logprobs=flat(rollout.logprobs),
        values=flat(rollout.values),
        advantages=flat(advantages.astype(np.float32)),
        returns=flat(returns.astype(np.float32)),
    )
