"""The training pipeline shared by every algorithm.

`Trainer.run` owns what is algorithm-agnostic: seeding, the policy, logging, progress, best/last
checkpoints, stop conditions and the final evaluation. Each iteration is delegated to an `Algorithm`
(`run/algorithm.py`, the interface the trainer drives), built by `run/loops.py`: on-policy (PPO, and GAIL as
PPO plus a reward hook) or behaviour cloning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from gailrun.envs.make import EnvInfo, env_info
from gailrun.errors import CheckpointError, DivergenceError, GailrunError
from gailrun.models.networks import ActorCritic
from gailrun.models.policy import load_policy, policy_from_checkpoint, policy_payload, tensors_to_numpy
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.run.algorithm import Algorithm
from gailrun.run.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from gailrun.run.evaluate import EvalResult, PeriodicEval, eval_json_path, evaluate
from gailrun.run.loggers import MetricLogger
from gailrun.run.loops import OnPolicyLoop, build_loop, n_codes_of
from gailrun.run.progress import Progress
from gailrun.run.rng import global_states, set_global_states
from gailrun.run.seeding import seed_everything
from gailrun.run.selection import HEADLINE, SELECT_METRICS, RewardFreeSelection, build_selection

log = logging.getLogger("gailrun")


def build_agent(cfg: DictConfig, info: EnvInfo) -> tuple[ActorCritic, ObsNormalizer]:
    agent = ActorCritic(
        info.obs_dim + n_codes_of(cfg),
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
    info.check_fits(
        f"init_from={path} is for",
        src.env_id,
        src.agent.obs_dim,
        range(src.agent.n_actions),
        fix="pick a checkpoint of this env",
        error=CheckpointError,
    )
    try:
        agent.actor.load_state_dict(src.agent.actor.state_dict())
        agent.critic.load_state_dict(src.agent.critic.state_dict())
    except RuntimeError as exc:
        raise CheckpointError(
            f"init_from={path} has different network sizes; "
            f"set algo.hidden to {src.checkpoint['network']['hidden']}"
        ) from exc
    if obs_norm.enabled and not src.obs_norm.enabled:
        raise CheckpointError(
            f"init_from={path} was trained on raw observations but this run normalizes them "
            "(ppo_opts.obs_norm=true): the policy would see inputs it never saw; set ppo_opts.obs_norm=false"
        )
    if src.obs_norm.enabled:
        obs_norm.enabled = True
        obs_norm.rms.load_state_dict(src.obs_norm.rms.state_dict())


STATE_DIR = "checkpoints"
# Keys that may differ between a run and its resumption.
RESUME_FREE_KEYS = ("resume",)


def config_hash(resolved: dict[str, Any]) -> str:
    body = {k: v for k, v in resolved.items() if k not in RESUME_FREE_KEYS}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def state_files(run_dir: Path) -> list[Path]:
    """Full-state checkpoints of a run directory, newest first."""
    return sorted((run_dir / STATE_DIR).glob("state-*.pt"), reverse=True)


def network_cfg(cfg: DictConfig) -> dict:
    return {"hidden": [int(h) for h in cfg.algo.hidden], "activation": str(cfg.algo.activation)}


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

    def resume_candidates(self) -> list[Path]:
        resume = self.cfg.get("resume")
        if resume in (None, "", False):
            return []
        if str(resume) == "auto":
            return state_files(self.run_dir)
        path = Path(str(resume))
        if path.is_dir():
            files = state_files(path)
            if not files:
                raise CheckpointError(f"resume={path}: no full-state checkpoints in {path / STATE_DIR}")
            return files
        return [path]

    def load_resume_state(self) -> dict[str, Any] | None:
        """The newest full-state checkpoint that validates (resume=auto skips corrupt ones)."""
        for path in self.resume_candidates():
            try:
                state = load_checkpoint(path)
            except CheckpointError as exc:
                if str(self.cfg.resume) != "auto":
                    raise
                log.warning("skipping %s: %s", path.name, exc)
                continue
            if state.get("kind") != "full-state":
                raise CheckpointError(
                    f"{path} is not a full-state checkpoint (checkpoints/state-*.pt); pass one"
                )
            if state["config_hash"] != config_hash(self.resolved):
                raise CheckpointError(
                    f"{path} was written by a run with a different config; resume with the same overrides, "
                    "or pass resume=null or another hydra.run.dir to start a new run"
                )
            log.info("resuming from %s (update %d)", path, state["counters"]["update"])
            return state
        return None

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
        state = self.load_resume_state()
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(self.resolved))
        max_episodes = cfg.train.get("max_episodes")
        target = cfg.train.get("target_return")
        window = int(cfg.train.avg_window)
        update = n_episodes = 0
        elapsed0 = 0.0
        if state is not None:
            self.restore(state)
            c = state["counters"]
            update, n_episodes, elapsed0 = int(c["update"]), int(c["episodes"]), float(c["elapsed"])
            truncate_logs(run_dir, update, int(c["step"]))
        periodic = PeriodicEval(
            cfg.train.get("eval_every_steps"), int(cfg.train.eval_episodes), int(cfg.train.eval_seed)
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
        every_steps = int(cfg.train.get("checkpoint_every_steps") or 0)
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
        n_eval = int(cfg.final_eval.episodes)
        evaluated: dict[str, dict[str, Any]] = {}
        if n_eval > 0:
            # An imitation learner's headline is the reward-free choice; best.pt (true return) is an oracle.
            names = [t.filename for t in self.trackers]
            if chosen is not None:
                names = [HEADLINE, *names, "last.pt"]
            for name in names:
                target = self.run_dir / name
                if not target.exists():
                    continue
                result = self.evaluate_checkpoint(target, n_eval)
                evaluated[name] = {
                    "checkpoint": name,
                    "selected_by": self.selected_by(name),
                    **result.summary(),
                }
                log.info("final evaluation of %s: %s", name, result.line())
            if not evaluated:
                result = self.evaluate_checkpoint(self.run_dir / "last.pt", n_eval)
                evaluated["last.pt"] = {"checkpoint": "last.pt", **result.summary()}
            summary["final_eval"] = next(iter(evaluated.values()))
            if len(evaluated) > 1:
                summary["evaluations"] = evaluated
                if {"best.pt", "best_irl.pt"} <= set(evaluated):
                    by_file = {tracker.filename: tracker for tracker in self.trackers}
                    by_true, by_irl = evaluated["best.pt"], evaluated["best_irl.pt"]
                    summary["best_vs_best_irl"] = {
                        "eval_mean_gap": by_true["mean"] - by_irl["mean"],
                        "step_gap": (by_file["best.pt"].best_step or 0)
                        - (by_file["best_irl.pt"].best_step or 0),
                    }
        if chosen is not None:
            summary["selection"] = self.selection_summary(chosen, evaluated, n_eval)
        atomic_write_bytes(self.run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
        return summary

    def selected_by(self, name: str) -> str:
        """What chose the checkpoint; the true return, in an imitation run, labelled as an oracle."""
        if name == HEADLINE:
            return f"reward-free: {self.cfg.select.criterion}"
        by_metric = {
            "charts/avg100_return": "true return",
            "gail/avg100_irl_score": "discriminator return (reward-free)",
            "bc/val_loss": "validation loss",
            "bc/epoch": "last epoch",
        }
        metric = next((t.metric for t in self.trackers if t.filename == name), None)
        if metric is None:
            return "last" if name == "last.pt" else name
        label = by_metric.get(metric, metric)
        imitation = str(self.cfg.algo.name) in ("gail", "infogail")
        return f"{label} (oracle)" if label == "true return" and imitation else label

    def selection_summary(
        self, chosen: dict[str, Any], evaluated: dict[str, dict[str, Any]], episodes: int
    ) -> dict[str, Any]:
        """The headline's criterion and step; with final evaluations (`evaluated`), its gaps to the oracle
        (best.pt) and to last.pt, and every criterion's choice evaluated over the same episodes (to compare
        the criteria)."""
        out: dict[str, Any] = {
            "criterion": chosen["criterion"],
            "reference": chosen["reference"],
            "step": chosen["chosen"][chosen["criterion"]]["step"],
        }
        if HEADLINE not in evaluated:
            out["by_criterion"] = {
                c: {"step": p["step"], "value": p["value"]} for c, p in chosen["chosen"].items()
            }
            return out
        head = evaluated[HEADLINE]
        out["headline_mean"] = head["mean"]
        for name, key in (("best.pt", "oracle"), ("last.pt", "last")):
            if name in evaluated:
                out[f"{key}_mean"] = evaluated[name]["mean"]
                out[f"{key}_gap"] = evaluated[name]["mean"] - head["mean"]
        by_step: dict[int, dict[str, Any]] = {out["step"]: head}
        by_criterion: dict[str, dict[str, Any]] = {}
        for criterion, pick in chosen["chosen"].items():
            if pick["step"] not in by_step:
                by_step[pick["step"]] = self.evaluate_checkpoint(
                    self.run_dir / pick["checkpoint"], episodes
                ).summary()
            e = by_step[pick["step"]]
            by_criterion[criterion] = {
                "step": pick["step"],
                "value": pick["value"],
                "mean": e["mean"],
                "std": e["std"],
            }
        out["by_criterion"] = by_criterion
        return out

    def evaluate_checkpoint(self, path: Path, episodes: int) -> EvalResult:
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


def truncate_logs(run_dir: Path, update: int, step: int) -> None:
    """Drop CSV rows written after the checkpoint being resumed (and a torn last line), so the resumed run
    appends exactly what the uninterrupted run would have written."""
    for name, column, limit in (
        ("metrics.csv", 1, update),
        ("timing.csv", 1, update),
        ("episodes.csv", 0, step),
    ):
        path = run_dir / name
        if not path.exists():
            continue
        lines = path.read_text().replace("\r\n", "\n").split("\n")
        keep = [lines[0]]
        for line in lines[1:]:
            fields = line.split(",")
            if len(fields) > column and fields[column].isdigit() and int(fields[column]) <= limit:
                keep.append(line)
        path.write_text("\n".join(keep) + "\n")
