"""The end of a run: its best checkpoints (and an imitation run's reward-free headline) evaluated over
`final_eval.episodes`, with what chose each, for summary.json."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gailrun.models.policy import policy_from_checkpoint
from gailrun.run.algorithm import Tracker
from gailrun.run.checkpoint import load_checkpoint
from gailrun.run.evaluate import EvalResult, eval_json_path, evaluate
from gailrun.run.selection import HEADLINE

log = logging.getLogger("gailrun")


def final_evaluations(
    cfg: DictConfig, run_dir: Path, trackers: list[Tracker], chosen: dict[str, Any] | None
) -> dict[str, Any]:
    """summary.json's evaluation entries: `final_eval` (the headline), `evaluations` (every checkpoint),
    `best_vs_best_irl` and, after reward-free selection (`chosen`), `selection`."""
    out: dict[str, Any] = {}
    n_eval = int(cfg.final_eval.episodes)
    evaluated: dict[str, dict[str, Any]] = {}
    if n_eval > 0:
        # An imitation learner's headline is the reward-free choice; best.pt (true return) is an oracle.
        # last.pt always: best.pt is chosen by a noisy training average, and the gap shows that optimism.
        names = [t.filename for t in trackers]
        if chosen is not None:
            names = [HEADLINE, *names]
        if "last.pt" not in names:
            names.append("last.pt")
        for name in names:
            target = run_dir / name
            if not target.exists():
                continue
            result = evaluate_checkpoint(cfg, target, n_eval)
            evaluated[name] = {
                "checkpoint": name,
                "selected_by": selected_by(cfg, trackers, name),
                **result.summary(),
            }
            log.info("final evaluation of %s: %s", name, result.line())
        if not evaluated:
            result = evaluate_checkpoint(cfg, run_dir / "last.pt", n_eval)
            evaluated["last.pt"] = {"checkpoint": "last.pt", **result.summary()}
        out["final_eval"] = next(iter(evaluated.values()))
        if len(evaluated) > 1:
            out["evaluations"] = evaluated
            if {"best.pt", "best_irl.pt"} <= set(evaluated):
                by_file = {tracker.filename: tracker for tracker in trackers}
                by_true, by_irl = evaluated["best.pt"], evaluated["best_irl.pt"]
                out["best_vs_best_irl"] = {
                    "eval_mean_gap": by_true["mean"] - by_irl["mean"],
                    "step_gap": (by_file["best.pt"].best_step or 0) - (by_file["best_irl.pt"].best_step or 0),
                }
    if chosen is not None:
        out["selection"] = selection_summary(cfg, run_dir, chosen, evaluated, n_eval)
    return out


def selected_by(cfg: DictConfig, trackers: list[Tracker], name: str) -> str:
    """What chose the checkpoint; the true return, in an imitation run, labelled as an oracle."""
    if name == HEADLINE:
        return f"reward-free: {cfg.select.criterion}"
    by_metric = {
        "charts/avg100_return": "true return",
        "gail/avg100_irl_score": "discriminator return (reward-free)",
        "bc/val_loss": "validation loss",
        "bc/epoch": "last epoch",
    }
    metric = next((t.metric for t in trackers if t.filename == name), None)
    if metric is None:
        return "last" if name == "last.pt" else name
    label = by_metric.get(metric, metric)
    imitation = str(cfg.algo.name) in ("gail", "infogail")
    return f"{label} (oracle)" if label == "true return" and imitation else label


def selection_summary(
    cfg: DictConfig,
    run_dir: Path,
    chosen: dict[str, Any],
    evaluated: dict[str, dict[str, Any]],
    episodes: int,
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
            by_step[pick["step"]] = evaluate_checkpoint(cfg, run_dir / pick["checkpoint"], episodes).summary()
        e = by_step[pick["step"]]
        by_criterion[criterion] = {
            "step": pick["step"],
            "value": pick["value"],
            "mean": e["mean"],
            "std": e["std"],
        }
    out["by_criterion"] = by_criterion
    return out


def evaluate_checkpoint(cfg: DictConfig, path: Path, episodes: int) -> EvalResult:
    """`path` evaluated as `final_eval` says; eval*.json beside it."""
    policy = policy_from_checkpoint(load_checkpoint(path), source=str(path))
    result = evaluate(
        policy,
        episodes=episodes,
        seed=int(cfg.final_eval.seed),
        deterministic=not bool(cfg.final_eval.stochastic),
        num_envs=int(cfg.final_eval.num_envs),
    )
    result.write_json(eval_json_path(path), {"checkpoint": str(path)})
    return result
