"""The iteration each algorithm plugs into the trainer.

- `OnPolicyLoop` (algo=ppo, and algo=gail with a `GailRewardHook`): one rollout and PPO update per step;
  progress is counted in env steps.
- `BCLoop` (algo=bc): one epoch of behaviour cloning per step; progress is counted in epochs.
Both report `IterationResult`s; the trainer does the logging, checkpoints and stopping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium.vector import SyncVectorEnv
from omegaconf import DictConfig, OmegaConf

from gailrun.algos.bc.cloning import BC_METRICS, BCRegularizer, BehaviourCloning
from gailrun.algos.gail.discriminator import Discriminator
from gailrun.algos.gail.hook import GAIL_METRICS, GailRewardHook
from gailrun.algos.infogail.hook import (
    INFO_METRICS,
    InfoGailRewardHook,
    Posterior,
    code_return_metrics,
    returns_by_code,
)
from gailrun.algos.ppo.update import PPO, PPOStats
from gailrun.data.expert import ExpertData, load_expert
from gailrun.envs.make import EnvInfo, make_vec_env, seed_vec_env
from gailrun.envs.replay import ReplayLog
from gailrun.errors import GailrunError
from gailrun.models.codes import LatentCodes
from gailrun.models.networks import ActorCritic
from gailrun.models.policy import tensors_to_numpy
from gailrun.rollout.buffer import Rollout
from gailrun.rollout.collector import Collector
from gailrun.rollout.normalize import ObsNormalizer, ReturnScaler
from gailrun.run.algorithm import Algorithm, IterationResult, Tracker
from gailrun.run.loggers import BASE_METRICS
from gailrun.run.pipeline import OnPolicyIteration, RewardProcessing
from gailrun.run.settings import bc_pretrain_settings, bc_settings, gail_settings, ppo_settings


def n_codes_of(cfg: DictConfig) -> int:
    """InfoGAIL's number of latent codes (0 for every other algorithm)."""
    return int(cfg.algo.n_codes) if str(cfg.algo.name) == "infogail" else 0


def shaping_of(cfg: DictConfig) -> dict | None:
    node = cfg.env.shaping
    return None if node is None or float(node.weight) == 0.0 else dict(OmegaConf.to_container(node))


def _window_trackers(cfg: DictConfig) -> list[Tracker]:
    w, m = int(cfg.train.avg_window), int(cfg.train.min_episodes_for_best)
    return [Tracker("charts/avg100_return", "best.pt", "return", w, m)]


