"""Same seed and config give the same run; W&B logs offline into the run directory."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import read_json, run_cli

FAST = (
    "env=lunarlander",
    "env.num_envs=2",
    "algo.num_steps=128",
    "train.total_steps=1024",
    "final_eval.episodes=3",
    "ppo_opts=plus",
)


def test_same_seed_gives_byte_identical_metrics(tmp_path: Path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed in ((a, 5), (b, 5), (c, 6)):
        out = run_cli("train", *FAST, f"seed={seed}", f"hydra.run.dir={d}")
        assert out.returncode == 0, out.stderr
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    assert (a / "episodes.csv").read_bytes() == (b / "episodes.csv").read_bytes()
    assert read_json(a / "eval.json")["returns"] == read_json(b / "eval.json")["returns"]
    assert (a / "metrics.csv").read_bytes() != (c / "metrics.csv").read_bytes()


def test_wandb_offline_run_lands_in_the_run_directory(tmp_path: Path):
    out = run_cli(
        "train",
        *FAST,
        "logger=wandb",
        "logger.wandb.group=testgroup",
        f"hydra.run.dir={tmp_path}",
        env={"WANDB_MODE": None, "WANDB_API_KEY": None},
    )
    assert out.returncode == 0, out.stderr
    files = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    data = files[0].read_bytes()
    # The run file carries the metric names and the resolved config.
    assert b"losses/policy" in data and b"charts/avg100_return" in data and b"LunarLander-v3" in data


def test_wandb_mode_defaults_to_offline_without_a_key(monkeypatch, tmp_path):
    from gailrun.run.loggers import wandb_mode

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode("auto") == "online"
    assert wandb_mode("disabled") == "disabled"
