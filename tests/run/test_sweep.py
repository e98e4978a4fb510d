"""Sweeps: failure isolation, the Optuna switch search, launchers, experiment files and summaries."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from gailrun.run.sweep_summary import summarize
from tests.conftest import CONF_DIR
from tests.helpers import read_json, run_cli

TINY = (
    "env=cartpole",
    "train.total_steps=512",
    "env.num_envs=2",
    "algo.num_steps=64",
    "final_eval.episodes=3",
)
EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


def test_a_failing_job_does_not_stop_the_others(tmp_path: Path):
    out = run_cli("sweep", *TINY, "env.id=CartPole-v1,NoSuchEnv-v0", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 1
    ok, failed = read_json(tmp_path / "0" / "status.json"), read_json(tmp_path / "1" / "status.json")
    assert ok["status"] == "ok" and isinstance(ok["metric"], float)
    assert failed["status"] == "failed" and "NoSuchEnv-v0" in failed["error"]
    assert (tmp_path / "0" / "best.pt").exists() and (tmp_path / "0" / "eval.json").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "2 jobs, 1 failed" in summary and "NoSuchEnv-v0" in summary
    # Every job's own claim: env, steps, wall time and the evaluated checkpoints.
    job0 = next(line for line in summary.splitlines() if line.startswith("| `0` |"))
    assert "CartPole-v1" in job0 and "best.pt" in job0 and "+-" in job0


def test_optuna_switch_search_runs_end_to_end(tmp_path: Path):
    out = run_cli("sweep", "experiment=ppo_switch_search", "budget=smoke", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    result = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert set(result["best_params"]) == {
        f"ppo_opts.{k}"
        for k in (
            "value_clip",
            "reward_clip",
            "reward_std",
            "obs_norm",
            "ortho_init",
            "grad_clip",
            "policy_noclip",
        )
    }
    statuses = [read_json(p) for p in sorted(tmp_path.glob("*/status.json"))]
    assert len(statuses) == 4 and all(s["status"] == "ok" for s in statuses)
    assert result["best_value"] == pytest.approx(max(s["metric"] for s in statuses))
    seeds = {read_json(p)["seed"] for p in tmp_path.glob("*/summary.json")}
    assert len(seeds) == 4, "a fresh seed per trial"
    marginals = (tmp_path / "marginals.md").read_text()
    assert "ppo_opts.value_clip" in marginals or "ppo_opts.grad_clip" in marginals


def test_submitit_local_runs_jobs_as_subprocesses(tmp_path: Path):
    out = run_cli("sweep", "hydra/launcher=submitit_local", *TINY, "seed=1,2", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    job_ids = [p.name for p in (tmp_path / ".submitit").iterdir() if p.name.isdigit()]
    assert len(job_ids) == 2, "one submitit job (its own process) per configuration"
    assert sorted(read_json(tmp_path / str(i) / "summary.json")["seed"] for i in (0, 1)) == [1, 2]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes(name: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        for budget in ("full", "reduced", "smoke"):
            cfg = compose(
                "train", overrides=[f"experiment={name}", f"budget={budget}"], return_hydra_config=True
            )
            params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=False)
            assert params, f"{name} sweeps nothing"
            resolved = OmegaConf.to_container(cfg.train, resolve=True)
            assert resolved["total_steps"] > 0
            if name != "ppo_switch_search":
                assert OmegaConf.select(cfg, "hydra.sweeper.params.seed") == "1,2,3"
            OmegaConf.to_container(cfg.algo, resolve=True)
            OmegaConf.to_container(cfg.expert, resolve=True)


def test_seeds_sets_the_seed_axis():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=ppo_agents", "seeds=5"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params.seed == "1,2,3,4,5"


def fake_job(root: Path, num: int, overrides: list[str], status: str, final: float | None) -> None:
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / "status.json").write_text(json.dumps({"status": status, "metric": final, "error": None}))
    if final is not None:
        (job / "summary.json").write_text(json.dumps({"final_eval": {"mean": final}}))


def test_summary_groups_seeds_and_computes_a_student_t_interval(tmp_path: Path):
    finals = {"a": [100.0, 120.0, 140.0], "b": [10.0, 30.0], "c": [7.0]}
    num = 0
    for opt, values in finals.items():
        for seed, v in enumerate(values, start=1):
            fake_job(tmp_path, num, [f"ppo_opts={opt}", f"seed={seed}", "budget=smoke"], "ok", v)
            num += 1
    fake_job(tmp_path, num, ["ppo_opts=b", "seed=3", "budget=smoke"], "failed", None)
    result = summarize(tmp_path)
    rows = {r["config"]: r for r in result["rows"]}
    assert set(rows) == {"ppo_opts=a", "ppo_opts=b", "ppo_opts=c"} and result["failed"] == 1
    assert rows["ppo_opts=a"]["mean"] == pytest.approx(120.0)
    assert rows["ppo_opts=a"]["std"] == pytest.approx(np.std([100, 120, 140]))
    assert rows["ppo_opts=b"]["failed"] == 1 and rows["ppo_opts=b"]["seeds_ok"] == 2
    # The interval, computed by hand: mean +- t(0.975, 2) * s / sqrt(3) with s = 20 (ddof=1), wider than
    # the runs' range [100, 140] that the old percentile bootstrap gave.
    half = 4.302653 * 20.0 / np.sqrt(3)
    a = rows["ppo_opts=a"]
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((120.0 - half, 120.0 + half), abs=1e-4)
    assert a["ci_method"] == "Student-t"
    c = rows["ppo_opts=c"]  # one seed: no interval, not [7, 7]
    assert c["ci_low"] is None and c["ci_high"] is None and c["ci_method"] == "none"
    csv_text = (tmp_path / "summary.csv").read_text()
    assert csv_text.startswith("config,seeds_ok,failed,checkpoint,mean,std,ci_low,ci_high,ci_method")
    assert "ppo_opts=c,1,0,best.pt,7.0,0.0,,,none" in csv_text

    md = (tmp_path / "summary.md").read_text()
    assert "| configuration | checkpoint | seeds | mean | std | 95% CI (Student-t; n=2-3) | failed |" in md
    assert f"| `ppo_opts=a` | best.pt | 3 | 120.0 | 16.3 | [{120 - half:.1f}, {120 + half:.1f}] | 0 |" in md
    assert "| `ppo_opts=c` | best.pt | 1 | 7.0 | 0.0 | n=1, no interval | 0 |" in md
    assert "Student-t, mean +- t(0.975, n-1) * s / sqrt(n)" in md and "bootstrap" not in md


def test_summarize_combines_the_parts_of_a_study(tmp_path: Path):
    """A study run in parts (seeds 1-2 in one sweep, seed 3 in another) is summarized as one sweep."""
    fake_job(tmp_path / "part1", 0, ["ppo_opts=plus", "seed=1", "seeds=2"], "ok", 100.0)
    fake_job(tmp_path / "part1", 1, ["ppo_opts=plus", "seed=2", "seeds=2"], "ok", 120.0)
    fake_job(tmp_path / "part2", 0, ["ppo_opts=plus", "seed=3"], "ok", 140.0)
    out = run_cli("summarize", str(tmp_path / "part1"), str(tmp_path / "part2"), f"--out={tmp_path / 'all'}")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader((tmp_path / "all" / "summary.csv").open()))
    assert len(rows) == 1 and rows[0]["seeds_ok"] == "3" and float(rows[0]["mean"]) == 120.0
    text = (tmp_path / "all" / "summary.md").read_text()
    assert "`part1/1`" in text and "`part2/0`" in text


def test_a_lost_job_is_recorded_as_failed_and_summarized(tmp_path: Path):
    """What the cluster launchers do with a job that never reported: it counts as failed, with its reason;
    a job's own status.json is kept."""
    from gailrun.run.sweep import record_lost_job

    fake_job(tmp_path, 0, ["algo=ppo", "seed=1"], "ok", 100.0)
    record_lost_job(tmp_path / "0", ["algo=ppo", "seed=1"], "cancelled")
    record_lost_job(tmp_path / "1", ["algo=ppo", "seed=2"], "SLURM job 7_1 CANCELLED: cancelled by user")
    assert read_json(tmp_path / "0" / "status.json")["status"] == "ok"
    lost = read_json(tmp_path / "1" / "status.json")
    assert lost["status"] == "failed" and lost["error"] == "lost: SLURM job 7_1 CANCELLED: cancelled by user"
    result = summarize(tmp_path)
    assert result["jobs"] == 2 and result["failed"] == 1
    assert "lost: SLURM job 7_1 CANCELLED" in (tmp_path / "summary.md").read_text()


