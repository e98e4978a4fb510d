"""Hydra's Ray launcher against a running Ray cluster, changed so that the driver waits for every job and
records a job whose node was lost as failed (hydra-ray-launcher raises at the first, dropping the others'
results), and so that each job writes which node ran it (`node.json`). Ray is imported when a sweep
starts, not when Hydra scans its plugins, so gailrun works without the `ray` extra installed.

Tasks run in `ray start`'s working directory with its environment: the sweep directory must be absolute
(`gailrun sweep` makes it so) and every node must see it and the datasets at the same paths."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.gailrun_launchers.lost import job_dir, lost

log = logging.getLogger(__name__)
NODE_FILE = "node.json"


def _run_on_node(
    hydra_context: HydraContext, sweep_config: DictConfig, task_function: TaskFunction, state: Any, where: str
) -> JobReturn:
    """The remote task: note the node in the job directory, then run the job as Hydra's launcher does."""
    import ray
    from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job

    path = Path(where)
    path.mkdir(parents=True, exist_ok=True)
    node = {"node_ip": ray.util.get_node_ip_address(), "hostname": socket.gethostname(), "pid": os.getpid()}
    (path / NODE_FILE).write_text(json.dumps(node) + "\n")
    return _run_job(hydra_context, sweep_config, task_function, state)


class GailrunRayLauncher(Launcher):
    def __init__(self, ray: DictConfig) -> None:
        self.ray_cfg = ray
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        try:
            import ray
        except ImportError as exc:
            raise ImportError(
                "hydra/launcher=ray_cluster needs Ray: pip install -e '.[ray]' (the `ray` extra)"
            ) from exc
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        launched = time.time()
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        init = OmegaConf.to_container(self.ray_cfg.init, resolve=True) or {}
        if not ray.is_initialized():
            ray.init(**{k: v for k, v in init.items() if v is not None})  # type: ignore[union-attr]
        remote = OmegaConf.to_container(self.ray_cfg.remote, resolve=True) or {}
        task = ray.remote(**remote)(_run_on_node) if remote else ray.remote(_run_on_node)  # type: ignore[arg-type]
        log.info(f"Ray launcher: {len(job_overrides)} jobs on {ray.get_runtime_context().gcs_address}")
        runs = []
        nums = [initial_job_idx + i for i in range(len(job_overrides))]
        for num, overrides in zip(nums, job_overrides, strict=True):
            log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"job_id_for_{num}"
                sweep_config.hydra.job.num = num
            where = str(job_dir(self.hydra_context, self.config, overrides, num))
            runs.append(
                task.remote(
                    self.hydra_context, sweep_config, self.task_function, Singleton.get_state(), where
                )
            )
        returns = []
        for run, num, overrides in zip(runs, nums, job_overrides, strict=True):
            try:
                returns.append(ray.get(run))
            except ray.exceptions.RayError as exc:  # node died, worker crashed, object lost; or raised
                # A task that raised outside gailrun's own handling (the job's code missing on its node, an
                # object that does not pickle) failed for a reason a rerun will not fix: not "lost".
                kind = "failed" if isinstance(exc, ray.exceptions.RayTaskError) else "lost"
                reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
                log.error(f"job #{num} {kind}: {reason}")
                returns.append(lost(self.hydra_context, self.config, overrides, num, reason, launched, kind))
        return returns
