"""GAIL: PPO plus two steps per iteration, supplied as a reward hook of the on-policy pipeline.

1. Update the discriminator D(s, a) on the fresh rollout against expert (s, a) pairs.
2. Replace the rollout's rewards by D's reward before GAE (the environment's reward is never learned from;
   the trainer logs it as the true score beside `irl_score`, the episode sum of D's reward).

The reward forms and absorbing states, with their derivation: `gailrun.algos.gail.reward`. D and its
expert sampler: `gailrun.algos.gail.discriminator`.

`relabel_with` says which D scores the rollout:
- `updated`: D after its update on this very rollout (up to `d_epochs` passes over it). The recipes use it:
  every measurement in bench/RESULTS.md was made with it, and D's freshest verdict is the one the update
  already fitted on these pairs.
- `collected`: D as it was when the rollout was collected, as OpenAI baselines and imitation do: the reward
  the policy optimizes was not fitted on the same samples, so D's overfitting to them cannot shape it.
InfoGAIL's posterior Q always scores the rollout after its own update on it, whichever D does.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gailrun.algos.gail.discriminator import Discriminator, ExpertSampler
from gailrun.algos.gail.reward import REWARD_FORMS, absorbing_mode, reward_from_logits
from gailrun.data.expert import ExpertData
from gailrun.errors import GailrunError
from gailrun.models.networks import gradient_step
from gailrun.rollout.buffer import EpisodeSums, Rollout
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.rollout.relabel import Relabel, with_absorbing_value

log = logging.getLogger("gailrun")

GAIL_METRICS = (
    "gail/loss",
    "gail/expert_acc",
    "gail/learner_acc",
    "gail/grad_penalty",
    "gail/d_frozen",
    "gail/reward_mean",
    "gail/irl_score",
    "gail/avg100_irl_score",
)

RELABEL_WITH = ("updated", "collected")


@dataclass(frozen=True)
class GailSettings:
    """Built by `settings_from` from `disc.*`, `algo.d_early_stop.*` and `algo.*` (conf/algo/gail.yaml)."""

    reward_form: str
    absorbing: str
    dstep: int
    d_epochs: int  # passes of D over each rollout
    lr: float
    betas: tuple[float, float]
    expert_sampler: str
    grad_penalty: float
    expert_acc: float | None  # `algo.d_early_stop`: stop updating D once both accuracies reach these
    learner_acc: float | None
    gamma: float
    relabel_with: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "absorbing", absorbing_mode(self.absorbing))
        if self.relabel_with not in RELABEL_WITH:
            raise GailrunError(
                f"algo.relabel_with={self.relabel_with!r} is unknown; choose one of {', '.join(RELABEL_WITH)}"
            )


class GailRewardHook:
    """Updates D on each rollout and returns D's rewards for it (see module docstring)."""

    def __init__(
        self,
        disc: Discriminator,
        settings: GailSettings,
        expert: ExpertData,
        num_envs: int,
        generator: torch.Generator,
        rng: np.random.Generator,
    ) -> None:
        if settings.reward_form not in REWARD_FORMS:
            reward_from_logits(torch.zeros(1), settings.reward_form)  # raises the one-line error
        self.disc, self.s, self.generator = disc, settings, generator
        self.optimizer = torch.optim.Adam(disc.parameters(), lr=settings.lr, betas=tuple(settings.betas))
        tr = expert.transitions
        # Expert samples: every transition, plus one absorbing sample per terminated expert episode (its
        # terminal observation; `dac` mode ignores it).
        final_obs = tr.next_obs[tr.terminations] if settings.absorbing != "none" else tr.obs[:0]
        n_abs = len(final_obs)
        self.expert_obs = np.concatenate([tr.obs, final_obs]).astype(np.float32)
        self.expert_actions = np.concatenate([tr.actions, disc.action_dist.placeholder(n_abs)])
        self.expert_flags = np.concatenate([np.zeros(len(tr), np.float32), np.ones(n_abs, np.float32)])
        self.sampler = ExpertSampler(len(self.expert_actions), settings.expert_sampler, rng)
        self.frozen = False
        self.updates = 0
        self.irl_sums = EpisodeSums(num_envs)
        self.last_irl_returns: list[float] = []

    # ----- step 1: the discriminator update ----------------------------------------------------------
    @staticmethod
    def terminal_rows(r: Rollout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, env, terminal observation) of every terminated transition. In NEXT_STEP autoreset mode the
        terminal observation is the following row's (or, after the last row, the carried observation)."""
        ts, envs = np.nonzero(r.valid & r.terminated)
        following = np.concatenate([r.raw_obs[1:], r.next_raw_obs[None]], axis=0)
        return ts, envs, following[ts, envs]

    def _learner_samples(self, r: Rollout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        valid = r.valid.reshape(-1)
        obs = r.raw_obs.reshape(-1, r.obs_dim)[valid]
        actions = r.actions.reshape(-1)[valid]
        flags = np.zeros(len(actions), np.float32)
        if self.s.absorbing != "none":
            _, _, final_obs = self.terminal_rows(r)
            n_abs = len(final_obs)
            obs = np.concatenate([obs, final_obs])
            actions = np.concatenate([actions, self.disc.action_dist.placeholder(n_abs)])
            flags = np.concatenate([flags, np.ones(n_abs, np.float32)])
        return obs, actions, flags

    def _inputs(
        self, raw_obs: np.ndarray, actions: np.ndarray, flags: np.ndarray, norm: ObsNormalizer
    ) -> torch.Tensor:
        obs = torch.from_numpy(norm(raw_obs))
        return self.disc.inputs(obs, torch.from_numpy(actions), torch.from_numpy(flags))

    def update(self, r: Rollout, norm: ObsNormalizer) -> dict[str, float]:
        l_obs, l_act, l_flag = self._learner_samples(r)
        n = len(l_act)
        batch = max(1, math.ceil(n / self.s.dstep))
        sums = {"loss": 0.0, "e_acc": 0.0, "l_acc": 0.0, "gp": 0.0}
        count = 0
        for _ in range(self.s.d_epochs):
            perm = torch.randperm(n, generator=self.generator).numpy()
            for start in range(0, n, batch):
                li = perm[start : start + batch]
                ei = self.sampler.next(len(li))
                x_l = self._inputs(l_obs[li], l_act[li], l_flag[li], norm)
                x_e = self._inputs(self.expert_obs[ei], self.expert_actions[ei], self.expert_flags[ei], norm)
                logit_l, logit_e = self.disc(x_l), self.disc(x_e)
                loss = F.binary_cross_entropy_with_logits(
                    logit_e, torch.ones_like(logit_e)
                ) + F.binary_cross_entropy_with_logits(logit_l, torch.zeros_like(logit_l))
                gp = torch.zeros(())
                if self.s.grad_penalty > 0:
                    alpha = torch.rand(len(li), 1, generator=self.generator)
                    mix = (alpha * x_e + (1 - alpha) * x_l).requires_grad_(True)
                    (grad,) = torch.autograd.grad(self.disc(mix).sum(), mix, create_graph=True)
                    gp = ((grad.norm(dim=-1) - 1.0) ** 2).mean()
                    loss = loss + self.s.grad_penalty * gp
                gradient_step(
                    self.optimizer,
                    loss,
                    f"non-finite discriminator loss at update {self.updates + 1}; lower disc.lr or set "
                    "algo.grad_penalty",
                )
                with torch.no_grad():
                    sums["e_acc"] += (logit_e > 0).float().mean().item()
                    sums["l_acc"] += (logit_l < 0).float().mean().item()
                sums["loss"] += loss.item()
                sums["gp"] += gp.item()
                count += 1
        self.updates += 1
        out = {k: v / count for k, v in sums.items()}
        e_thr, l_thr = self.s.expert_acc, self.s.learner_acc
        if e_thr is not None and l_thr is not None and out["e_acc"] >= e_thr and out["l_acc"] >= l_thr:
            self.frozen = True
            log.info(
                "gail: discriminator frozen after update %d (expert acc %.3f >= %s, learner acc %.3f >= %s)",
                self.updates,
                out["e_acc"],
                e_thr,
                out["l_acc"],
                l_thr,
            )
        return out

    # ----- step 2: the reward relabel ----------------------------------------------------------------
    @torch.no_grad()
    def relabel(self, r: Rollout, norm: ObsNormalizer) -> tuple[np.ndarray, np.ndarray | None]:
        """D's per-step reward for every row (0 on autoreset rows, float32) and, with absorbing states, the
        per-step reward r_abs of the absorbing state that follows each terminated row (0 elsewhere, float64;
        None without absorbing states)."""
        t, n = r.num_steps, r.num_envs
        x = self._inputs(
            r.raw_obs.reshape(t * n, -1), r.actions.reshape(-1), np.zeros(t * n, np.float32), norm
        )
        rew = reward_from_logits(self.disc(x), self.s.reward_form).numpy().reshape(t, n)
        step = np.where(r.valid, rew, 0.0).astype(np.float32)
        if self.s.absorbing == "none":
            return step, None
        absorbing = np.zeros((t, n), np.float64)
        ts, envs, final_obs = self.terminal_rows(r)
        if len(ts):
            k = len(ts)
            x_abs = self._inputs(
                final_obs, self.disc.action_dist.placeholder(k), np.ones(k, np.float32), norm
            )
            r_abs = reward_from_logits(self.disc(x_abs), self.s.reward_form).numpy().astype(np.float64)
            absorbing[ts, envs] = r_abs
        return step, absorbing

    @torch.no_grad()
    def expert_probability(self, raw_obs: np.ndarray, actions: np.ndarray, norm: ObsNormalizer) -> np.ndarray:
        """D's P(expert) for each (observation, action) pair (no absorbing rows): reward-free selection's
        `final_d` criterion."""
        x = self._inputs(
            raw_obs,
            np.asarray(actions, self.disc.action_dist.action_dtype),
            np.zeros(len(actions), np.float32),
            norm,
        )
        return torch.sigmoid(self.disc(x)).numpy()

    def rewards(self, r: Rollout, norm: ObsNormalizer) -> np.ndarray:
        """D's reward for every row with the absorbing state's value folded into terminated rows (the
        episode's IRL return as a sum; unscaled)."""
        step, absorbing = self.relabel(r, norm)
        return with_absorbing_value(step, absorbing, self.s.gamma, r.valid)

    def __call__(self, r: Rollout, norm: ObsNormalizer) -> Relabel:
        stats = {"loss": math.nan, "e_acc": math.nan, "l_acc": math.nan, "gp": math.nan}
        if self.s.relabel_with == "collected":
            step, absorbing = self.relabel(r, norm)
        if not self.frozen:
            stats = self.update(r, norm)
        if self.s.relabel_with == "updated":
            step, absorbing = self.relabel(r, norm)
        total = with_absorbing_value(step, absorbing, self.s.gamma, r.valid)
        self.last_irl_returns = self._episode_sums(total, r)
        return Relabel(
            rewards=step,
            absorbing=absorbing,
            metrics={
                "gail/loss": stats["loss"],
                "gail/expert_acc": stats["e_acc"],
                "gail/learner_acc": stats["l_acc"],
                "gail/grad_penalty": stats["gp"],
                "gail/d_frozen": float(self.frozen),
                "gail/reward_mean": float(total[r.valid].mean()) if r.valid.any() else math.nan,
                "gail/irl_score": float(np.mean(self.last_irl_returns)) if self.last_irl_returns else None,
            },
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "disc": {k: v.detach().clone() for k, v in self.disc.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "frozen": self.frozen,
            "updates": self.updates,
            "irl_acc": torch.from_numpy(self.irl_sums.returns.copy()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.disc.load_state_dict(state["disc"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self.frozen = bool(state["frozen"])
        self.updates = int(state["updates"])
        self.irl_sums.returns = state["irl_acc"].numpy().copy()

    def episode_scores(self) -> dict[str, list[float]]:
        return {"irl_return": self.last_irl_returns}

    def _episode_sums(self, rewards: np.ndarray, r: Rollout) -> list[float]:
        """irl_score: the episode sum of D's reward, in the same episode order as the collector reports."""
        done_sums: list[float] = []
        dones = r.dones
        for t in range(r.num_steps):
            done_sums += [ret for _, ret, _ in self.irl_sums.step(rewards[t], r.valid[t], dones[t])]
        return done_sums
