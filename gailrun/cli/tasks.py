"""Hydra task functions: each builds objects from the composed config, runs them, and reports status.

They run inside `hydra.main`, one call per job of a (multi)run. A `GailrunError` becomes a one-line message
on stderr and exit code 1; every job leaves `status.json` (ok or failed, metric, error) in its directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from gailrun.errors import GailrunError, error_line, report_error
from gailrun.run.loggers import log_job

log = logging.getLogger("gailrun")


def output_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


def write_status(
    run_dir: Path, status: str, metric: float | None = None, error: str | None = None, **extra: Any
) -> None:
    from gailrun.run.checkpoint import atomic_write_bytes  # imports torch, which `show-config` never needs

    body = {"status": status, "metric": metric, "error": error, **extra}
    with contextlib.suppress(GailrunError):  # an unwritable run dir is already being reported
        atomic_write_bytes(run_dir / "status.json", (json.dumps(body, indent=2) + "\n").encode())


class JobFailed(Exception):
    """A multirun job failed: raised (not sys.exit) so the launcher records it and runs the other jobs."""


def is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


RESULTS = ("metrics.csv", "last.pt", "best.pt", "checkpoints", "summary.json")


def fail(run_dir: Path | None, exc: BaseException, started: bool = True) -> NoReturn:
    """Report a failed job in one line; exit 1 in a single run, raise `JobFailed` inside a multirun.

    A single run refused before it started (bad input) touches nothing: it removes the directory Hydra
    made for it if that holds no earlier results, and otherwise leaves the earlier run as it was. A sweep
    keeps every job's directory, with status.json, as the record of the failed job.
    """
    if isinstance(exc, KeyboardInterrupt):
        exc = GailrunError("interrupted")
    msg = error_line(exc)
    if run_dir is not None and (started or is_multirun()):
        write_status(run_dir, "failed", error=msg, error_type=type(exc).__name__)
    elif run_dir is not None and not any((run_dir / r).exists() for r in RESULTS):
        shutil.rmtree(run_dir, ignore_errors=True)
    if not isinstance(exc, GailrunError):
        log.error("".join(traceback.format_exception(exc)))
    report_error(exc)
    if is_multirun():
        raise JobFailed(msg) from exc
    sys.exit(1)


def train_task(cfg: DictConfig) -> float:
    from gailrun.run.trainer import Trainer

    run_dir = output_dir()
    trainer = Trainer(cfg, run_dir)
    try:
        summary = trainer.run()
    except (Exception, KeyboardInterrupt) as exc:  # every failure is recorded in status.json, then reported
        fail(run_dir, exc, trainer.started)
    metric = summary.get(f"best/{summary['objective']}")
    if metric is None:  # too few episodes for a best checkpoint: the average of those there are
        metric = summary.get(f"last/{summary['objective']}")
    if (metric is None or not math.isfinite(metric)) and is_multirun():
        # A sweeper must never receive NaN (it aborts an Optuna study): a job without a score has failed.
        fail(run_dir, GailrunError(f"the run produced no finite {summary['objective']}; give it more budget"))
    write_status(run_dir, "ok", metric=metric, summary="summary.json")
    print(f"run directory: {run_dir}")
    if "final_eval" in summary:
        fe = summary["final_eval"]
        print(
            f"final evaluation ({fe['checkpoint']}): {fe['mean']:.1f} +- {fe['std']:.1f} over "
            f"{fe['episodes']} episodes, seed {fe['seed']}"
            + (f" ({fe['selected_by']})" if fe.get("selected_by") else "")
        )
        oracle = (summary.get("evaluations") or {}).get("best.pt")
        if fe.get("checkpoint") != "best.pt" and oracle:
            print(
                f"oracle (best.pt, chosen by the true return): {oracle['mean']:.1f} +- {oracle['std']:.1f}; "
                f"gap to the headline {oracle['mean'] - fe['mean']:+.1f}"
            )
    return float(metric) if metric is not None else float("nan")


def eval_task(cfg: DictConfig) -> float:
    from gailrun.models.policy import load_policy
    from gailrun.run.evaluate import eval_json_path, evaluate

    try:
        if cfg.ckpt is None:
            raise GailrunError("no checkpoint given; pass ckpt=PATH (a best.pt or last.pt of a run)")
        ckpt = Path(str(cfg.ckpt))
        policy = load_policy(ckpt, trusted=bool(cfg.trust_checkpoint))
        result = evaluate(
            policy,
            episodes=int(cfg.episodes),
            seed=int(cfg.seed),
            deterministic=not bool(cfg.stochastic),
            num_envs=int(cfg.num_envs),
            env_id=cfg.get("env_id"),
            max_episode_steps=cfg.get("max_episode_steps"),
            code=cfg.get("code"),
        )
        out_dir = eval_dir(ckpt, cfg.get("out_dir"))
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / eval_json_path(ckpt).name
        result.write_json(out, {"checkpoint": str(ckpt)})
        print(result.line())
        media = record_eval_video(cfg, policy, ckpt, out_dir) if cfg.video else {}
        config = {"eval": OmegaConf.to_container(cfg, resolve=True), "train": policy.checkpoint.get("config")}
        summary = {f"eval/{k}": v for k, v in result.summary().items()}
        log_job(cfg.logger, out_dir, config, "eval", summary, media)
    except (GailrunError, KeyboardInterrupt) as exc:
        fail(None, exc)
    print(f"wrote {out}")
    return result.mean


def eval_dir(ckpt: Path, out_dir: str | None) -> Path:
    """Where `gailrun eval` writes: `out_dir`, else beside the checkpoint, except for gailrun's bundled
    checkpoints, whose folder is the installed package's (read-only, or shared by every user), not a run's."""
    from gailrun.config.resolvers import ASSETS

    if out_dir:
        return Path(out_dir)
    if ckpt.resolve().is_relative_to(ASSETS):
        return Path("outputs") / "eval" / ckpt.stem
    return ckpt.parent


def record_eval_video(cfg: DictConfig, policy: Any, ckpt: Path, out_dir: Path) -> dict[str, Path]:
    """eval.mp4 of the first `video_episodes` evaluation episodes and a GIF of the best, beside eval.json."""
    from gailrun.run.evaluate import eval_json_path
    from gailrun.run.video import record_video

    video = record_video(
        policy,
        episodes=min(int(cfg.video_episodes), int(cfg.episodes)),
        seed=int(cfg.seed),
        deterministic=not bool(cfg.stochastic),
        out_dir=out_dir,
        stem=eval_json_path(ckpt).stem,
        num_envs=int(cfg.num_envs),
        env_id=cfg.get("env_id"),
        max_episode_steps=cfg.get("max_episode_steps"),
    )
    best = video.best_episode
    print(f"wrote {video.mp4} and {video.gif} (best episode {best + 1}, return {video.returns[best]:.1f})")
    return {"eval/video": video.mp4, "eval/best_episode": video.gif}


def _number(cfg: DictConfig, key: str, kind: type) -> Any:
    """cfg[key] as `kind`, or a one-line error naming the key (collect-expert's config has no schema)."""
    try:
        return kind(cfg[key])
    except (TypeError, ValueError):
        raise GailrunError(f"{key}={cfg[key]!r} is not a number; pass e.g. {key}=0.3") from None


def collect_expert_task(cfg: DictConfig) -> None:
    from gailrun.data.collect import collect_expert

    try:
        if cfg.ckpt is None:
            raise GailrunError("no checkpoint given; pass ckpt=PATH of a trained policy")
        ds = collect_expert(
            Path(str(cfg.ckpt)),
            episodes=int(cfg.episodes),
            out=Path(str(cfg.out)) if cfg.out else None,
            min_score=None if cfg.min_score is None else float(cfg.min_score),
            seed=int(cfg.seed),
            deterministic=not bool(cfg.stochastic),
            dataset_id=cfg.dataset_id,
            overwrite=bool(cfg.overwrite),
            trusted=bool(cfg.trust_checkpoint),
            label=None if cfg.get("label") is None else str(cfg.label),
            epsilon=_number(cfg, "epsilon", float),
            max_episode_steps=None
            if cfg.max_episode_steps is None
            else _number(cfg, "max_episode_steps", int),
        )
        summary = {f"data/{k}": v for k, v in ds.card.items() if isinstance(v, int | float | str)}
        log_job(cfg.logger, Path(str(ds.path)), OmegaConf.to_container(cfg, resolve=True), "collect", summary)
    except (GailrunError, KeyboardInterrupt) as exc:
        fail(None, exc)
    card = ds.card
    kept = card["returns_kept"]
    print(
        f"kept {card['episodes_kept']} of {card['episodes_played']} episodes of {ds.env_id} "
        f"(min_score {card['min_score']}): return {kept['mean']:.1f} +- {kept['std']:.1f}, "
        f"{ds.total_steps} steps"
    )
    print(f"wrote {ds.path}")
