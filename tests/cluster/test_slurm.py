"""SLURM: the shipped `hydra/launcher=slurm` against a real local cluster (slurmctld, slurmd, slurmdbd)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.cluster.conftest import (
    LONG,
    SLURM,
    SMALL,
    assert_same_results,
    has_checkpoint,
    slurm_conf,
    start_sweep,
    sweep,
    wait_for,
)

pytestmark = pytest.mark.cluster


def slurm(*args: str) -> str:
    slurm_conf()
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=30).stdout


def array_tasks(sweep_dir: Path) -> dict[int, str]:
    """Job number -> its array task (`18_0`), for the jobs of this sweep still known to squeue. Always
    address a task so: the number squeue gives as its job id (%A) is, for the last task, the array's own
    id, and `scontrol requeue` or `scancel` of that id acts on every task of the array."""
    folder = str(sweep_dir / ".submitit")
    out = {}
    for line in slurm("squeue", "-h", "-o", "%i|%o").splitlines():
        task, command = line.split("|", 1)
        if folder in command and re.fullmatch(r"\d+_\d+", task):
            out[int(task.split("_")[1])] = task
    return out


def test_slurm_sweep_matches_joblib(tmp_path: Path, joblib_small: Path):
    slurm_conf()
    out = tmp_path / "slurm"
    result = sweep(*SLURM, *SMALL, out=out)
    assert result.returncode == 0, result.stderr[-3000:]
    tasks = [p for p in (out / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name)]
    assert len(tasks) == 4, "one SLURM array task per job"
    assert_same_results(joblib_small, out, range(4))


def test_preempted_and_requeued_jobs_resume_and_end_identical(tmp_path: Path, joblib_long: Path):
    """Job 0 gets USR2 (what SLURM sends signal_delay_s before a time limit or a preemption): submitit
    requeues it. Job 1 is requeued with `scontrol requeue`. Both resume from their last full-state
    checkpoint and end byte-identical to the uninterrupted jobs."""
    slurm_conf()
    out = tmp_path / "preempt"
    proc = start_sweep(*SLURM, *LONG, out=out)
    try:
        wait_for(
            "both jobs to checkpoint", lambda: all(has_checkpoint(out / str(n)) for n in (0, 1)), proc=proc
        )
        tasks = wait_for("the array tasks in squeue", lambda: (t := array_tasks(out)) and len(t) == 2 and t)
        # The job step (.0), which runs submitit's Python, as SLURM does with --signal (not the batch shell).
        slurm("scancel", "--signal=USR2", f"{tasks[0]}.0")
        # SLURM can deliver the signal twice: the job must act once (a second requeue would fail it).
        subprocess.run(["scancel", "--signal=USR2", f"{tasks[0]}.0"], capture_output=True, timeout=30)
        slurm("scontrol", "requeue", tasks[1])
        proc.wait(timeout=420)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (out.parent / f"{out.name}.log").read_text()
    assert proc.returncode == 0, log[-3000:]
    for num in (0, 1):
        train_log = (out / str(num) / "train.log").read_text()
        assert "resuming from" in train_log, f"job {num} started over instead of resuming"
        assert json.loads((out / str(num) / "status.json").read_text())["status"] == "ok"
    submitit_logs = "".join(p.read_text() for p in (out / ".submitit").rglob("*_log.err"))
    assert "Caught signal SIGUSR2" in submitit_logs and "preempted" in submitit_logs
    assert_same_results(joblib_long, out, (0, 1))


def test_failed_and_cancelled_jobs_are_reported_and_the_driver_exits(tmp_path: Path):
    """One arm fails (an env that does not exist), one job is cancelled while running; the others finish,
    the summary names each failed job and why, and the driver exits 1 without waiting forever."""
    slurm_conf()
    out = tmp_path / "failing"
    started = time.monotonic()
    proc = start_sweep(
        *SLURM,
        *(a for a in SMALL if not a.startswith(("train.total_steps=", "algo=", "seed="))),
        "algo=ppo",
        "seed=1",
        "env.id=CartPole-v1,NoSuchEnv-v0",  # Hydra's grid: the first swept key varies slowest
        "train.total_steps=2048,400000",
        out=out,
    )
    try:
        # Jobs: 0 (CartPole, short) ok, 1 (CartPole, long) cancelled, 2 and 3 (NoSuchEnv) fail.
        wait_for("the long job to run", lambda: has_checkpoint(out / "1"), proc=proc)
        tasks = wait_for("its array task", lambda: (t := array_tasks(out)) and 1 in t and t)
        slurm("scancel", tasks[1])
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - started
    log = (out.parent / f"{out.name}.log").read_text()
    assert proc.returncode == 1, log[-3000:]
    assert elapsed < 300, f"the driver took {elapsed:.0f}s"
    status = {n: json.loads((out / str(n) / "status.json").read_text()) for n in range(4)}
    assert status[0]["status"] == "ok"
    assert status[1]["status"] == "failed" and "CANCELLED" in status[1]["error"]
    assert all(status[n]["status"] == "failed" and "NoSuchEnv-v0" in status[n]["error"] for n in (2, 3))
    summary = (out / "summary.md").read_text()
    assert "4 jobs, 3 failed" in summary
    assert "CANCELLED" in summary and "NoSuchEnv-v0" in summary


def test_time_limit_signal_requeues_and_the_job_resumes(tmp_path: Path):
    """SLURM's own signal: a 2-minute time limit with signal_delay_s=60 makes SLURM send USR2 to the job
    step a minute before the limit; submitit requeues the job, which resumes from its checkpoint and ends
    byte-identical to the same job run uninterrupted (under joblib, alongside)."""
    slurm_conf()
    # At least 120 s on any machine (60k steps of CartPole sleeping 2 ms each; the training itself takes
    # about 5 s here): past the signal (60-90 s in: slurmctld checks limits every 30 s). A faster CPU
    # cannot finish before it; the resumed job may be signalled and requeued again, and still ends identical.
    long_job = (
        *(a for a in LONG if not a.startswith(("train.", "algo=", "seed=", "env.id="))),
        "env.id=tests.toy_envs:GailrunTest/SlowCartPole-v0",
        "train.total_steps=60000",
        "train.checkpoint_every_steps=4096",
        "algo=ppo",
        "seed=3",
    )
    ref = tmp_path / "reference"
    reference = start_sweep(*long_job, "hydra.launcher.n_jobs=1", out=ref)
    try:
        out = tmp_path / "time_limit"
        result = sweep(
            *SLURM, *long_job, "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=60", out=out
        )
        assert reference.wait(timeout=400) == 0
    finally:
        if reference.poll() is None:
            reference.kill()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in (out / "0" / "train.log").read_text(), "the job was not requeued in time"
    submitit_logs = "".join(p.read_text() for p in (out / ".submitit").rglob("*_log.err"))
    assert "Caught signal SIGUSR2" in submitit_logs and "timed-out" in submitit_logs
    assert_same_results(ref, out, (0,))
