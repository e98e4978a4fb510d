"""Resuming a run: where its full-state checkpoints live, which one to continue from, and the logs cut back
to that point, so the resumed run writes exactly what the uninterrupted one would have."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gailrun.config.resolvers import portable
from gailrun.errors import CheckpointError
from gailrun.run.checkpoint import load_checkpoint

log = logging.getLogger("gailrun")

STATE_DIR = "checkpoints"
# Keys that may differ between a run and its resumption.
RESUME_FREE_KEYS = ("resume",)


def config_hash(resolved: dict[str, Any], *, legacy: bool = False) -> str:
    """What a full-state checkpoint must share with the run resuming it. Bundled assets count by their place
    in the package, so a run resumes from another checkout or cluster node; `legacy` is the hash of
    checkpoints written before that (absolute asset paths), still accepted."""
    body = {k: v for k, v in resolved.items() if k not in RESUME_FREE_KEYS}
    if not legacy:
        body = portable(body)
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def state_files(run_dir: Path) -> list[Path]:
    """Full-state checkpoints of a run directory, newest first."""
    return sorted((run_dir / STATE_DIR).glob("state-*.pt"), reverse=True)


def resume_candidates(cfg: DictConfig, run_dir: Path) -> list[Path]:
    """The full-state checkpoints `resume` names, newest first."""
    resume = cfg.resume
    if resume in (None, "", False):
        return []
    if str(resume) == "auto":
        return state_files(run_dir)
    path = Path(str(resume))
    if path.is_dir():
        files = state_files(path)
        if not files:
            raise CheckpointError(f"resume={path}: no full-state checkpoints in {path / STATE_DIR}")
        return files
    return [path]


def load_resume_state(cfg: DictConfig, resolved: dict[str, Any], run_dir: Path) -> dict[str, Any] | None:
    """The newest full-state checkpoint that validates (resume=auto skips corrupt ones)."""
    for path in resume_candidates(cfg, run_dir):
        try:
            state = load_checkpoint(path)
        except CheckpointError as exc:
            if str(cfg.resume) != "auto":
                raise
            log.warning("skipping %s: %s", path.name, exc)
            continue
        if state.get("kind") != "full-state":
            raise CheckpointError(f"{path} is not a full-state checkpoint (checkpoints/state-*.pt); pass one")
        if state["config_hash"] not in (config_hash(resolved), config_hash(resolved, legacy=True)):
            raise CheckpointError(
                f"{path} was written by a run with a different config; resume with the same overrides, "
                "or pass resume=null or another hydra.run.dir to start a new run"
            )
        log.info("resuming from %s (update %d)", path, state["counters"]["update"])
        return state
    return None


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
