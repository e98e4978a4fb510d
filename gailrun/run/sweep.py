"""The jobs of a sweep: one directory per job, each with `.hydra/overrides.yaml`, `status.json` and, when
the job succeeded, `summary.json`; a job's configuration is its overrides minus its seed. `SweepMonitor`
prints a multirun's progress. Summaries over seeds: `gailrun.run.sweep_summary`.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gailrun.errors import GailrunError

IGNORED_PREFIXES = ("seed=", "hydra.", "hydra/", "seeds=", "budget=", "experiment=")


@dataclass
class Job:
    path: Path
    overrides: list[str]
    status: str
    seed: int | None
    error: str | None = None
    final: float | None = None  # final evaluation mean of the headline checkpoint
    headline: str = "best.pt"  # PPO: best.pt (true return); GAIL, InfoGAIL: best_rf.pt (reward-free)
    final_oracle: float | None = None  # GAIL, InfoGAIL: final evaluation mean of best.pt, the oracle
    final_irl: float | None = None  # GAIL: final evaluation mean of best_irl.pt
    objective: float | None = None  # what the job returned to the sweeper
    evals: dict[str, dict] = field(default_factory=dict)  # checkpoint name -> its final evaluation
    run: dict[str, Any] = field(default_factory=dict)  # env_id, env_steps, wall_time_s of summary.json

    def config(self, common: set[str]) -> str:
        """The overrides that tell this configuration apart: not the seed, not what every job shares."""
        keep = [o for o in self.overrides if not o.startswith(IGNORED_PREFIXES) and o not in common]
        return " ".join(sorted(keep)) or "(defaults)"


def read_job(path: Path) -> Job:
    overrides = yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []
    status_file = path / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else {"status": "unknown"}
    seed = next((int(o.split("=", 1)[1]) for o in overrides if o.startswith("seed=")), None)
    job = Job(path, [str(o) for o in overrides], str(status.get("status")), seed, status.get("error"))
    job.objective = status.get("metric")
    summary_file = path / "summary.json"
    if job.status == "ok" and summary_file.exists():
        summary = json.loads(summary_file.read_text())
        evals = summary.get("evaluations") or {}
        job.final = (summary.get("final_eval") or {}).get("mean")
        job.headline = str((summary.get("final_eval") or {}).get("checkpoint") or "best.pt")
        if job.headline != "best.pt":
            job.final_oracle = (evals.get("best.pt") or {}).get("mean")
        job.final_irl = (evals.get("best_irl.pt") or {}).get("mean")
        job.evals = {k: v for k, v in evals.items() if isinstance(v, dict)} or (
            {"best.pt": summary["final_eval"]} if summary.get("final_eval") else {}
        )
        job.run = {k: summary.get(k) for k in ("env_id", "env_steps", "epochs", "wall_time_s")}
        if job.seed is None:
            job.seed = summary.get("seed")
    return job


def record_lost_job(
    job_dir: Path, overrides: list[str], reason: str, since: float | None = None, kind: str = "lost"
) -> None:
    """Record a job that ended without reporting (cancelled, its node lost, killed before it started) as
    failed, so the summary names it and why (`kind: reason`). A status.json the job wrote itself during this
    launch (at or after `since`, a time.time()) is kept: it knows better; an older one is a previous run's."""
    job_dir = Path(job_dir)
    hydra_dir = job_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    if not (hydra_dir / "overrides.yaml").exists():  # never started: the summary finds jobs by this file
        (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    status_file = job_dir / "status.json"
    if status_file.exists() and (since is None or status_file.stat().st_mtime >= since):
        try:
            if json.loads(status_file.read_text()).get("status") in ("ok", "failed"):
                return
        except (json.JSONDecodeError, OSError):
            pass
    body = {"status": "failed", "metric": None, "error": f"{kind}: {reason}", "error_type": "LostJob"}
    status_file.write_text(json.dumps(body, indent=2) + "\n")


def find_jobs(sweep_dir: Path) -> list[Job]:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise GailrunError(f"{sweep_dir} is not a directory; pass the sweep directory of a multirun")
    dirs = sorted({p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")}, key=_job_order)
    if not dirs:
        raise GailrunError(
            f"no jobs under {sweep_dir} (no */.hydra/overrides.yaml); is it a multirun directory?"
        )
    return [read_job(d) for d in dirs]


def _job_order(path: Path) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in path.parts)


def progress_counts(sweep_dir: Path) -> tuple[int, int, int]:
    """(done, failed, running) jobs: a job directory exists once it starts, status.json once it ends."""
    done = failed = running = 0
    for hydra_dir in Path(sweep_dir).glob("**/.hydra"):
        status_file = hydra_dir.parent / "status.json"
        if not status_file.exists():
            running += 1
            continue
        try:
            ok = json.loads(status_file.read_text()).get("status") == "ok"
        except (json.JSONDecodeError, OSError):
            ok = False
        done += 1
        failed += int(not ok)
    return done, failed, running


class SweepMonitor(threading.Thread):
    """Prints a line whenever the sweep's counts change: jobs done, failed and running."""

    def __init__(self, sweep_dir: Path, interval_s: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.sweep_dir, self.interval_s = Path(sweep_dir), interval_s
        self.stopped = threading.Event()
        self.last: tuple[int, int, int] | None = None

    def report(self) -> None:
        counts = progress_counts(self.sweep_dir) if self.sweep_dir.exists() else (0, 0, 0)
        if counts != self.last and any(counts):
            self.last = counts
            done, failed, running = counts
            print(
                f"sweep progress: {done} done ({failed} failed), {running} running",
                file=sys.stderr,
                flush=True,
            )

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            self.report()

    def stop(self) -> None:
        self.stopped.set()
