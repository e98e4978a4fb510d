"""The training pipeline shared by every algorithm.

`Trainer.run` owns what is algorithm-agnostic: seeding, the env, the policy, logging, progress, best/last
checkpoints, stop conditions and the final evaluation. Each iteration is delegated to an object with a
`step() -> IterationResult` method: `OnPolicyIteration` for PPO (and GAIL, which only adds a reward hook).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from gailrun.checkpoint import atomic_write_bytes, save_checkpoint
from gailrun.collector import Collector
from gailrun.envs import EnvInfo, env_info, make_vec_env, seed_vec_env
from gailrun.errors import CheckpointError, GailrunError
from gailrun.evaluate import EvalResult, eval_json_path, evaluate
from gailrun.loggers import BASE_METRICS, MetricLogger
from gailrun.networks import ActorCritic
from gailrun.normalize import ObsNormalizer, ReturnScaler
from gailrun.onpolicy import IterationResult, OnPolicyIteration, RewardProcessing
from gailrun.policy import load_policy, policy_from_checkpoint, policy_payload
from gailrun.ppo import PPO, PPOSettings, PPOStats, as_float_tuple, linear_lr
from gailrun.progress import Progress
from gailrun.rollout import Rollout
from gailrun.seeding import seed_everything

log = logging.getLogger("gailrun")


@dataclass
class BestTracker:
    """Saves `filename` whenever the running average of `metric` improves."""

    metric: str
    filename: str
    window: int
    min_episodes: int
    values: deque = field(init=False)
    best: float = -math.inf
    best_step: int | None = None

    def __post_init__(self) -> None:
        self.values = deque(maxlen=self.window)

    def add(self, xs: list[float]) -> None:
        self.values.extend(xs)

    @property
    def average(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    def improved(self) -> bool:
        avg = self.average
        return len(self.values) >= self.min_episodes and avg is not None and avg > self.best


def ppo_settings(cfg: DictConfig) -> PPOSettings:
    a, o = cfg.algo, cfg.ppo_opts
    return PPOSettings(
        lr=float(a.lr),
        betas=as_float_tuple(a.betas),
        adam_eps=float(a.adam_eps),
        num_epochs=int(a.num_epochs),
        minibatch_size=int(a.minibatch_size),
        clip_eps=float(a.clip_eps),
        ent_coef=float(a.ent_coef),
        vf_coef=float(a.vf_coef),
        norm_adv=bool(a.norm_adv),
        target_kl=None if a.target_kl is None else float(a.target_kl),
        max_grad_norm=float(a.max_grad_norm),
        value_clip_eps=float(a.value_clip_eps),
        policy_noclip=bool(o.policy_noclip),
        value_clip=bool(o.value_clip),
        grad_clip=bool(o.grad_clip),
    )


def build_agent(cfg: DictConfig, info: EnvInfo) -> tuple[ActorCritic, ObsNormalizer]:
    agent = ActorCritic(
        info.obs_dim,
        info.n_actions,
        hidden=tuple(int(h) for h in cfg.algo.hidden),
        activation=str(cfg.algo.activation),
        ortho_init=bool(cfg.ppo_opts.ortho_init),
    )
    obs_norm = ObsNormalizer(info.obs_dim, enabled=bool(cfg.ppo_opts.obs_norm), clip=float(cfg.algo.obs_clip))
    if cfg.get("init_from"):
        init_from_checkpoint(str(cfg.init_from), agent, obs_norm, info)
    return agent, obs_norm


def init_from_checkpoint(path: str, agent: ActorCritic, obs_norm: ObsNormalizer, info: EnvInfo) -> None:
    """Start from a trained policy (e.g. BC, as in the original study's PPO-from-BC run)."""
    src = load_policy(path)
    if (src.agent.obs_dim, src.agent.n_actions) != (info.obs_dim, info.n_actions):
        raise CheckpointError(
            f"init_from={path} is for {src.env_id} (obs {src.agent.obs_dim}, actions {src.agent.n_actions}), "
            f"not {info.env_id} (obs {info.obs_dim}, actions {info.n_actions}); pick a checkpoint of this env"
        )
    try:
        agent.actor.load_state_dict(src.agent.actor.state_dict())
        agent.critic.load_state_dict(src.agent.critic.state_dict())
    except RuntimeError as exc:
        raise CheckpointError(
            f"init_from={path} has different network sizes; "
            f"set algo.hidden to {src.checkpoint['network']['hidden']}"
        ) from exc
    if src.obs_norm.enabled:
        obs_norm.enabled = True
        obs_norm.rms.load_state_dict(src.obs_norm.rms.state_dict())


def network_cfg(cfg: DictConfig) -> dict:
    return {"hidden": [int(h) for h in cfg.algo.hidden], "activation": str(cfg.algo.activation)}


class Trainer:
    def __init__(self, cfg: DictConfig, run_dir: Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.resolved: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]

    # ----- construction ---------------------------------------------------------------------------------
    def build(self) -> None:
        cfg = self.cfg
        seed_everything(int(cfg.seed), int(cfg.torch_threads), bool(cfg.deterministic))
        self.info = env_info(str(cfg.env.id))
        self.env_id = self.info.env_id
        self.agent, self.obs_norm = build_agent(cfg, self.info)
        self.generator = torch.Generator().manual_seed(int(cfg.seed))
        num_envs = int(cfg.env.num_envs)
        self.envs = make_vec_env(
            self.env_id,
            num_envs,
            vectorization=str(cfg.env.vectorization),
            max_episode_steps=cfg.env.get("max_episode_steps"),
        )
        first_obs = seed_vec_env(self.envs, int(cfg.seed))
        self.collector = Collector(self.envs, self.agent, self.obs_norm, first_obs, self.generator)
        self.rollout = Rollout(int(cfg.algo.num_steps), num_envs, self.info.obs_dim)
        self.ppo = PPO(self.agent, ppo_settings(cfg), self.generator)
        self.scaler = ReturnScaler(num_envs, float(cfg.algo.gamma), enabled=bool(cfg.ppo_opts.reward_std))
        processing = RewardProcessing(
            gamma=float(cfg.algo.gamma),
            gae_lambda=float(cfg.algo.gae_lambda),
            reward_clip=float(cfg.algo.reward_clip) if cfg.ppo_opts.reward_clip else None,
        )
        self.iteration = OnPolicyIteration(self.collector, self.rollout, self.ppo, self.scaler, processing)
        self.metric_names: list[str] = [*BASE_METRICS, *PPOStats(*([0.0] * 8)).metrics()]
        window = int(cfg.train.avg_window)
        self.trackers = [
            BestTracker("charts/avg100_return", "best.pt", window, int(cfg.train.min_episodes_for_best))
        ]

    # ----- checkpoints ----------------------------------------------------------------------------------
    def payload(self, step: int, update: int, episodes: int) -> dict[str, Any]:
        return {
            **policy_payload(
                self.agent, self.obs_norm, self.env_id, str(self.cfg.algo.name), network_cfg(self.cfg)
            ),
            "config": self.resolved,
            "progress": {"env_steps": step, "updates": update, "episodes": episodes},
            "scores": {t.metric: t.average for t in self.trackers},
        }

    # ----- the loop -------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.build()
        cfg = self.cfg
        run_dir = self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(self.resolved))
        total_steps = int(cfg.train.total_steps)
        max_episodes = cfg.train.get("max_episodes")
        target = cfg.train.get("target_return")
        base_lr = float(cfg.algo.lr)
        logger = MetricLogger(run_dir, self.metric_names, cfg.logger, self.resolved, job_type="train")
        progress = Progress(
            total_steps, desc=f"{cfg.algo.name} {self.env_id}", enabled=bool(cfg.train.progress)
        )
        t0 = time.perf_counter()
        update = 0
        n_episodes = 0
        stop_reason = "total_steps"
        failed = True
        try:
            while self.collector.total_steps < total_steps:
                if cfg.algo.anneal_lr:
                    self.ppo.set_lr(linear_lr(base_lr, self.collector.total_steps, total_steps))
                result: IterationResult = self.iteration.step()
                update += 1
                step = self.collector.total_steps
                eps = result.episodes
                n_episodes += len(eps.returns)
                for (_, env_i), ret, length in zip(eps.end_rows, eps.returns, eps.lengths, strict=True):
                    logger.log_episode(step, env_i, ret, length)
                self.trackers[0].add(eps.returns)
                elapsed = time.perf_counter() - t0
                metrics = {
                    "charts/episodic_return": float(np.mean(eps.returns)) if eps.returns else None,
                    "charts/episodic_length": float(np.mean(eps.lengths)) if eps.lengths else None,
                    "charts/avg100_return": self.trackers[0].average,
                    "charts/episodes": n_episodes,
                    "charts/learning_rate": self.ppo.optimizer.param_groups[0]["lr"],
                    **result.metrics,
                }
                timing = {"charts/sps": step / elapsed, "time/elapsed_s": elapsed}
                logger.log(step, update, metrics, timing)
                for tracker in self.trackers:
                    if tracker.improved():
                        tracker.best = float(tracker.average)  # type: ignore[arg-type]
                        tracker.best_step = step
                        save_checkpoint(run_dir / tracker.filename, self.payload(step, update, n_episodes))
                if update % int(cfg.train.save_every) == 0:
                    save_checkpoint(run_dir / "last.pt", self.payload(step, update, n_episodes))
                progress.update(step, {"sps": step / elapsed, "avg100": self.trackers[0].average})
                if max_episodes is not None and n_episodes >= int(max_episodes):
                    stop_reason = "max_episodes"
                    break
                avg = self.trackers[0].average
                if (
                    target is not None
                    and avg is not None
                    and len(self.trackers[0].values) >= int(cfg.train.avg_window)
                    and avg >= float(target)
                ):
                    stop_reason = "target_return"
                    break
            step = self.collector.total_steps
            save_checkpoint(run_dir / "last.pt", self.payload(step, update, n_episodes))
            failed = False
        finally:
            progress.close()
            self.envs.close()
            if failed:
                logger.close(failed=True)
        wall = time.perf_counter() - t0
        summary = self.finish(step, update, n_episodes, wall, stop_reason)
        logger.log_summary(summary)
        logger.close()
        return summary

    def finish(self, step: int, update: int, episodes: int, wall: float, stop_reason: str) -> dict[str, Any]:
        """Evaluate the best checkpoint over the configured episodes and write summary.json."""
        cfg = self.cfg
        summary: dict[str, Any] = {
            "env_id": self.env_id,
            "algo": str(cfg.algo.name),
            "seed": int(cfg.seed),
            "env_steps": step,
            "updates": update,
            "episodes": episodes,
            "wall_time_s": round(wall, 3),
            "stop_reason": stop_reason,
        }
        for t in self.trackers:
            summary[f"best/{t.metric}"] = None if t.best == -math.inf else t.best
            summary[f"best/{t.metric}/step"] = t.best_step
        n_eval = int(cfg.final_eval.episodes)
        if n_eval > 0:
            target = self.run_dir / "best.pt"
            if not target.exists():
                target = self.run_dir / "last.pt"
            result = self.evaluate_checkpoint(target, n_eval)
            summary["final_eval"] = {"checkpoint": target.name, **result.summary()}
            log.info("final evaluation of %s: %s", target.name, result.line())
        atomic_write_bytes(self.run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
        return summary

    def evaluate_checkpoint(self, path: Path, episodes: int) -> EvalResult:
        from gailrun.checkpoint import load_checkpoint

        policy = policy_from_checkpoint(load_checkpoint(path), source=str(path))
        result = evaluate(
            policy,
            episodes=episodes,
            seed=int(self.cfg.final_eval.seed),
            deterministic=not bool(self.cfg.final_eval.stochastic),
            num_envs=int(self.cfg.final_eval.num_envs),
        )
        result.write_json(eval_json_path(path), {"checkpoint": str(path)})
        return result


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    if str(cfg.algo.name) not in ("ppo",):
        raise GailrunError(f"algo={cfg.algo.name} is not available yet; use algo=ppo")
    return Trainer(cfg, run_dir).run()
