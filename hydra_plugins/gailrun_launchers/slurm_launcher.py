"""Submitit on SLURM, changed in two ways: the driver waits for every job and records a cancelled or lost
one as failed (submitit's launcher raises at the first, leaving the others running unreported), and a
preemption signal is acted on once (SLURM can deliver USR2 to a step twice; a second requeue of an already
requeued job fails). A requeued job runs the same call again: the job resumes itself from its full-state
checkpoint (resume=auto), so no state needs to travel in the checkpoint pickle."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf

from hydra_plugins.gailrun_launchers.lost import lost

log = logging.getLogger(__name__)


def _ignore_repeated_signal(signum: int, frame: Any) -> None:
    log.warning(f"signal {signal.Signals(signum).name} again: the job is already being requeued")


class GailrunSlurmLauncher(SlurmLauncher):
    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Resubmit the same call (the job resumes itself) and ignore the preemption signal from now on:
        SLURM can deliver it twice, and a second `scontrol requeue` of a requeued job fails the job."""
        import submitit

        signal.signal(submitit.JobEnvironment._usr_sig(), _ignore_repeated_signal)
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None and self.hydra_context is not None
        launched = time.time()
        init_keys = {"submitit_folder", "max_num_timeout"}
        executor = submitit.AutoExecutor(
            cluster="slurm",
            folder=self.params["submitit_folder"],
            slurm_max_num_timeout=self.params.get("max_num_timeout", 0),
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"slurm_{k}": v for k, v in self.params.items() if k not in init_keys}
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
        nums = [initial_job_idx + i for i in range(len(job_overrides))]
        for num, overrides in zip(nums, job_overrides, strict=True):
            log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
        state = Singleton.get_state()
        jobs = executor.map_array(
            self,
            [list(o) for o in job_overrides],
            ["hydra.sweep.dir"] * len(nums),
            nums,
            [f"job_id_for_{n}" for n in nums],
            [state] * len(nums),
        )
        returns = []
        for job, num, overrides in zip(jobs, nums, job_overrides, strict=True):
            try:  # waits for this job; a later one may finish first, and is collected in turn
                returns.append(job.results()[0])
            except Exception as exc:  # cancelled, failed without a result, or timed out for good
                reason = f"SLURM job {job.job_id} {job.state}: {str(exc).strip().splitlines()[0][:300]}"
                log.error(f"job #{num} lost: {reason}")
                returns.append(lost(self.hydra_context, self.config, overrides, num, reason, launched))
        return returns
