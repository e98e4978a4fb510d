"""Metric backends: the same metric names in CSV, TensorBoard and W&B; several backends at once."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.helpers import run_cli

FAST = (
    "env=cartpole",
    "env.num_envs=2",
    "algo.num_steps=128",
    "train.total_steps=1024",
    "final_eval.episodes=2",
)


def tensorboard_tags(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def csv_metrics(run_dir: Path, name: str) -> list[dict[str, str]]:
    with open(run_dir / name) as f:
        return list(csv.DictReader(f))


def test_tensorboard_has_the_csv_metric_names_and_values(tmp_path: Path):
    out = run_cli("train", *FAST, "logger=tensorboard", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    tags = tensorboard_tags(tmp_path)
    rows = csv_metrics(tmp_path, "metrics.csv")
    logged = {k for row in rows for k, v in row.items() if v != "" and k not in ("global_step", "update")}
    timing = {k for k in csv_metrics(tmp_path, "timing.csv")[0] if k not in ("global_step", "update")}
    assert logged | timing == set(tags)
    for row in rows:
        step, value = int(row["global_step"]), float(row["losses/policy"])
        assert any(s == step and abs(v - value) < 1e-5 * max(1, abs(value)) for s, v in tags["losses/policy"])


def test_several_loggers_at_once(tmp_path: Path):
    out = run_cli(
        "train",
        *FAST,
        "logger=[tensorboard,wandb]",
        f"hydra.run.dir={tmp_path}",
        env={"WANDB_MODE": None, "WANDB_API_KEY": None},
    )
    assert out.returncode == 0, out.stderr
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    run_files = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 1 and b"losses/policy" in run_files[0].read_bytes()
    assert (tmp_path / "metrics.csv").exists()


def test_wandb_groups_a_sweep_and_names_runs_by_overrides(tmp_path: Path):
    out = run_cli(
        "sweep",
        *FAST,
        "logger=wandb",
        "seed=1,2",
        f"hydra.sweep.dir={tmp_path / 'mysweep'}",
        env={"WANDB_MODE": None, "WANDB_API_KEY": None},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for job in ("0", "1"):
        data = next((tmp_path / "mysweep" / job / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
        assert b"mysweep" in data, "the sweep's name is the W&B group"
        assert f"seed={int(job) + 1}".encode() in data, "the overrides name the run"


def test_progress_lines_without_a_terminal_carry_an_eta(caplog):
    """Sweeps and CI have no terminal: the periodic log line says steps, percent, ETA and the metrics."""
    import logging
    import time

    from gailrun.run.progress import Progress

    progress = Progress(1000, "test", enabled=False, log_every_s=0.0)
    with caplog.at_level(logging.INFO, logger="gailrun"):
        progress.update(100, {"steps/s": 10.0})
        time.sleep(0.05)
        progress.update(200, {"steps/s": 10.0, "avg100_return": None})
    last = caplog.records[-1].getMessage()
    assert last.startswith("step 200/1000 (20%) eta 0:00:") and "steps/s=10" in last
