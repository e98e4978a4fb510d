"""What the cluster launchers share: a job's directory, and a failed `JobReturn` for a job that was lost."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict

from gailrun.run.sweep import record_lost_job


class LostJobError(RuntimeError):
    """A job that ended without returning: cancelled, timed out without requeue, or its node lost."""


def job_dir(hydra_context: HydraContext, config: DictConfig, overrides: Sequence[str], num: int) -> Path:
    """The job's output directory, as Hydra's run_job will name it (hydra.sweep.dir / hydra.sweep.subdir)."""
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.num = num
    sweep = OmegaConf.select(sweep_config, "hydra.sweep", throw_on_missing=True)
    return Path(str(sweep.dir)) / str(sweep.subdir)


def lost(
    hydra_context: HydraContext,
    config: DictConfig,
    overrides: Sequence[str],
    num: int,
    reason: str,
    since: float,
    kind: str = "lost",
) -> JobReturn:
    """Record the job that did not report (`kind`: lost, or failed outside gailrun's own error handling) in
    its directory and return it as failed, as a job that raised would be. `since`: when the launch began, so
    that a status.json left by an earlier run of the same sweep directory does not hide this one's loss."""
    where = job_dir(hydra_context, config, overrides, num)
    record_lost_job(where, list(overrides), reason, since=since, kind=kind)
    return JobReturn(
        overrides=list(overrides), status=JobStatus.FAILED, _return_value=LostJobError(f"job {num}: {reason}")
    )
