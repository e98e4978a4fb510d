"""Reward-free model selection: the criteria measure what they claim on known inputs, evaluation records the
pairs it played, and a GAIL run writes best_rf.pt as its headline beside the oracle best.pt without
changing what training computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gailrun.data.minari_io import read_dataset
from gailrun.models.networks import ActorCritic
from gailrun.models.policy import Policy, load_policy
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.run.evaluate import evaluate
from gailrun.run.occupancy import Occupancy, PairSpace, demo_nll
from gailrun.run.selection import RewardFreeSelection, SelectSettings, build_selection
from gailrun.run.sweep_summary import summarize
from tests.helpers import run_cli

ASSETS = Path(__file__).resolve().parents[2] / "gailrun" / "assets"
EXPERT = ASSETS / "experts" / "cartpole-ppo.pt"


def _pairs(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(shift, 1.0, size=(n, 3)), rng.integers(0, 2, size=n)


def _occ(
    obs: np.ndarray, act: np.ndarray, ends: list[tuple[int, bool]], horizon: int | None = 100
) -> Occupancy:
    """Pairs split evenly over the episodes of `ends` (their lengths only weigh the pairs)."""
    episode = np.arange(len(act)) * len(ends) // len(act)
    return Occupancy.of(obs, act, episode, ends, horizon, 10_000, np.random.default_rng(0))


FULL = [(100, False)] * 4


def test_mmd_is_zero_for_the_reference_itself_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    obs, act = _pairs(rng, 400)
    space = PairSpace(_occ(obs, act, FULL), n_actions=2)
    assert space.mmd2(_occ(obs, act, FULL)) == pytest.approx(0.0, abs=1e-12)
    same = space.mmd2(_occ(*_pairs(rng, 400), FULL))
    near = space.mmd2(_occ(*_pairs(rng, 400, shift=0.5), FULL))
    far = space.mmd2(_occ(*_pairs(rng, 400, shift=2.0), FULL))
    assert 0.0 <= same < near < far


def test_mmd_charges_episodes_that_end_early_with_the_absorbing_state():
    """Same states, but the candidate's episodes terminate at step 10 of 100: 90% of its occupancy is
    absorbing. Episodes truncated early (a shorter cap) put none there."""
    rng = np.random.default_rng(1)
    obs, act = _pairs(rng, 400)
    space = PairSpace(_occ(obs, act, FULL), n_actions=2)
    falls = _occ(*_pairs(rng, 400), [(10, True)] * 4)
    assert falls.absorbing == pytest.approx(0.9) and falls.weights.sum() == pytest.approx(0.1)
    assert _occ(obs, act, [(10, False)] * 4).absorbing == 0.0
    assert _occ(obs, act, [(10, True)] * 4, horizon=None).absorbing == 0.0
    assert space.mmd2(falls) > 0.5 > space.mmd2(_occ(*_pairs(rng, 400), FULL))


def test_occupancy_weighs_each_episode_by_its_own_ending():
    """One episode terminated at 100 and one truncated at 200, horizon 500: the first's pairs carry
    100 / (2 * 500) = 0.1 of the mass, the second's 0.5, the absorbing state (500 - 100) / (2 * 500) = 0.4."""
    obs, act = np.zeros((300, 3)), np.zeros(300, dtype=np.int64)
    episode = np.array([0] * 100 + [1] * 200)
    occ = Occupancy.of(obs, act, episode, [(100, True), (200, False)], 500, 10_000, np.random.default_rng(0))
    assert occ.absorbing == pytest.approx(0.4)
    assert occ.weights[:100].sum() == pytest.approx(0.1) and occ.weights[100:].sum() == pytest.approx(0.5)


def test_evaluation_records_exactly_the_pairs_of_the_counted_episodes():
    policy = load_policy(EXPERT)
    result = evaluate(policy, episodes=3, seed=1, num_envs=2, record_pairs=True)
    assert result.pairs is not None
    obs, actions, episode = result.pairs
    assert len(obs) == len(actions) == sum(result.lengths)
    assert np.bincount(episode).tolist() == result.lengths  # each pair knows its episode
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


def _selection(tmp_path: Path, **kw) -> RewardFreeSelection:
    demos = read_dataset(ASSETS / "datasets" / "gailrun" / "cartpole-ppo-v0").episodes[:3]
    settings = SelectSettings(
        **{"every_steps": 10, "episodes": 4, "seed": 0, "criterion": "mmd", "max_pairs": 300, **kw}
    )
    return RewardFreeSelection(settings, demos, "test", 2, None, 500, tmp_path)


