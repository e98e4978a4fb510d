"""One on-policy iteration: collect -> relabel rewards -> scale/clip -> GAE -> PPO update.

PPO and GAIL both run through `OnPolicyIteration`; GAIL only supplies a `RewardHook` that updates its
discriminator on the fresh rollout and returns the rewards that replace the environment's. Reward
scaling (`reward_std`) and clipping (`reward_clip`) therefore act on whatever rewards the learner uses,
never on the environment's when GAIL is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gailrun.algos.ppo.update import PPO
from gailrun.rollout.buffer import Rollout, make_batch
from gailrun.rollout.collector import Collector
from gailrun.rollout.gae import compute_gae
from gailrun.rollout.normalize import ObsNormalizer, ReturnScaler
from gailrun.rollout.relabel import Relabel, with_absorbing_value
from gailrun.run.algorithm import IterationResult


class RewardHook(Protocol):
    """Turns a fresh rollout into the rewards the learner optimizes, and reports metrics."""

    def __call__(self, rollout: Rollout, obs_norm: ObsNormalizer) -> Relabel: ...

    def episode_scores(self) -> dict[str, list[float]]:
        """Per-episode scores of the episodes that ended in the last rollout, in the collector's order."""
        ...


@dataclass
class RewardProcessing:
    gamma: float
    gae_lambda: float
    reward_clip: float | None  # None = off


class OnPolicyIteration:
    def __init__(
        self,
        collector: Collector,
        rollout: Rollout,
        ppo: PPO,
        scaler: ReturnScaler,
        processing: RewardProcessing,
        reward_hook: RewardHook | None = None,
    ) -> None:
        self.collector, self.rollout, self.ppo = collector, rollout, ppo
        self.scaler, self.processing, self.reward_hook = scaler, processing, reward_hook
        # The rewards GAE saw in the last iteration, after relabelling, scaling and clipping (for tests/logs).
        self.gae_rewards: np.ndarray | None = None

    def value_clip_range(self) -> float:
        """value_clip_eps in return units: scaled rewards have returns of unit std, raw ones do not.

        The original code clipped unscaled LunarLander values at 0.2 (defect 4), which froze the critic.
        """
        eps = self.ppo.value_clip_eps
        return eps if self.scaler.enabled else eps * self.scaler.std

    def process_rewards(self, relabel: Relabel) -> np.ndarray:
        """Scale (`reward_std`) and clip (`reward_clip`) each step's reward, the absorbing state's per-step
        reward by the same divisor and clip as its terminal row's, then add the absorbing state's value."""
        r = self.rollout
        rewards, divisors = self.scaler.scale(relabel.rewards, r.dones, r.valid)
        absorbing = relabel.absorbing
        if absorbing is not None:
            absorbing = absorbing / divisors[:, None]
        c = self.processing.reward_clip
        if c is not None:
            rewards = np.clip(rewards, -c, c)
            absorbing = None if absorbing is None else np.clip(absorbing, -c, c)
        if absorbing is None:
            return rewards
        return with_absorbing_value(rewards, absorbing, self.processing.gamma, r.valid)

    def step(self) -> IterationResult:
        r = self.rollout
        episodes = self.collector.collect(r)
        metrics: dict[str, float | None] = {}
        scores: dict[str, list[float]] = {"return": list(episodes.returns)}
        relabel = Relabel(r.rewards)
        if self.reward_hook is not None:
            relabel = self.reward_hook(r, self.collector.obs_norm)
            metrics.update(relabel.metrics)
            scores.update(self.reward_hook.episode_scores())
        rewards = self.process_rewards(relabel)
        self.gae_rewards = rewards
        adv, ret = compute_gae(
            rewards,
            r.values,
            r.next_value,
            r.terminated,
            r.truncated,
            r.valid,
            self.processing.gamma,
            self.processing.gae_lambda,
        )
        stats = self.ppo.update(make_batch(r, adv, ret), self.value_clip_range())
        metrics.update(stats.metrics())
        metrics["charts/reward_scale"] = self.scaler.std if self.scaler.enabled else 1.0
        return IterationResult(episodes=episodes, metrics=metrics, episode_scores=scores)
