"""InfoGAIL (Li, Song and Ermon, 2017): GAIL plus a latent code the policy must make recoverable.

The policy sees a per-episode code c (gailrun/models/codes.py). A posterior network Q(c | s, a) is trained
on the learner's own (s, a, c), and the policy's reward gains `info_weight * (log Q(c | s, a) + log K)`: the
variational lower bound log Q(c | s, a) + H(c) on the mutual information between the code and the
behaviour, with H(c) = log K for K uniform codes. Without the + log K the term is never positive, a
sign-fixed reward that would pay the agent for ending episodes early (see gailrun/algos/gail/reward.py).
To earn it, each code must produce (s, a) pairs that tell it apart, so codes separate the styles mixed in the
demonstrations, while the discriminator keeps every style expert-like. Everything else is GAIL's,
through the same pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gailrun.algos.gail.hook import GailRewardHook
from gailrun.models.distributions import make_distribution
from gailrun.models.networks import gradient_step, mlp
from gailrun.rollout.buffer import Rollout
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.rollout.relabel import Relabel

INFO_METRICS = ("infogail/posterior_loss", "infogail/posterior_acc", "infogail/info_reward")


def code_return_metrics(n_codes: int) -> list[str]:
    """One env-return column per code: a code that learns to fall shows here long before evaluation."""
    return [f"infogail/return_code{k}" for k in range(n_codes)]


def returns_by_code(
    returns: Sequence[float], end_rows: Sequence[tuple[int, int]], codes: np.ndarray, n_codes: int
) -> dict[str, float | None]:
    """Mean env return of the episodes that ended in a rollout, per code (None for a code with none)."""
    ended = np.array([codes[t, i] for t, i in end_rows], dtype=np.int64)
    values = np.asarray(returns, dtype=np.float64)
    names = code_return_metrics(n_codes)
    return {
        names[k]: float(values[ended == k].mean()) if (ended == k).any() else None for k in range(n_codes)
    }


class Posterior(torch.nn.Module):
    """Q(c | s, a): logits over codes from [normalized obs, one-hot action]."""

    def __init__(self, obs_dim: int, n_actions: int, n_codes: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.action_dist = make_distribution(n_actions)
        self.net = mlp(obs_dim + self.action_dist.encoding_dim, hidden, n_codes, "tanh")

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, self.action_dist.encode(actions, obs.dtype)], dim=-1))


class InfoGailRewardHook(GailRewardHook):
    def __init__(
        self,
        *args: Any,
        posterior: Posterior,
        info_weight: float,
        posterior_lr: float,
        posterior_epochs: int = 1,
        posterior_batch: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.posterior, self.info_weight = posterior, float(info_weight)
        self.q_optimizer = torch.optim.Adam(posterior.parameters(), lr=posterior_lr)
        self.q_epochs, self.q_batch = int(posterior_epochs), int(posterior_batch)

    def _learner_codes(
        self, r: Rollout, norm: ObsNormalizer
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        valid = r.valid.reshape(-1)
        obs = torch.from_numpy(norm(r.raw_obs.reshape(-1, r.obs_dim)[valid]))
        return (
            obs,
            torch.from_numpy(r.actions.reshape(-1)[valid]),
            torch.from_numpy(r.codes.reshape(-1)[valid]),
        )

    def update_posterior(self, r: Rollout, norm: ObsNormalizer) -> dict[str, float]:
        obs, actions, codes = self._learner_codes(r, norm)
        n = len(codes)
        losses = []
        for _ in range(self.q_epochs):
            perm = torch.randperm(n, generator=self.generator)
            for start in range(0, n, self.q_batch):
                idx = perm[start : start + self.q_batch]
                loss = F.cross_entropy(self.posterior(obs[idx], actions[idx]), codes[idx])
                gradient_step(self.q_optimizer, loss, "non-finite posterior loss; lower algo.posterior.lr")
                losses.append(loss.item())
        with torch.no_grad():
            acc = float((self.posterior(obs, actions).argmax(-1) == codes).float().mean())
        return {"loss": float(np.mean(losses)) if losses else math.nan, "acc": acc}

    @torch.no_grad()
    def info_rewards(self, r: Rollout, norm: ObsNormalizer) -> np.ndarray:
        """info_weight * (log Q(c_t | s_t, a_t) + log K) for every row (0 on autoreset rows): 0 where Q
        cannot tell the codes apart, up to info_weight * log K where it is sure and right."""
        t, n = r.num_steps, r.num_envs
        obs = torch.from_numpy(norm(r.raw_obs.reshape(t * n, -1)))
        logq = torch.log_softmax(self.posterior(obs, torch.from_numpy(r.actions.reshape(-1))), dim=-1)
        picked = logq.gather(-1, torch.from_numpy(r.codes.reshape(-1, 1))).squeeze(-1).numpy().reshape(t, n)
        bonus = self.info_weight * (picked + math.log(logq.shape[-1]))
        return np.where(r.valid, bonus, 0.0).astype(np.float32)

    def __call__(self, r: Rollout, norm: ObsNormalizer) -> Relabel:
        out = super().__call__(r, norm)
        q = self.update_posterior(r, norm)
        info = self.info_rewards(r, norm)
        out.metrics.update(
            {
                "infogail/posterior_loss": q["loss"],
                "infogail/posterior_acc": q["acc"],
                "infogail/info_reward": float(info[r.valid].mean()) if r.valid.any() else None,
            }
        )
        out.rewards = out.rewards + info
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "posterior": self.posterior.state_dict(),
            "q_optimizer": self.q_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.posterior.load_state_dict(state["posterior"])
        self.q_optimizer.load_state_dict(state["q_optimizer"])
