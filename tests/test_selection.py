"""Reward-free model selection: the criteria measure what they claim on known inputs, evaluation records the
pairs it played, and a GAIL run writes best_rf.pt as its headline beside the oracle best.pt without
changing what training computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gailrun.data.episodes import Episode
from gailrun.evaluate import evaluate
from gailrun.policy import load_policy
from gailrun.selection import LOWER_IS_BETTER, PairSpace, RewardFreeSelection, SelectSettings, demo_nll
from gailrun.sweep import summarize
from tests.helpers import run_cli

ASSETS = Path(__file__).resolve().parent.parent / "gailrun" / "assets"
EXPERT = ASSETS / "experts" / "cartpole-ppo.pt"


def _pairs(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(shift, 1.0, size=(n, 3)), rng.integers(0, 2, size=n)


def test_mmd_is_zero_for_the_reference_itself_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    obs, act = _pairs(rng, 400)
    space = PairSpace(obs, act, [(100, False)] * 4, n_actions=2, horizon=100)
    assert space.mmd2(obs, act, [(100, False)] * 4) == pytest.approx(0.0, abs=1e-12)
    same = space.mmd2(*_pairs(rng, 400), [(100, False)] * 4)
    near = space.mmd2(*_pairs(rng, 400, shift=0.5), [(100, False)] * 4)
    far = space.mmd2(*_pairs(rng, 400, shift=2.0), [(100, False)] * 4)
    assert 0.0 <= same < near < far


def test_mmd_charges_episodes_that_end_early_with_the_absorbing_state():
    """Same states, but the candidate's episodes end at step 10 of 100: 90% of its occupancy is absorbing."""
    rng = np.random.default_rng(1)
    obs, act = _pairs(rng, 400)
    space = PairSpace(obs, act, [(100, False)] * 4, n_actions=2, horizon=100)
    assert space.absorbing_mass([(10, True)] * 4) == pytest.approx(0.9)
    assert space.absorbing_mass([(10, False)] * 4) == 0.0  # truncated (a shorter time limit): no absorbing
    full = space.mmd2(*_pairs(rng, 400), [(100, False)] * 4)
    falls = space.mmd2(*_pairs(rng, 400), [(10, True)] * 4)
    assert falls > 0.5 > full
    no_horizon = PairSpace(obs, act, [(100, False)] * 4, n_actions=2, horizon=None)
    assert no_horizon.absorbing_mass([(10, True)] * 4) == 0.0


def test_evaluation_records_exactly_the_pairs_of_the_counted_episodes():
    policy = load_policy(EXPERT)
    result = evaluate(policy, episodes=3, seed=1, num_envs=2, record_pairs=True)
    assert result.pairs is not None
    obs, actions = result.pairs
    assert len(obs) == len(actions) == sum(result.lengths)
    assert obs.shape[1] == 4 and actions.dtype == np.int64
    assert result.terminated == [length < 500 for length in result.lengths]
    np.testing.assert_array_equal(actions, policy.act(obs))  # deterministic: the action of each state
    plain = evaluate(policy, episodes=3, seed=1, num_envs=2)
    assert plain.pairs is None and plain.returns == result.returns


def test_demo_nll_prefers_the_demonstrator_over_its_mirror_image():
    policy = load_policy(EXPERT)
    rng = np.random.default_rng(0)
    obs = rng.normal(0.0, 0.05, size=(200, 4)).astype(np.float32)
    actions = policy.act(obs)
    assert demo_nll(policy, obs, actions) < demo_nll(policy, obs, 1 - actions)


def test_choose_breaks_ties_towards_the_later_candidate(tmp_path: Path):
    ep = Episode(np.zeros((6, 4)), np.zeros(5), np.zeros(5), np.zeros(5), np.zeros(5))
    sel = RewardFreeSelection(SelectSettings(10, 1, 0, "mmd", 10), [ep, ep], "test", 2, 500, tmp_path)
    sel.records = [
        {"step": 0, "mmd": 0.2, "demo_nll": 1.0},
        {"step": 10, "mmd": 0.1, "demo_nll": 2.0},
        {"step": 20, "mmd": 0.1, "demo_nll": 3.0},
    ]
    assert sel.choose("mmd")["step"] == 20
    assert sel.choose("demo_nll")["step"] == 0
    assert LOWER_IS_BETTER == {"mmd": True, "demo_nll": True, "final_d": False}


