"""Read runs for a report: one run directory, a sweep, or several sweeps, grouped into configurations.

Jobs are found and labelled with `gailrun.run.sweep` (a configuration is a job's overrides minus its seed and
minus what every job shares), so a report and `summary.md` name configurations alike. Only successful jobs
contribute numbers; the others are kept to be listed, never silently dropped.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gailrun.config.resolvers import portable
from gailrun.errors import GailrunError
from gailrun.run.files import eval_json_path
from gailrun.run.sweep import Job, find_jobs

# Metric names of gailrun 0.1 runs written before a rename, read under their current names.
RENAMED = {"gail/irl_return": "gail/irl_score", "gail/avg100_irl_return": "gail/avg100_irl_score"}


@dataclass
class Run:
    """A successful job with what the report plots: its curves, config and evaluation returns."""

    job: Job
    label: str
    sweep: Path
    config: dict[str, Any]
    metrics: dict[str, np.ndarray]  # column -> values, one per update (global_step, update included)
    elapsed: np.ndarray  # time/elapsed_s at each metrics row (NaN where timing.csv lacks the step)
    eval_returns: list[float]

    @property
    def algo(self) -> str:
        return str((self.config.get("algo") or {}).get("name", "?"))

    @property
    def env_id(self) -> str:
        return str((self.config.get("env") or {}).get("id", "?"))

    @property
    def switches(self) -> dict[str, bool]:
        return {
            str(k): bool(v) for k, v in (self.config.get("ppo_opts") or {}).items() if isinstance(v, bool)
        }

    @property
    def score(self) -> float:
        """The run's final evaluation return: the mean over the evaluation episodes of its headline checkpoint
        (best.pt; best_rf.pt for GAIL and InfoGAIL)."""
        if self.job.final is not None:
            return float(self.job.final)
        return float(np.mean(self.eval_returns)) if self.eval_returns else math.nan

    def column(self, name: str) -> np.ndarray | None:
        values = self.metrics.get(name)
        if values is None or not np.isfinite(values).any():
            return None
        return values


@dataclass
class Study:
    """Everything a report reads: successful runs by configuration, and the jobs that did not succeed."""

    sources: list[Path]
    jobs: list[Job]
    runs: list[Run]
    not_ok: list[tuple[Job, str]]  # jobs that failed or did not finish, with their configuration label
    labels: list[str]  # configurations in the order their first job appears
    shared: list[str]  # overrides every job has (shown once in the header instead of in every label)
    by_label: dict[str, list[Run]] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return sorted({r.job.seed for r in self.runs if r.job.seed is not None})

    def only(self, keep: Callable[[Run], bool]) -> Study:
        """The same study restricted to some runs (say, the GAIL ones), configurations keeping their order."""
        runs = [r for r in self.runs if keep(r)]
        labels = [lb for lb in self.labels if any(r.label == lb for r in runs)]
        by_label = {lb: [r for r in runs if r.label == lb] for lb in labels}
        return Study(self.sources, self.jobs, runs, self.not_ok, labels, self.shared, by_label)


def read_csv_columns(path: Path) -> dict[str, np.ndarray]:
    """A metrics-style CSV as float columns; empty cells (a metric not logged at that update) are NaN."""
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    out = {}
    for i, name in enumerate(header):
        out[name] = np.asarray(
            [float(r[i]) if i < len(r) and r[i] != "" else math.nan for r in body], dtype=np.float64
        )
    return out


def join_elapsed(metrics: dict[str, np.ndarray], timing: dict[str, np.ndarray]) -> np.ndarray:
    """time/elapsed_s for each metrics row, matched on global_step (the last timing row wins)."""
    steps = metrics.get("global_step", np.empty(0))
    lookup = dict(zip(timing.get("global_step", []), timing.get("time/elapsed_s", []), strict=False))
    return np.asarray([lookup.get(s, math.nan) for s in steps], dtype=np.float64)


def read_eval_returns(path: Path, checkpoint: str = "best.pt") -> list[float]:
    eval_file = eval_json_path(path / checkpoint)
    if not eval_file.exists():
        return []
    return [float(x) for x in json.loads(eval_file.read_text()).get("returns", [])]


def read_config(path: Path) -> dict[str, Any]:
    config_file = path / "config.yaml"
    return (yaml.safe_load(config_file.read_text()) or {}) if config_file.exists() else {}


# Keys that steer a sweep or a run, not what is trained: a study run in parts (seeds 1-4, then seed 5) is
# one configuration.
NOT_CONFIGURATION = ("seed", "seeds", "resume")


def _fingerprint(config: dict[str, Any]) -> str:
    """The resolved config minus the seed and sweep bookkeeping, assets by their place in the package:
    equal fingerprints, same configuration."""
    kept = {k: portable(v) for k, v in config.items() if k not in NOT_CONFIGURATION}
    return json.dumps(kept, sort_keys=True, default=str)


def load_study(dirs: list[Path]) -> Study:
    """Find the jobs under every directory and group the successful ones by configuration.

    With several sweeps, a label that means different resolved configs in different sweeps (say, two
    sweeps over seeds only, both labelled "(defaults)") gets the sweep's directory name appended.
    """
    dirs = [Path(d) for d in dirs]
    pairs: list[tuple[Path, Job]] = []
    seen: set[Path] = set()
    for d in dirs:
        for job in find_jobs(d):
            key = job.path.resolve()
            if key not in seen:
                seen.add(key)
                pairs.append((d, job))
    jobs = [j for _, j in pairs]
    shared = set.intersection(*(set(j.overrides) for j in jobs))
    candidates: list[tuple[Path, Job, str, dict[str, Any]]] = []
    for d, job in pairs:
        candidates.append((d, job, job.config(shared), read_config(job.path)))
    prints: dict[str, set[str]] = {}
    for d, _job, label, config in candidates:
        if config:
            prints.setdefault(label, set()).add(f"{d}\0{_fingerprint(config)}")
    ambiguous = {
        label
        for label, keys in prints.items()
        if len({k.split("\0", 1)[1] for k in keys}) > 1 and len({k.split("\0", 1)[0] for k in keys}) > 1
    }
    runs: list[Run] = []
    not_ok: list[tuple[Job, str]] = []
    labels: list[str] = []
    for d, job, label, config in candidates:
        if label in ambiguous:
            label = f"{label} [{d.resolve().name}]"
        if job.status != "ok" or job.final is None:
            not_ok.append((job, label))
            continue
        metrics = read_csv_columns(job.path / "metrics.csv")
        metrics = {RENAMED.get(k, k): v for k, v in metrics.items()}
        elapsed = join_elapsed(metrics, read_csv_columns(job.path / "timing.csv"))
        runs.append(Run(job, label, d, config, metrics, elapsed, read_eval_returns(job.path, job.headline)))
        if label not in labels:
            labels.append(label)
    by_label = {label: [r for r in runs if r.label == label] for label in labels}
    return Study(dirs, jobs, runs, not_ok, labels, sorted(shared), by_label)


def require_dirs(dirs: list[Path]) -> None:
    missing = [str(d) for d in dirs if not Path(d).is_dir()]
    if missing:
        raise GailrunError(f"not a directory: {', '.join(missing)}; pass run or sweep directories")
