"""Metric sinks: CSV (always), TensorBoard and Weights & Biases (optional), with the same metric names.

`metrics.csv` holds only quantities that are a function of the config and seed, so two runs with the same
seed produce byte-identical files; wall-clock quantities (`charts/sps`, `time/elapsed_s`) go to
`timing.csv` and to the other backends. `episodes.csv` has one row per finished training episode.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from netrc import NetrcParseError, netrc
from pathlib import Path
from typing import Any

from gailrun.errors import GailrunError

BASE_METRICS: tuple[str, ...] = (
    "charts/episodic_return",
    "charts/episodic_length",
    "charts/avg100_return",
    "charts/episodes",
    "charts/learning_rate",
    "charts/reward_scale",
)
TIMING_METRICS: tuple[str, ...] = ("charts/sps", "time/elapsed_s")


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return str(v)


class CSVSink:
    def __init__(self, run_dir: Path, columns: Sequence[str], append: bool = False) -> None:
        self.columns = list(columns)
        mode = "a" if append else "w"
        self._files = []
        self.metrics = self._open(run_dir / "metrics.csv", ["global_step", "update", *self.columns], mode)
        self.timing = self._open(run_dir / "timing.csv", ["global_step", "update", *TIMING_METRICS], mode)
        self.episodes = self._open(run_dir / "episodes.csv", ["global_step", "env", "return", "length"], mode)

    def _open(self, path: Path, header: list[str], mode: str) -> Any:
        exists = path.exists() and mode == "a"
        f = open(path, mode, newline="")  # noqa: SIM115 - closed in close()
        self._files.append(f)
        w = csv.writer(f, lineterminator="\n")
        if not exists:
            w.writerow(header)
        return w

    def log(self, step: int, update: int, metrics: Mapping[str, Any], timing: Mapping[str, Any]) -> None:
        unknown = set(metrics) - set(self.columns)
        if unknown:
            raise KeyError(f"metrics not declared for metrics.csv: {sorted(unknown)}")
        self.metrics.writerow([step, update, *(_fmt(metrics.get(c)) for c in self.columns)])
        self.timing.writerow([step, update, *(_fmt(timing.get(c)) for c in TIMING_METRICS)])
        for f in self._files:
            f.flush()

    def log_episode(self, step: int, env: int, ret: float, length: int) -> None:
        self.episodes.writerow([step, env, _fmt(float(ret)), length])

    def close(self) -> None:
        for f in self._files:
            f.close()


def wandb_mode(requested: str) -> str:
    """Decide W&B's mode before `wandb.init`: offline unless an API key is configured.

    No machine here reaches the W&B servers, and nothing may wait on the network.
    """
    if requested != "auto":
        return requested
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode:
        return env_mode
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        rc = netrc(os.environ.get("NETRC", os.path.expanduser("~/.netrc")))
        if rc.authenticators("api.wandb.ai"):
            return "online"
    except (FileNotFoundError, NetrcParseError, OSError):
        pass
    return "offline"


def run_identity() -> dict[str, str | None]:
    """Default W&B group and name of the current Hydra job: the sweep's directory name groups the jobs of a
    multirun; the overrides (minus hydra.*) name the run, e.g. `algo=gail,disc=same,seed=2`."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return {"group": None, "name": None}
    overrides = [o for o in hc.overrides.task if not o.startswith("hydra.")]
    group = Path(hc.sweep.dir).name if hc.mode == RunMode.MULTIRUN else None
    return {"group": group, "name": ",".join(overrides) or Path(hc.runtime.output_dir).name}


