"""Ray: the shipped `hydra/launcher=ray_cluster` against a two-node local Ray cluster (head 127.0.0.2,
worker 127.0.0.3; cluster/ray.sh)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cluster.conftest import (
    LONG,
    SMALL,
    assert_same_results,
    has_checkpoint,
    ray_launcher,
    start_sweep,
    sweep,
    wait_for,
)
from tests.helpers import REPO

pytestmark = pytest.mark.cluster
HEAD, WORKER = "127.0.0.2", "127.0.0.3"


def node_of(job_dir: Path) -> str | None:
    path = job_dir / "node.json"
    return json.loads(path.read_text())["node_ip"] if path.exists() else None


def ray_sh(command: str) -> None:
    subprocess.run([str(REPO / "cluster" / "ray.sh"), command], check=True, timeout=180)


def test_ray_sweep_spreads_over_both_nodes_and_matches_joblib(tmp_path: Path, joblib_small: Path):
    out = tmp_path / "ray"
    result = sweep(*ray_launcher(), *SMALL, out=out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {node_of(out / str(n)) for n in range(4)} == {HEAD, WORKER}, "jobs ran on both nodes"
    assert_same_results(joblib_small, out, range(4))


def test_lost_worker_node_then_rerun_completes_from_checkpoints(tmp_path: Path, joblib_long: Path):
    """The worker node is killed while its job runs: the other job finishes, the driver exits 1 with the
    lost job in the summary; the same sweep run again finishes the lost job from its last full-state
    checkpoint, and every job ends byte-identical to the uninterrupted run."""
    out = tmp_path / "lost"
    proc = start_sweep(*ray_launcher(), *LONG, out=out)
    try:
        lost = wait_for(
            "a job on the worker node to checkpoint",
            lambda: [n for n in (0, 1) if node_of(out / str(n)) == WORKER and has_checkpoint(out / str(n))],
            proc=proc,
        )[0]
        ray_sh("kill-worker")
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        ray_sh("start-worker")  # the cluster as the next test expects it
    log = (out.parent / f"{out.name}.log").read_text()
    assert proc.returncode == 1, log[-3000:]
    kept = 1 - lost
    assert json.loads((out / str(kept) / "status.json").read_text())["status"] == "ok"
    status = json.loads((out / str(lost) / "status.json").read_text())
    assert status["status"] == "failed" and status["error"].startswith("lost:"), status
    summary = (out / "summary.md").read_text()
    assert "2 jobs, 1 failed" in summary and "lost:" in summary
    states_before = sorted(p.name for p in (out / str(lost) / "checkpoints").glob("state-*.pt"))

    rerun = sweep(*ray_launcher(), *LONG, out=out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    train_log = (out / str(lost) / "train.log").read_text()
    assert f"resuming from {out / str(lost) / 'checkpoints' / states_before[-1]}" in train_log
    assert "2 jobs, 0 failed" in (out / "summary.md").read_text()
    assert_same_results(joblib_long, out, (0, 1))