SHORT_GAIL = (
    "algo=gail",
    "env=cartpole",
    "env.num_envs=2",
    "algo.num_steps=64",
    "train.total_steps=2048",
    "final_eval.episodes=5",
    "train.progress=false",
    "select.candidates=4",
    "select.episodes=3",
)


def test_a_gail_run_writes_best_rf_as_its_headline_beside_the_oracle(tmp_path: Path):
    run = tmp_path / "run"
    out = run_cli("train", *SHORT_GAIL, f"hydra.run.dir={run}")
    assert out.returncode == 0, out.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_eval"]["checkpoint"] == "best_rf.pt"
    evals = summary["evaluations"]
    assert list(evals) == ["best_rf.pt", "best.pt", "best_irl.pt", "last.pt"]
    assert evals["best.pt"]["selected_by"] == "true return (oracle)"
    assert evals["best_rf.pt"]["selected_by"] == "reward-free: mmd"
    sel = summary["selection"]
    assert sel["oracle_gap"] == pytest.approx(evals["best.pt"]["mean"] - evals["best_rf.pt"]["mean"])
    assert sel["last_gap"] == pytest.approx(evals["last.pt"]["mean"] - evals["best_rf.pt"]["mean"])
    assert set(sel["by_criterion"]) == {"mmd", "demo_nll", "final_d"}
    assert sel["reference"] == {"kind": "held-out demonstrations", "episodes": 10}

    body = json.loads((run / "rf_selection.json").read_text())
    steps = [c["step"] for c in body["candidates"]]
    # The first policy, the first update past each multiple of 2048 / 4 = 512 env steps, and the last
    # (which is the one past 2048).
    assert steps[0] == 0 and steps[-1] == summary["env_steps"] and len(steps) == 5
    assert [s // 512 for s in steps] == [0, 1, 2, 3, 4]
    assert all((run / c["checkpoint"]).exists() for c in body["candidates"])
    chosen = body["chosen"]["mmd"]
    assert min(c["mmd"] for c in body["candidates"]) == chosen["value"]
    a = torch.load(run / "best_rf.pt", weights_only=True)
    b = torch.load(run / chosen["checkpoint"], weights_only=True)
    assert all(torch.equal(a["agent"][k], b["agent"][k]) for k in a["agent"])
    assert (run / "eval_best_rf.json").exists()
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "select/mmd" in header and "select/demo_nll" in header

    # The sweep summary's headline is best_rf.pt, with the oracle and the gap beside it.
    row = summarize(tmp_path)["rows"][0]
    assert row["checkpoint"] == "best_rf.pt" and row["mean"] == evals["best_rf.pt"]["mean"]
    assert row["oracle_mean"] == evals["best.pt"]["mean"]
    assert row["oracle_gap"] == pytest.approx(sel["oracle_gap"])
    assert "| oracle best.pt mean |" in (tmp_path / "summary.md").read_text()
    # So is the report's: its score, its box plot's episodes (eval_best_rf.json), and the oracle beside it.
    res = run_cli("report", str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    lines = (tmp_path / "report" / "configurations.csv").read_text().splitlines()
    rec = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert float(rec["mean"]) == pytest.approx(evals["best_rf.pt"]["mean"])
    assert float(rec["oracle_mean"]) == pytest.approx(evals["best.pt"]["mean"])
    assert int(rec["episodes"]) == 5


def test_selection_does_not_change_what_training_computes(tmp_path: Path):
    """Candidates draw from no random stream of training: its columns are the same with selection off."""
    on, off = tmp_path / "on", tmp_path / "off"
    common = (*SHORT_GAIL, "final_eval.episodes=0")
    assert run_cli("train", *common, f"hydra.run.dir={on}").returncode == 0
    assert run_cli("train", *common, "select.candidates=0", f"hydra.run.dir={off}").returncode == 0

    def columns(path: Path) -> dict[str, list[str]]:
        lines = [line.split(",") for line in (path / "metrics.csv").read_text().splitlines()]
        return {name: [row[i] for row in lines[1:]] for i, name in enumerate(lines[0])}

    a, b = columns(on), columns(off)
    assert set(a) - set(b) == {"select/mmd", "select/demo_nll"}
    assert all(a[k] == b[k] for k in b), [k for k in b if a[k] != b[k]]
    assert not (off / "best_rf.pt").exists() and not (off / "candidates").exists()
