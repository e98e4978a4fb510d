"""Checkpoints: complete, loadable with weights_only=True, atomic, and refused with one line when bad."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gailrun.errors import CheckpointError
from gailrun.run.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from gailrun.run.trainer import Trainer
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("ckpt")
    out = run_cli(
        "train",
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=512",
        "final_eval.episodes=0",
        "ppo_opts.obs_norm=true",
        f"hydra.run.dir={run_dir}",
    )
    assert out.returncode == 0, out.stderr
    return run_dir


def test_checkpoint_is_complete_and_safe_to_load(trained: Path):
    ckpt = torch.load(trained / "last.pt", weights_only=True)
    assert ckpt["format"] == "gailrun-checkpoint" and ckpt["env_id"] == "CartPole-v1"
    assert set(ckpt["agent"]) >= {"actor.0.weight", "critic.0.weight"}
    assert ckpt["obs_norm"]["enabled"] is True and ckpt["obs_norm"]["mean"].shape == (4,)
    assert ckpt["config"]["ppo_opts"]["obs_norm"] is True  # the resolved config
    assert {"gailrun", "torch", "gymnasium", "numpy", "python"} <= set(ckpt["versions"])
    assert ckpt["progress"]["unit"] == "step" and ckpt["progress"]["steps"] >= 512


def test_eval_uses_the_saved_normalizer(trained: Path, make_cfg, tmp_path):
    from gailrun.models.policy import load_policy

    policy = load_policy(trained / "last.pt")
    assert policy.obs_norm.enabled and not policy.obs_norm.training
    ckpt = torch.load(trained / "last.pt", weights_only=True)
    np.testing.assert_allclose(policy.obs_norm.rms.mean, ckpt["obs_norm"]["mean"].numpy())


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (lambda p, good: p.write_bytes(good.read_bytes()[:2000]), "is corrupt or truncated"),
        (lambda p, good: p.write_text("not a checkpoint"), "is not a gailrun checkpoint"),
        (lambda p, good: torch.save({"weights": torch.zeros(3)}, p), "is not a gailrun checkpoint"),
        (lambda p, good: torch.save({"format": "gailrun-checkpoint", "x": os.system}, p), "pickled Python"),
    ],
    ids=["truncated", "garbage", "foreign", "pickled-code"],
)
def test_bad_checkpoints_give_one_line_errors(trained: Path, tmp_path: Path, make_bad, message):
    bad = tmp_path / "bad.pt"
    make_bad(bad, trained / "last.pt")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad)
    out = run_cli("eval", f"ckpt={bad}", "episodes=1", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and message in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"], "nothing else may be written"


def test_missing_checkpoint(tmp_path: Path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_pickled_code_is_not_executed(tmp_path: Path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    bad = tmp_path / "evil.pt"
    torch.save({"format": "gailrun-checkpoint", "x": Evil()}, bad)
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    assert not marker.exists()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch):
    target = tmp_path / "last.pt"
    save_checkpoint(target, {"value": 1})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint(target, {"value": 2})
    monkeypatch.undo()
    assert load_checkpoint(target)["value"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], "the temporary file is removed"


def test_atomic_write_into_unwritable_dir_names_the_fix(tmp_path: Path):
    with pytest.raises(CheckpointError, match=r"hydra\.run\.dir"):
        atomic_write_bytes(tmp_path / "missing-dir" / "x.pt", b"data")


def test_init_from_refuses_another_envs_checkpoint(trained: Path, make_cfg, tmp_path: Path):
    cfg = make_cfg("env=lunarlander", f"init_from={trained / 'last.pt'}")
    with pytest.raises(CheckpointError, match="is for CartPole-v1"):
        Trainer(cfg, tmp_path).build()