def test_choose_breaks_ties_towards_the_later_candidate(tmp_path: Path):
    sel = _selection(tmp_path)
    sel.records = [
        {"step": 0, "mmd": 0.2, "demo_nll": 1.0},
        {"step": 10, "mmd": 0.1, "demo_nll": 2.0},
        {"step": 20, "mmd": 0.1, "demo_nll": 3.0},
    ]
    assert sel.choose("mmd")["step"] == 20
    assert sel.choose("demo_nll")["step"] == 0


def test_the_final_discriminator_scores_every_candidate_and_the_highest_wins(tmp_path: Path):
    sel = _selection(tmp_path, criterion="final_d")
    expert = load_policy(EXPERT)
    sel.add(0, expert.checkpoint)
    lazy = dict(
        expert.checkpoint, agent={k: torch.zeros_like(v) for k, v in expert.checkpoint["agent"].items()}
    )
    sel.add(10, lazy)  # uniform logits: the argmax always pushes left, the pole falls in ~10 steps
    # A "discriminator" that likes upright poles: P(expert) = 1 - |angle| / 0.21.
    body = sel.finish(lambda obs, act: 1.0 - np.abs(obs[:, 2]) / 0.21)
    by_step = {c["step"]: c for c in body["candidates"]}
    assert by_step[0]["final_d"] > by_step[10]["final_d"]
    assert body["chosen"]["final_d"]["step"] == 0 and body["criterion"] == "final_d"
    assert by_step[10]["absorbing"] > 0.9 and by_step[0]["absorbing"] == 0.0
    assert by_step[0]["mmd"] < by_step[10]["mmd"]  # the expert is nearer its own demonstrations
    assert (tmp_path / "best_rf.pt").exists() and (tmp_path / "rf_selection.json").exists()


def test_infogail_candidates_play_their_codes_in_equal_shares(tmp_path: Path):
    """The demonstrators' styles are mixed in equal shares, so a policy that separates them cleanly must
    not be charged for playing one code more often than the other."""
    sel = _selection(tmp_path, episodes=10)
    agent = ActorCritic(4 + 2, 2)
    policy = Policy(agent, ObsNormalizer(4, enabled=False), "CartPole-v1", "infogail", {}, n_codes=2)
    played = sel.play(policy, step=0)
    assert played.codes == [0] * 5 + [1] * 5 and len(played.lengths) == 10
    plain = sel.play(load_policy(EXPERT), step=0)
    assert plain.codes == [None] * 10


def test_without_held_out_demonstrations_the_training_ones_are_the_reference(tmp_path: Path):
    from omegaconf import OmegaConf

    from gailrun.data.expert import load_expert
    from gailrun.envs.make import env_info

    info = env_info("CartPole-v1")
    path = str(ASSETS / "datasets" / "gailrun" / "cartpole-ppo-v0")
    every = OmegaConf.create({"path": path, "min_score": None, "n_samples": None, "seed": 0})
    some = OmegaConf.create({"path": path, "min_score": None, "n_samples": 5, "seed": 0})
    cfg = OmegaConf.create(
        {
            "algo": {"name": "gail"},
            "env": {"max_episode_steps": 200},
            "train": {"total_steps": 1000, "max_episodes": None},
            "select": {
                "candidates": 4,
                "every_steps": None,
                "episodes": 2,
                "seed": 0,
                "criterion": "mmd",
                "max_pairs": 50,
            },
        }
    )
    all_drawn = build_selection(cfg, load_expert(every, info), info, tmp_path)
    held = build_selection(cfg, load_expert(some, info), info, tmp_path)
    assert all_drawn is not None and held is not None
    assert all_drawn.reference_kind.startswith("training demonstrations")
    assert (all_drawn.n_reference_episodes, held.n_reference_episodes) == (20, 15)
    assert held.reference_kind == "held-out demonstrations" and held.s.every_steps == 250
    assert (held.cap, held.horizon) == (200, 200)  # candidates play the run's cap, the horizon follows it
    cfg.algo.name = "ppo"
    assert build_selection(cfg, load_expert(some, info), info, tmp_path) is None


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
    # Without final evaluations the summary still says what was chosen, by what, at which step.
    sel = json.loads((on / "summary.json").read_text())["selection"]
    assert sel["criterion"] == "mmd" and "headline_mean" not in sel and (on / "best_rf.pt").exists()
    assert sel["step"] == sel["by_criterion"]["mmd"]["step"]