class WandbSink:
    def __init__(self, run_dir: Path, cfg: Mapping[str, Any], config: dict, job_type: str) -> None:
        import wandb

        identity = run_identity()
        cfg = {
            **cfg,
            "group": cfg.get("group") or identity["group"],
            "name": cfg.get("name") or identity["name"],
        }
        mode = wandb_mode(str(cfg["mode"]))
        for var in ("WANDB_MODE", "WANDB_API_KEY"):  # wandb rejects empty values of its own variables
            if os.environ.get(var) == "":
                del os.environ[var]
        try:
            self.run = self._init(wandb, run_dir, cfg, config, job_type, mode)
        except Exception as exc:
            raise GailrunError(
                f"could not start W&B in {mode} mode ({str(exc).splitlines()[0][:160]}); "
                "check WANDB_MODE / WANDB_API_KEY or use logger=csv"
            ) from exc
        self.mode = mode

    @staticmethod
    def _init(
        wandb: Any, run_dir: Path, cfg: Mapping[str, Any], config: dict, job_type: str, mode: str
    ) -> Any:
        return wandb.init(
            project=cfg["project"],
            entity=cfg["entity"],
            group=cfg["group"],
            name=cfg["name"],
            tags=list(cfg["tags"]),
            job_type=job_type,
            config=config,
            dir=str(run_dir),
            mode=mode,
            reinit="finish_previous",
        )

    def log(self, step: int, update: int, metrics: Mapping[str, Any], timing: Mapping[str, Any]) -> None:
        data = {k: v for k, v in {**metrics, **timing}.items() if v is not None}
        data["update"] = update
        self.run.log(data, step=step)

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        for k, v in summary.items():
            self.run.summary[k] = v

    def log_files(self, media: Mapping[str, Path]) -> None:
        """Attach videos (mp4/gif) to the run."""
        import wandb

        self.run.log({k: wandb.Video(str(p)) for k, p in media.items()})

    def close(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)


class TensorboardSink:
    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log(self, step: int, update: int, metrics: Mapping[str, Any], timing: Mapping[str, Any]) -> None:
        for k, v in {**metrics, **timing}.items():
            if v is not None and isinstance(v, int | float) and math.isfinite(v):
                self.writer.add_scalar(k, v, step)

    def close(self, failed: bool = False) -> None:
        self.writer.close()


class MetricLogger:
    """Fans one stream of metrics out to every configured backend."""

    def __init__(
        self,
        run_dir: Path,
        columns: Sequence[str],
        logger_cfg: Mapping[str, Any],
        config: dict,
        job_type: str = "train",
        append: bool = False,
    ) -> None:
        self.csv = CSVSink(run_dir, columns, append=append)
        self.sinks: list[Any] = []
        if logger_cfg.get("tensorboard") is not None:
            self.sinks.append(TensorboardSink(run_dir))
        if logger_cfg.get("wandb") is not None:
            self.sinks.append(WandbSink(run_dir, logger_cfg["wandb"], config, job_type))

    def log(self, step: int, update: int, metrics: Mapping[str, Any], timing: Mapping[str, Any]) -> None:
        self.csv.log(step, update, metrics, timing)
        for s in self.sinks:
            s.log(step, update, metrics, timing)

    def log_episode(self, step: int, env: int, ret: float, length: int) -> None:
        self.csv.log_episode(step, env, ret, length)

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        for s in self.sinks:
            if hasattr(s, "log_summary"):
                s.log_summary(summary)

    def close(self, failed: bool = False) -> None:
        self.csv.close()
        for s in self.sinks:
            s.close(failed=failed)


def log_job(
    logger_cfg: Mapping[str, Any],
    run_dir: Path,
    config: dict,
    job_type: str,
    summary: Mapping[str, Any],
    media: Mapping[str, Path] | None = None,
) -> None:
    """One W&B run for a job that is not training (job_type eval or collect), when logger=wandb."""
    if logger_cfg.get("wandb") is None:
        return
    sink = WandbSink(run_dir, logger_cfg["wandb"], config, job_type)
    failed = True
    try:
        sink.log_summary(summary)
        if media:
            sink.log_files(media)
        failed = False
    finally:
        sink.close(failed=failed)
