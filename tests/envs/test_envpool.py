"""`env.backend=envpool` against Gymnasium, side by side: spaces, NEXT_STEP autoreset rows, time limits,
CartPole's dynamics step for step, and same-seed training runs."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from gailrun.envs.make import make_vec_env, seed_vec_env
from tests.helpers import read_json, run_cli

pytest.importorskip("envpool")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _rollout(envs: gym.vector.VectorEnv, steps: int, seed: int) -> dict[str, np.ndarray]:
    """Step with random actions; stack what every step returned."""
    obs = [seed_vec_env(envs, seed)]
    rewards, terms, truncs = [], [], []
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        o, r, te, tr, _ = envs.step(rng.integers(0, envs.single_action_space.n, envs.num_envs))
        obs.append(o)
        rewards.append(r)
        terms.append(te)
        truncs.append(tr)
    envs.close()
    return {
        "obs": np.stack(obs),
        "reward": np.stack(rewards),
        "term": np.stack(terms),
        "trunc": np.stack(truncs),
    }


def _reset_rows(run: dict[str, np.ndarray]) -> np.ndarray:
    """Steps that are autoresets: the step right after a termination or truncation."""
    done = run["term"] | run["trunc"]
    return np.concatenate([np.zeros_like(done[:1]), done[:-1]])


@pytest.mark.parametrize(("env_id", "limit"), [("CartPole-v1", 15), ("LunarLander-v3", 60)])
def test_envpool_has_gymnasium_spaces_and_next_step_autoreset(env_id: str, limit: int):
    runs = {
        backend: _rollout(
            make_vec_env(env_id, 4, backend=backend, max_episode_steps=limit), steps=300, seed=3
        )
        for backend in ("gymnasium", "envpool")
    }
    for backend, run in runs.items():
        assert run["obs"].dtype == np.float32, backend
        reset = _reset_rows(run)
        assert reset.any(), backend
        # A reset step pays nothing and ends nothing, in both backends.
        assert (run["reward"][reset] == 0).all(), backend
        assert not (run["term"][reset] | run["trunc"][reset]).any(), backend
        # The time limit truncates after exactly `limit` steps and no episode runs longer.
        for i in range(4):
            starts = np.flatnonzero(reset[:, i])
            for end in np.flatnonzero(run["term"][:, i] | run["trunc"][:, i]):
                start = starts[starts <= end].max() if (starts <= end).any() else -1
                assert end - start <= limit, (backend, i, start, end)
                assert run["trunc"][end, i] == (end - start == limit), (backend, i, start, end)
    assert runs["envpool"]["obs"].shape == runs["gymnasium"]["obs"].shape


def test_envpool_cartpole_dynamics_match_gymnasium_step_for_step():
    envs = make_vec_env("CartPole-v1", 1, backend="envpool")
    obs = seed_vec_env(envs, 11)
    ref = gym.make("CartPole-v1").unwrapped
    ref.reset(seed=0)
    ref.state = obs[0].astype(np.float64)
    rng = np.random.default_rng(0)
    for _ in range(500):
        action = int(rng.integers(2))
        o, r, te, _, _ = envs.step(np.array([action]))
        o_ref, r_ref, te_ref, _, _ = ref.step(action)
        np.testing.assert_allclose(o[0], o_ref, atol=1e-5)
        assert (r[0], bool(te[0])) == (r_ref, te_ref)
        if te_ref:
            break
    else:
        pytest.fail("a random policy should drop the pole within 500 steps")
    envs.close()


def test_envpool_reset_with_a_seed_is_reproducible_for_any_thread_count():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = _rollout(make_vec_env("LunarLander-v3", 3, backend="envpool"), steps=200, seed=7)
        b = _rollout(make_vec_env("LunarLander-v3", 3, backend="envpool"), steps=200, seed=7)
        c = _rollout(make_vec_env("LunarLander-v3", 3, backend="envpool"), steps=200, seed=8)
        one_thread = _rollout(
            make_vec_env("LunarLander-v3", 3, backend="envpool", workers=1), steps=200, seed=7
        )
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], one_thread[key])
    assert not np.array_equal(a["obs"], c["obs"])


def test_training_on_envpool_is_reproducible_and_evaluates_on_gymnasium(tmp_path: Path):
    fast = ("env=lunarlander", "env.backend=envpool", "env.num_envs=4", "algo.num_steps=128")
    runs = []
    for name in ("a", "b"):
        out = run_cli(
            "train",
            *fast,
            "train.total_steps=2048",
            "final_eval.episodes=2",
            "seed=4",
            f"hydra.run.dir={tmp_path / name}",
        )
        assert out.returncode == 0, out.stderr
        runs.append(tmp_path / name)
    assert (runs[0] / "metrics.csv").read_bytes() == (runs[1] / "metrics.csv").read_bytes()
    assert read_json(runs[0] / "eval.json")["env_id"] == "LunarLander-v3"


def test_envpool_refuses_what_it_cannot_do():
    from gailrun.errors import GailrunError

    with pytest.raises(GailrunError, match="envpool has no Taxi-v4"):
        make_vec_env("Taxi-v4", 2, backend="envpool")
    with pytest.raises(GailrunError, match=r"env\.shaping needs env\.backend=gymnasium"):
        make_vec_env("CartPole-v1", 2, backend="envpool", shaping={"target": 1.0, "weight": 1.0})
    with pytest.raises(GailrunError, match=r"env\.backend must be"):
        make_vec_env("CartPole-v1", 2, backend="jax")
