"""The training pipeline shared by every algorithm.

`Trainer.run` owns what is algorithm-agnostic: seeding, the policy, logging, progress, best/last
checkpoints, stop conditions and the final evaluation. Each iteration is delegated to an `Algorithm`
(`run/algorithm.py`, the interface the trainer drives), built by `run/loops.py`: on-policy (PPO, and GAIL as
PPO plus a reward hook) or behaviour cloning.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from gailrun.envs.make import env_info
from gailrun.errors import CheckpointError, DivergenceError, GailrunError
from gailrun.models.policy import policy_from_checkpoint, policy_payload, tensors_to_numpy
from gailrun.run.agent import build_agent, network_cfg
from gailrun.run.algorithm import Algorithm
from gailrun.run.checkpoint import atomic_write_bytes, save_checkpoint
from gailrun.run.evaluate import PeriodicEval
from gailrun.run.final_eval import final_evaluations
from gailrun.run.loggers import MetricLogger
from gailrun.run.loops import OnPolicyLoop, build_loop
from gailrun.run.progress import Progress
from gailrun.run.resume import STATE_DIR, config_hash, load_resume_state, state_files, truncate_logs
from gailrun.run.rng import global_states, set_global_states
from gailrun.run.seeding import seed_everything
from gailrun.run.selection import SELECT_METRICS, RewardFreeSelection, build_selection

log = logging.getLogger("gailrun")


class Trainer:
    def __init__(self, cfg: DictConfig, run_dir: Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.resolved: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        self.started = False  # set once inputs are validated and the run begins writing results

    def build(self) -> None:
        cfg = self.cfg
        seed_everything(int(cfg.seed), int(cfg.torch_threads), bool(cfg.torch_deterministic))
        self.info = env_info(str(cfg.env.id))
        self.env_id = self.info.env_id
        self.agent, self.obs_norm = build_agent(cfg, self.info)
        self.generator = torch.Generator().manual_seed(int(cfg.seed))
        self.loop: Algorithm = build_loop(cfg, self.info, self.agent, self.obs_norm, self.generator)
        self.trackers = self.loop.trackers
        self.selection: RewardFreeSelection | None = build_selection(
            cfg, self.loop.expert, self.info, self.run_dir
        )

    @property
    def on_policy(self) -> OnPolicyLoop:
        """The on-policy loop, for tests and tools that drive one iteration at a time."""
        assert isinstance(self.loop, OnPolicyLoop), "only on-policy algorithms have rollouts"
        return self.loop

    def payload(self, step: int, update: int, episodes: int) -> dict[str, Any]:
        return {
            **policy_payload(
                self.agent, self.obs_norm, self.env_id, str(self.cfg.algo.name), network_cfg(self.cfg)
            ),
            "n_codes": self.loop.n_codes,
            "config": self.resolved,
            "progress": {"steps": step, "unit": self.loop.unit, "updates": update, "episodes": episodes},
            "scores": {t.metric: t.average for t in self.trackers},
            **self.loop.checkpoint_extra(),
        }

    # ----- full-state checkpoints (resume) --------------------------------------------------------------
    def full_state(self, step: int, update: int, episodes: int, elapsed: float) -> dict[str, Any]:
        """Everything the next iteration depends on: weights, optimizers, normalizers, counters, trackers,
        the env replay log and every RNG. Restoring it continues the run bit for bit."""
        return {
            "kind": "full-state",
            "config_hash": config_hash(self.resolved),
            "env_id": self.env_id,
            "algo": str(self.cfg.algo.name),
            "counters": {"step": step, "update": update, "episodes": episodes, "elapsed": elapsed},
            "agent": {k: v.detach().clone() for k, v in self.agent.state_dict().items()},
            "obs_norm": self.obs_norm.state_dict(),
            "trackers": [t.state_dict() for t in self.trackers],
            "loop": self.loop.state_dict(),
            "rng": {**global_states(), "generator": self.generator.get_state()},
            **({"selection": self.selection.state_dict()} if self.selection is not None else {}),
        }

    def save_state(self, step: int, update: int, episodes: int, elapsed: float) -> None:
        directory = self.run_dir / STATE_DIR
        directory.mkdir(exist_ok=True)
        save_checkpoint(
            directory / f"state-{update:08d}.pt", self.full_state(step, update, episodes, elapsed)
        )
        for old in state_files(self.run_dir)[int(self.cfg.train.keep_checkpoints) :]:
            old.unlink(missing_ok=True)

    def restore(self, state: dict[str, Any]) -> None:
        try:
            self.agent.load_state_dict(state["agent"])
            self.obs_norm.load_state_dict(tensors_to_numpy(state["obs_norm"]))
            for tracker, t_state in zip(self.trackers, state["trackers"], strict=True):
                tracker.load_state_dict(t_state)
            self.loop.load_state_dict(state["loop"])
            if self.selection is not None:
                self.selection.load_state_dict(state["selection"])
            set_global_states(state["rng"])
            self.generator.set_state(state["rng"]["generator"])
        except CheckpointError:
            raise
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            # Only a checkpoint edited by hand gets here: gailrun's own match the config hash checked above.
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"the full-state checkpoint does not fit this run ({detail}); pass resume=null or another "
                "hydra.run.dir to start a new run"
            ) from exc

    def run(self) -> dict[str, Any]:
        self.build()
        cfg, loop, run_dir = self.cfg, self.loop, self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        state = load_resume_state(cfg, self.resolved, run_dir)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(self.resolved))
        max_episodes = cfg.train.max_episodes
        target = cfg.train.target_return
        window = int(cfg.train.avg_window)
        update = n_episodes = 0
        elapsed0 = 0.0
        if state is not None:
            self.restore(state)
            c = state["counters"]
            update, n_episodes, elapsed0 = int(c["update"]), int(c["episodes"]), float(c["elapsed"])
            truncate_logs(run_dir, update, int(c["step"]))
        periodic = PeriodicEval(
            cfg.train.eval_every_steps, int(cfg.train.eval_episodes), int(cfg.train.eval_seed)
        )
        if periodic.every and loop.unit != "step":
            raise GailrunError(
                "train.eval_every_steps applies to algorithms that count env steps (ppo, gail, infogail); "
                f"algo={cfg.algo.name} counts {loop.unit}s: drop it"
            )
        logger = MetricLogger(
            run_dir,
            [
                *loop.metric_names,
                *periodic.metric_names,
                *(SELECT_METRICS if self.selection is not None else ()),
            ],
            cfg.logger,
            self.resolved,
            job_type="train",
            append=state is not None,
        )
        progress = Progress(
            loop.total,
            desc=f"{cfg.algo.name} {self.env_id}",
            enabled=bool(cfg.train.progress),
            max_episodes=None if max_episodes is None else int(max_episodes),
        )
        if state is None:
            self._log_pretraining(logger)
            if self.selection is not None:  # the policy BC pretraining (or the initialization) left
                self.selection.add(0, self.payload(0, 0, 0))
        t0 = time.perf_counter() - elapsed0
        every = int(cfg.train.checkpoint_every)
        every_steps = int(cfg.train.checkpoint_every_steps or 0)
        self.started = True
        stop_reason = "budget"
        failed = True
        try:
            while loop.progress < loop.total:
                before = loop.progress
                try:
                    result = loop.step()
                except DivergenceError as exc:
                    where = "" if " at update " in str(exc) else f" at update {update + 1}"
                    raise DivergenceError(f"{exc}{where}; the last good checkpoint is kept") from exc
                update += 1
                step = loop.progress
                metrics: dict[str, Any] = dict(result.metrics)
                eps = result.episodes
                if eps is not None:
                    n_episodes += len(eps.returns)
                    for (_, env_i), ret, length in zip(eps.end_rows, eps.returns, eps.lengths, strict=True):
                        logger.log_episode(step, env_i, ret, length)
                    metrics["charts/episodic_return"] = float(np.mean(eps.returns)) if eps.returns else None
                    metrics["charts/episodic_length"] = float(np.mean(eps.lengths)) if eps.lengths else None
                    metrics["charts/episodes"] = n_episodes
                for tracker in self.trackers:
                    tracker.add(result.episode_scores.get(tracker.source, []))
                    if tracker.metric in loop.metric_names:
                        metrics[tracker.metric] = tracker.average
                if periodic.due(before, step):
                    with torch.random.fork_rng():  # building the policy's copy draws initial weights
                        policy = policy_from_checkpoint(self.payload(step, update, n_episodes))
                    metrics.update(periodic(policy))
                if self.selection is not None and self.selection.due(before, step):
                    metrics.update(self.selection.add(step, self.payload(step, update, n_episodes)))
                elapsed = time.perf_counter() - t0
                logger.log(step, update, metrics, {"charts/sps": step / elapsed, "time/elapsed_s": elapsed})
                for tracker in self.trackers:
                    if tracker.improved():
                        tracker.best, tracker.best_step = float(tracker.average), step  # type: ignore[arg-type]
                        save_checkpoint(run_dir / tracker.filename, self.payload(step, update, n_episodes))
                if update % int(cfg.train.save_every) == 0:
                    save_checkpoint(run_dir / "last.pt", self.payload(step, update, n_episodes))
                crossed = every_steps > 0 and step // every_steps > before // every_steps
                if (every > 0 and update % every == 0) or crossed:
                    self.save_state(step, update, n_episodes, time.perf_counter() - t0)
                head = self.trackers[0]
                progress.update(
                    step,
                    {f"{loop.unit}s/s": step / elapsed, head.metric.split("/")[-1]: head.average},
                    episodes=n_episodes,
                )
                if max_episodes is not None and eps is not None and n_episodes >= int(max_episodes):
                    stop_reason = "max_episodes"
                    break
                avg = head.average if head.source == "return" else None
                if (
                    target is not None
                    and avg is not None
                    and len(head.values) >= window
                    and avg >= float(target)
                ):
                    stop_reason = "target_return"
                    break
            step = loop.progress
            save_checkpoint(run_dir / "last.pt", self.payload(step, update, n_episodes))
            if self.selection is not None and not self.selection.has(step):  # the last policy, always
                self.selection.add(step, self.payload(step, update, n_episodes))
            if every > 0 or every_steps > 0:
                self.save_state(step, update, n_episodes, time.perf_counter() - t0)
            failed = False
        finally:
            progress.close()
            loop.close()
            if failed:
                logger.close(failed=True)
        summary = self.finish(step, update, n_episodes, time.perf_counter() - t0, stop_reason)
        logger.log_summary(summary)
        logger.close()
        return summary

    def _log_pretraining(self, logger: MetricLogger) -> None:
        history = self.loop.pretrain_history
        if history:
            last = history[-1]
            log.info(
                "BC pretraining: %d epochs, train acc %.3f, val acc %.3f",
                len(history),
                last["bc/train_acc"],
                last["bc/val_acc"],
            )
            keys = ("bc/train_loss", "bc/train_acc", "bc/val_loss", "bc/val_acc")
            rows = "epoch,train_loss,train_acc,val_loss,val_acc\n" + "".join(
                ",".join([str(i + 1), *(repr(h[k]) for k in keys)]) + "\n" for i, h in enumerate(history)
            )
            (self.run_dir / "bc_pretrain.csv").write_text(rows)

    def finish(self, step: int, update: int, episodes: int, wall: float, stop_reason: str) -> dict[str, Any]:
        """Evaluate the best checkpoints over the configured episodes and write summary.json."""
        cfg = self.cfg
        summary: dict[str, Any] = {
            "env_id": self.env_id,
            "algo": str(cfg.algo.name),
            "seed": int(cfg.seed),
            "progress_unit": self.loop.unit,
            "env_steps": step if self.loop.unit == "step" else 0,
            "epochs": step if self.loop.unit == "epoch" else None,
            "updates": update,
            "episodes": episodes,
            "wall_time_s": round(wall, 3),
            "stop_reason": stop_reason,
            "objective": self.trackers[0].metric,
        }
        for t in self.trackers:
            finite = math.isfinite(t.best)
            summary[f"best/{t.metric}"] = t.best if finite else None
            summary[f"best/{t.metric}/step"] = t.best_step
            summary[f"last/{t.metric}"] = t.average  # also with fewer episodes than min_episodes_for_best
        chosen = None
        if self.selection is not None:
            chosen = self.selection.finish(self.loop.discriminator_scorer())
        summary.update(final_evaluations(cfg, self.run_dir, self.trackers, chosen))
        atomic_write_bytes(self.run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
        return summary
