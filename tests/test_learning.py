"""Real learning checks. The CartPole check runs in `make test`; longer ones carry the slow marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import read_json, run_cli


def test_ppo_solves_cartpole(tmp_path: Path):
    """PPO with the study's defaults reaches >= 475 over 100 deterministic evaluation episodes (seed 9999)."""
    out = run_cli("train", "env=cartpole", "train.total_steps=50000", "seed=1", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    final = read_json(tmp_path / "summary.json")["final_eval"]
    assert final["episodes"] == 100 and final["seed"] == 9999 and final["deterministic"]
    assert final["mean"] >= 475, final


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
def test_ppo_solves_cartpole_other_seeds(tmp_path: Path, seed: int):
    out = run_cli(
        "train", "env=cartpole", "train.total_steps=60000", f"seed={seed}", f"hydra.run.dir={tmp_path}"
    )
    assert out.returncode == 0, out.stderr
    assert read_json(tmp_path / "summary.json")["final_eval"]["mean"] >= 475