class OnPolicyLoop(Algorithm):
    """PPO, and GAIL/InfoGAIL as PPO plus a reward hook: one rollout and update per step."""

    unit = "step"

    def __init__(
        self,
        cfg: DictConfig,
        info: EnvInfo,
        agent: ActorCritic,
        obs_norm: ObsNormalizer,
        generator: torch.Generator,
        expert: ExpertData | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.expert, self.obs_norm = expert, obs_norm
        num_envs = int(cfg.env.num_envs)
        self.envs = make_vec_env(
            info.env_id,
            num_envs,
            vectorization=str(cfg.env.vectorization),
            max_episode_steps=cfg.env.max_episode_steps,
            workers=int(cfg.env.workers),
            shaping=shaping_of(cfg),
            backend=str(cfg.env.backend),
        )
        first_obs = seed_vec_env(self.envs, int(cfg.seed))
        resumable = isinstance(self.envs, SyncVectorEnv) or hasattr(self.envs, "replay")
        replay = ReplayLog(self.envs, int(cfg.seed), agent.dist.action_dtype) if resumable else None
        self.n_codes = n_codes = n_codes_of(cfg)
        codes = LatentCodes(n_codes, num_envs, np.random.default_rng(int(cfg.seed) + 1)) if n_codes else None
        self.rollout = Rollout(
            int(cfg.algo.num_steps), num_envs, info.obs_dim, info.obs_dim + n_codes, agent.dist.action_dtype
        )
        bc_regularizer = None
        if float(cfg.algo.bc_weight) > 0:
            assert expert is not None, "the BC regularizer needs expert data"
            bc_regularizer = BCRegularizer(
                agent,
                obs_norm,
                expert.transitions,
                float(cfg.algo.bc_weight),
                int(cfg.algo.minibatch_size),
                generator,
                n_codes,
            )
        self.ppo = PPO(agent, ppo_settings(cfg), generator, aux_loss=bc_regularizer)
        self.scaler = ReturnScaler(num_envs, float(cfg.algo.gamma), enabled=bool(cfg.ppo_opts.reward_std))
        processing = RewardProcessing(
            gamma=float(cfg.algo.gamma),
            gae_lambda=float(cfg.algo.gae_lambda),
            reward_clip=float(cfg.algo.reward_clip) if cfg.ppo_opts.reward_clip else None,
        )
        self.metric_names: list[str] = [*BASE_METRICS, *PPOStats(*([0.0] * 8)).metrics()]
        self.trackers = _window_trackers(cfg)
        self.hook: GailRewardHook | None = None
        epochs = int(cfg.algo.bc_pretrain_epochs)
        if epochs > 0:
            assert expert is not None, "BC pretraining needs expert data"
            self.pretrain_history = BehaviourCloning(
                agent, obs_norm, expert.transitions, bc_pretrain_settings(cfg), generator, n_codes
            ).pretrain()
        # Built after pretraining: the collector folds the first observations into the normalizer's
        # statistics, which BC pretraining fits on the expert data alone.
        self.collector = Collector(self.envs, agent, obs_norm, first_obs, generator, replay, codes)
        if str(cfg.algo.name) in ("gail", "infogail"):
            assert expert is not None, "GAIL needs expert data"
            self.hook = self._build_gail(cfg, info, generator, expert)
        self.metric_names += self.ppo.aux_metrics
        self.iteration = OnPolicyIteration(
            self.collector, self.rollout, self.ppo, self.scaler, processing, self.hook
        )
        self.total = int(cfg.train.total_steps)

    def _build_gail(
        self, cfg: DictConfig, info: EnvInfo, generator: torch.Generator, expert: ExpertData
    ) -> GailRewardHook:
        settings = gail_settings(cfg)
        disc = Discriminator(
            info.obs_dim,
            info.n_actions,
            hidden=[int(h) for h in cfg.disc.hidden],
            activation=str(cfg.disc.activation),
            absorbing=settings.absorbing,
        )
        self.metric_names += [*GAIL_METRICS]
        w, m = int(cfg.train.avg_window), int(cfg.train.min_episodes_for_best)
        self.trackers.append(Tracker("gail/avg100_irl_score", "best_irl.pt", "irl_return", w, m))
        rng = np.random.default_rng(int(cfg.seed))
        if str(cfg.algo.name) != "infogail":
            return GailRewardHook(disc, settings, expert, int(cfg.env.num_envs), generator, rng)
        self.metric_names += [*INFO_METRICS, *code_return_metrics(self.n_codes)]
        q = cfg.algo.posterior
        posterior = Posterior(info.obs_dim, info.n_actions, self.n_codes, [int(h) for h in q.hidden])
        return InfoGailRewardHook(
            disc,
            settings,
            expert,
            int(cfg.env.num_envs),
            generator,
            rng,
            posterior=posterior,
            info_weight=float(cfg.algo.info_weight),
            posterior_lr=float(q.lr),
            posterior_epochs=int(q.epochs),
        )

    @property
    def progress(self) -> int:
        return self.collector.total_steps

    def step(self) -> IterationResult:
        self.ppo.schedule(self.progress, self.total)
        result = self.iteration.step()
        result.metrics["charts/learning_rate"] = self.ppo.lr
        if self.n_codes and result.episodes is not None:
            episodes = result.episodes
            result.metrics.update(
                returns_by_code(episodes.returns, episodes.end_rows, self.rollout.codes, self.n_codes)
            )
        return result

    def discriminator_scorer(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
        """The discriminator's P(expert) for each pair, with the run's current normalizer (GAIL only)."""
        if self.hook is None:
            return None
        hook, norm = self.hook, self.obs_norm
        return lambda raw_obs, actions: hook.expert_probability(raw_obs, actions, norm)

    def checkpoint_extra(self) -> dict[str, Any]:
        if self.hook is None:
            return {}
        extra = {"discriminator": {k: v.detach().clone() for k, v in self.hook.disc.state_dict().items()}}
        if isinstance(self.hook, InfoGailRewardHook):
            extra["posterior"] = {k: v.detach().clone() for k, v in self.hook.posterior.state_dict().items()}
        return extra

    def state_dict(self) -> dict[str, Any]:
        state = {
            "collector": self.collector.state_dict(),
            "ppo": self.ppo.state_dict(),
            "scaler": self.scaler.state_dict(),
        }
        if self.hook is not None:
            state["gail"] = self.hook.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ppo.load_state_dict(state["ppo"])
        self.scaler.load_state_dict(tensors_to_numpy(state["scaler"]))
        if self.hook is not None:
            self.hook.load_state_dict(state["gail"])
        self.collector.load_state_dict(tensors_to_numpy(state["collector"]))

    def close(self) -> None:
        self.envs.close()


class BCLoop(Algorithm):
    """Behaviour cloning as the trainer's iteration: best.pt is the epoch with the lowest validation loss."""

    unit = "epoch"

    def __init__(
        self,
        cfg: DictConfig,
        agent: ActorCritic,
        obs_norm: ObsNormalizer,
        generator: torch.Generator,
        expert: ExpertData,
    ) -> None:
        super().__init__()
        self.expert = expert
        self.bc = BehaviourCloning(agent, obs_norm, expert.transitions, bc_settings(cfg), generator)
        self.total = int(cfg.algo.epochs)
        self.metric_names = [*BASE_METRICS, *BC_METRICS]
        # Without a validation split (too few demonstrations to hold one out) best.pt is the last epoch.
        self.trackers = (
            [Tracker("bc/val_loss", "best.pt", "val_loss", 1, 1, mode="min")]
            if self.bc.has_validation
            else [Tracker("bc/epoch", "best.pt", "epoch", 1, 1)]
        )

    @property
    def progress(self) -> int:
        return self.bc.epochs_done

    def step(self) -> IterationResult:
        metrics = self.bc.epoch()
        scores = {"val_loss": [metrics["bc/val_loss"]], "epoch": [metrics["bc/epoch"]]}
        return IterationResult(metrics=dict(metrics), episode_scores=scores)

    def state_dict(self) -> dict[str, Any]:
        return {"bc": self.bc.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bc.load_state_dict(state["bc"])


def build_loop(
    cfg: DictConfig, info: EnvInfo, agent: ActorCritic, obs_norm: ObsNormalizer, generator: torch.Generator
) -> Algorithm:
    name = str(cfg.algo.name)
    if name in ("ppo", "gail", "infogail"):
        needs_expert = name != "ppo" or int(cfg.algo.bc_pretrain_epochs) > 0 or float(cfg.algo.bc_weight) > 0
        expert = load_expert(cfg.expert, info) if needs_expert else None
        return OnPolicyLoop(cfg, info, agent, obs_norm, generator, expert=expert)
    if name == "bc":
        return BCLoop(cfg, agent, obs_norm, generator, load_expert(cfg.expert, info))
    raise GailrunError(f"algo.name={name!r} is unknown; use algo=ppo, gail, infogail or bc")