def test_a_job_lost_on_a_rerun_is_not_hidden_by_its_earlier_status(tmp_path: Path):
    """A sweep rerun in the same directory: a job that was ok before and is lost now is recorded as lost
    (its status.json predates this launch); one that reported during this launch keeps its own status."""
    import os
    import time

    from gailrun.run.sweep import record_lost_job

    fake_job(tmp_path, 0, ["algo=ppo", "seed=1"], "ok", 100.0)  # written by the earlier run
    os.utime(tmp_path / "0" / "status.json", (time.time() - 3600,) * 2)
    launched = time.time()
    time.sleep(0.05)  # file times come from a coarser clock than time.time()
    fake_job(tmp_path, 1, ["algo=ppo", "seed=2"], "ok", 90.0)  # reported during this launch
    record_lost_job(tmp_path / "0", ["algo=ppo", "seed=1"], "NodeDiedError: node 2 died", since=launched)
    record_lost_job(tmp_path / "1", ["algo=ppo", "seed=2"], "ObjectLostError", since=launched)
    assert read_json(tmp_path / "0" / "status.json")["error"] == "lost: NodeDiedError: node 2 died"
    assert read_json(tmp_path / "1" / "status.json")["status"] == "ok"
    record_lost_job(tmp_path / "2", ["algo=ppo", "seed=3"], "RayTaskError: no module", kind="failed")
    assert read_json(tmp_path / "2" / "status.json")["error"] == "failed: RayTaskError: no module"
