"""Cluster tests: real sweeps through the shipped launcher configs against the local SLURM and Ray clusters
that `cluster/test.sh` (make test-cluster) starts and stops. pytest deselects them unless asked (`-m
cluster`); asked for without the clusters, they fail, naming what is missing."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers import REPO, cli_env, gailrun_exe

# A 4-job PPO/GAIL grid on CartPole, seconds per job.
SMALL = (
    "env=cartpole",
    "train.total_steps=2048",
    "env.num_envs=2",
    "algo.num_steps=64",
    "final_eval.episodes=3",
    "train.checkpoint_every_steps=256",
    "algo=ppo,gail",
    "seed=1,2",
)
# Two jobs long enough to be interrupted (tens of seconds here), a full-state checkpoint every 2048 steps: the
# tests act after the first, with 23 checkpoints of work left (plain CartPole: GAIL needs its demos).
LONG = (
    "env=cartpole",
    "train.total_steps=49152",
    "env.num_envs=2",
    "algo.num_steps=64",
    "final_eval.episodes=3",
    "train.checkpoint_every_steps=2048",
    "algo=ppo,gail",
    "seed=1",
)
SLURM = ("hydra/launcher=slurm", "hydra.launcher.partition=debug")


def ray_launcher() -> tuple[str, ...]:
    return ("hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={ray_address()}")


def ray_address() -> str:
    address = os.environ.get("GAILRUN_RAY_ADDRESS")
    if not address:
        pytest.fail("GAILRUN_RAY_ADDRESS is not set: run the cluster tests with `make test-cluster`")
    return address


def slurm_conf() -> str:
    conf = os.environ.get("SLURM_CONF")
    if not conf or not Path(conf).exists():
        pytest.fail("SLURM_CONF is not set: run the cluster tests with `make test-cluster`")
    return conf


def sweep(*args: str, out: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*gailrun_exe(), "sweep", *args, f"hydra.sweep.dir={out}"],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_sweep(*args: str, out: Path) -> subprocess.Popen:
    log = (out.parent / f"{out.name}.log").open("w")
    return subprocess.Popen(
        [*gailrun_exe(), "sweep", *args, f"hydra.sweep.dir={out}"],
        cwd=REPO,
        env=cli_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(what: str, check, timeout: float = 180, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the sweep ended (rc {proc.returncode}) before {what}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def has_checkpoint(job_dir: Path) -> bool:
    """Running, with a full-state checkpoint written (and not yet finished)."""
    return any((job_dir / "checkpoints").glob("state-*.pt")) and not (job_dir / "status.json").exists()


def assert_same_results(ref: Path, other: Path, jobs: Sequence[int]) -> None:
    """Byte-identical metrics.csv per job and summary.csv; summary.md identical but for wall times."""
    for num in jobs:
        a, b = ref / str(num) / "metrics.csv", other / str(num) / "metrics.csv"
        assert a.read_bytes() == b.read_bytes(), f"job {num}: {b} differs from {a}"
    assert (ref / "summary.csv").read_bytes() == (other / "summary.csv").read_bytes()
    assert masked_summary(ref) == masked_summary(other)


def masked_summary(sweep_dir: Path) -> list[str]:
    """summary.md without its title (the sweep's name) and the wall-time column of the per-job table."""
    out, in_jobs = [], False
    for line in (sweep_dir / "summary.md").read_text().splitlines()[1:]:
        in_jobs = in_jobs or line.startswith("| job |")
        cells = line.split(" | ")
        if in_jobs and line.startswith("| `") and len(cells) == 7:
            cells[5] = "<wall>"
        out.append(" | ".join(cells))
    return out


@pytest.fixture(scope="session")
def joblib_small(tmp_path_factory) -> Path:
    """The reference: the small grid under the default joblib launcher."""
    out = tmp_path_factory.mktemp("joblib") / "small"
    result = sweep(*SMALL, out=out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def joblib_long(tmp_path_factory) -> Path:
    """The reference for interrupted jobs: the long grid, uninterrupted, under joblib."""
    out = tmp_path_factory.mktemp("joblib") / "long"
    result = sweep(*LONG, out=out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out
