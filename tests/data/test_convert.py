"""Dataset conversion: round trips through imitation, d3rlpy and SB3 layouts keep every array, foreign files
are read by their documented conventions, and every bad input is refused in one line with nothing written."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np
import pytest

from gailrun.data.convert import (
    export_d3rlpy,
    export_dataset,
    export_imitation,
    export_imitation_npz,
    import_d3rlpy,
    import_dataset,
    import_imitation,
    import_imitation_npz,
    import_sb3,
)
from gailrun.data.episodes import FIELDS, Episode
from gailrun.data.minari_io import Dataset, read_dataset, write_dataset
from gailrun.errors import DataError
from tests.helpers import run_cli

ENDS = [
    (True, False),
    (False, True),
    (True, True),
    (False, False),
]  # (terminated, truncated) at the last step


def episodes(n: int, obs_dim: int = 4, n_actions: int = 2, seed: int = 0) -> list[Episode]:
    """Random episodes that cycle through every way an episode can end, with seeds and attrs."""
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        t = int(rng.integers(2, 12))
        term, trunc = np.zeros(t, bool), np.zeros(t, bool)
        term[-1], trunc[-1] = ENDS[i % len(ENDS)]
        eps.append(
            Episode(
                rng.normal(size=(t + 1, obs_dim)),
                rng.integers(0, n_actions, t),
                rng.normal(size=t) + i,
                term,
                trunc,
                seed=None if i == 2 else 100 + i,
                attrs={"style": i % 2},
            )
        )
    return eps


def assert_same(a: list[Episode], b: list[Episode]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for name in FIELDS:
            assert getattr(x, name).dtype == getattr(y, name).dtype, name
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        assert (x.seed, x.attrs) == (y.seed, y.attrs)


@pytest.fixture
def minari(tmp_path: Path) -> Dataset:
    write_dataset(tmp_path / "ds", Dataset("CartPole-v1", episodes(9)))
    return read_dataset(tmp_path / "ds")


# ------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "fmt, name", [("imitation", "hf"), ("imitation-npz", "demos.npz"), ("d3rlpy", "demos.h5")]
)
def test_round_trip_preserves_every_array(tmp_path: Path, minari: Dataset, fmt: str, name: str):
    export_dataset(fmt, minari, tmp_path / name)
    back = import_dataset(fmt, tmp_path / name, "CartPole-v1")
    assert_same(minari.episodes, back.episodes)
    write_dataset(tmp_path / "back", back)
    assert read_dataset(tmp_path / "back").card["content_sha256"] == minari.card["content_sha256"]
    src = back.card["source"]
    assert src["format"] == fmt and src["original"] == str((tmp_path / name).resolve())
    assert back.card["episode_ends"] == {"terminated": 5, "truncated": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ds", "back", name])  # no temp siblings


def test_exports_refuse_to_overwrite_and_replace_when_asked(tmp_path: Path, minari: Dataset):
    for export, name in [(export_imitation, "hf"), (export_imitation_npz, "x.npz"), (export_d3rlpy, "x.h5")]:
        export(minari, tmp_path / name)
        before = sorted(p.name for p in tmp_path.rglob("*"))
        with pytest.raises(DataError, match="already exists; pass --overwrite"):
            export(minari, tmp_path / name)
        export(minari, tmp_path / name, overwrite=True)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before


# ---------------------------------------------------------------------------------- imitation, datasets


def test_datasets_library_opens_the_imitation_export(tmp_path: Path, minari: Dataset):
    datasets = pytest.importorskip("datasets")
    export_imitation(minari, tmp_path / "hf")
    hf = datasets.load_from_disk(str(tmp_path / "hf"))
    assert hf.column_names == ["obs", "acts", "infos", "terminal", "rews"]
    assert hf.num_rows == len(minari.episodes)
    assert str(hf.features["obs"].feature.feature.dtype) == "float32"
    assert str(hf.features["rews"].feature.dtype) == "float64"
    for i, ep in enumerate(minari.episodes):
        row = hf[i]
        np.testing.assert_array_equal(np.array(row["obs"], np.float32), ep.observations)
        assert row["acts"] == ep.actions.tolist() and row["rews"] == ep.rewards.tolist()
        assert row["terminal"] == bool(ep.terminations[-1])  # imitation: ended by termination
        last = json.loads(row["infos"][-1])
        assert last["TimeLimit.truncated"] == bool(ep.truncations[-1] and not ep.terminations[-1])
        assert len(row["infos"]) == ep.length


def test_imitation_directory_written_by_datasets_maps_terminal_explicitly(tmp_path: Path):
    """A directory as imitation's serialize.save writes it (datasets' from_dict + save_to_disk)."""
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(1)
    lengths = [5, 4, 3]
    trajs = {
        "obs": [rng.normal(size=(t + 1, 4)).astype(np.float32) for t in lengths],
        "acts": [rng.integers(0, 2, t) for t in lengths],
        "infos": [
            ["{}"] * (t - 1) + [info]
            for t, info in zip(lengths, ["{}", '{"TimeLimit.truncated": true}', "{}"], strict=True)
        ],
        "terminal": [True, True, False],
        "rews": [np.ones(t) for t in lengths],
    }
    datasets.Dataset.from_dict(trajs).save_to_disk(str(tmp_path / "imit"))
    ds = import_imitation(tmp_path / "imit", "CartPole-v1")
    ends = [(bool(ep.terminations[-1]), bool(ep.truncations[-1])) for ep in ds.episodes]
    # terminal -> termination; terminal at a time limit (SB3's info) -> truncation; an unfinished fragment
    # (terminal false) -> truncation
    assert ends == [(True, False), (False, True), (False, True)]
    for ep, obs, acts in zip(ds.episodes, trajs["obs"], trajs["acts"], strict=True):
        np.testing.assert_array_equal(ep.observations, obs)
        np.testing.assert_array_equal(ep.actions, acts)
        assert not ep.terminations[:-1].any() and not ep.truncations[:-1].any()


def test_imitation_without_rewards_or_as_a_file_is_refused(tmp_path: Path, minari: Dataset):
    datasets = pytest.importorskip("datasets")
    no_rews = {
        "obs": [np.zeros((3, 4), np.float32)],
        "acts": [[0, 1]],
        "infos": [["{}", "{}"]],
        "terminal": [True],
    }
    datasets.Dataset.from_dict(no_rews).save_to_disk(str(tmp_path / "norews"))
    with pytest.raises(DataError, match="no rews column"):
        import_imitation(tmp_path / "norews", "CartPole-v1")
    export_imitation_npz(minari, tmp_path / "x.npz")
    with pytest.raises(DataError, match=r"is a file.*--from imitation-npz"):
        import_imitation(tmp_path / "x.npz", "CartPole-v1")


# ------------------------------------------------------------------------------------- imitation, npz


def test_npz_export_is_what_imitation_loads(tmp_path: Path, minari: Dataset):
    """Split the export the way imitation's serialize.load does for the .npz layout."""
    export_imitation_npz(minari, tmp_path / "x.npz")
    data = np.load(tmp_path / "x.npz", allow_pickle=True)  # imitation's own call; infos is an object array
    assert {"obs", "acts", "infos", "terminal", "indices", "rews"} <= set(data.files)
    idx = data["indices"]
    assert len(idx) == len(minari.episodes) - 1
    obs = np.split(data["obs"], idx + np.arange(len(idx)) + 1)
    acts, rews, infos = (np.split(data[k], idx) for k in ("acts", "rews", "infos"))
    for i, ep in enumerate(minari.episodes):
        np.testing.assert_array_equal(obs[i], ep.observations)
        np.testing.assert_array_equal(acts[i], ep.actions)
        np.testing.assert_array_equal(rews[i], ep.rewards)
        assert data["terminal"][i] == ep.terminations[-1] and len(infos[i]) == ep.length


def test_foreign_npz_maps_terminal_and_ignores_pickled_infos(tmp_path: Path):
    rng = np.random.default_rng(2)
    lengths = [3, 5]
    np.savez_compressed(
        tmp_path / "old.npz",
        obs=rng.normal(size=(sum(lengths) + 2, 4)).astype(np.float32),
        acts=rng.integers(0, 2, sum(lengths)),
        infos=np.array([{} for _ in range(sum(lengths))], dtype=object),
        terminal=np.array([True, False]),
        indices=np.array([3]),
        rews=np.ones(sum(lengths), np.float32),
    )
    ds = import_imitation_npz(tmp_path / "old.npz", "CartPole-v1")
    assert [ep.length for ep in ds.episodes] == lengths
    assert [bool(ep.terminations[-1]) for ep in ds.episodes] == [True, False]
    assert [bool(ep.truncations[-1]) for ep in ds.episodes] == [False, True]
    assert ds.episodes[1].rewards.dtype == np.float64
    (tmp_path / "old.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataError, match="is a pickle"):
        import_imitation_npz(tmp_path / "old.pkl", "CartPole-v1")


# --------------------------------------------------------------------------------------------- d3rlpy


def d3rlpy_v2(path: Path, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]) -> None:
    """A file in d3rlpy 2.x's `dump` layout, without gailrun's extras (as d3rlpy itself writes it)."""
    with h5py.File(path, "w") as h5:
        h5.create_dataset("columns", data=["observations", "actions", "rewards", "terminated"])
        h5.create_dataset("num_episodes", data=len(rows))
        for i, (obs, acts, rews, terminated) in enumerate(rows):
            h5.create_dataset(f"observations_{i}", data=obs)
            h5.create_dataset(f"actions_{i}", data=acts)
            h5.create_dataset(f"rewards_{i}", data=rews)
            h5.create_dataset(f"terminated_{i}", data=terminated)
        h5.create_dataset("version", data="2.1")


def test_d3rlpy_export_follows_the_documented_layout(tmp_path: Path, minari: Dataset):
    export_d3rlpy(minari, tmp_path / "x.h5")
    with h5py.File(tmp_path / "x.h5", "r") as h5:
        assert [c.decode() for c in h5["columns"][()]] == ["observations", "actions", "rewards", "terminated"]
        assert h5["version"][()] == b"2.1" and h5["num_episodes"][()] == len(minari.episodes)
        for i, ep in enumerate(minari.episodes):  # T aligned rows, no final observation
            obs, acts, rews = h5[f"observations_{i}"][()], h5[f"actions_{i}"][()], h5[f"rewards_{i}"][()]
            assert obs.shape == (ep.length, 4) and obs.dtype == np.float32
            assert acts.shape == (ep.length, 1) and acts.dtype == np.int64
            assert rews.shape == (ep.length, 1) and rews.dtype == np.float32
            np.testing.assert_array_equal(obs, ep.observations[:-1])
            assert bool(h5[f"terminated_{i}"][()]) == bool(ep.terminations[-1])
    if importlib.util.find_spec("d3rlpy") is not None:  # d3rlpy pins gymnasium 1.0, so rarely installed
        from d3rlpy.dataset import InfiniteBuffer, ReplayBuffer

        with open(tmp_path / "x.h5", "rb") as f:
            assert len(ReplayBuffer.load(f, InfiniteBuffer()).episodes) == len(minari.episodes)


def test_foreign_d3rlpy_final_observation_is_not_invented(tmp_path: Path):
    rng = np.random.default_rng(3)
    obs = rng.normal(size=(12, 4)).astype(np.float32)
    acts = rng.integers(0, 2, (12, 1))
    rews = np.ones((12, 1), np.float32)
    d3rlpy_v2(tmp_path / "f.h5", [(obs[:5], acts[:5], rews[:5], True), (obs[5:], acts[5:], rews[5:], False)])
    with pytest.raises(
        DataError,
        match=r"episode 0 ends in termination.*T aligned rows.*final observation, "
        r"so it is unknown; pass --zero-final-obs",
    ):
        import_d3rlpy(tmp_path / "f.h5", "CartPole-v1")
    ds = import_d3rlpy(tmp_path / "f.h5", "CartPole-v1", zero_final_obs=True)
    done, cut = ds.episodes
    np.testing.assert_array_equal(done.observations, np.concatenate([obs[:5], np.zeros((1, 4), np.float32)]))
    assert done.length == 5 and done.terminations[-1] and not done.truncations[-1]
    # a timed-out episode: its last row is the final observation; that row's action and reward are unused
    np.testing.assert_array_equal(cut.observations, obs[5:])
    np.testing.assert_array_equal(cut.actions, acts[5:-1, 0])
    assert cut.length == 6 and cut.truncations[-1] and not cut.terminations[-1]
    assert ds.card["d3rlpy_final_observation"] == {
        "timed_out_last_row_used_as_final_observation": 1,
        "terminated_final_observation_zeros": 1,
        "single_row_timed_out_episodes_dropped": 0,
    }


def test_d3rlpy_v1_layout(tmp_path: Path):
    rng = np.random.default_rng(4)
    n = 10
    with h5py.File(tmp_path / "v1.h5", "w") as h5:
        h5.create_dataset("observations", data=rng.normal(size=(n, 4)).astype(np.float32))
        h5.create_dataset("actions", data=rng.integers(0, 2, n).astype(np.int32))
        h5.create_dataset("rewards", data=np.ones(n, np.float32))
        h5.create_dataset("terminals", data=np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], np.float32))
        h5.create_dataset("episode_terminals", data=np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0], np.float32))
        h5.create_dataset("discrete_action", data=True)
        h5.create_dataset("version", data="1.0")
    ds = import_d3rlpy(tmp_path / "v1.h5", "CartPole-v1", zero_final_obs=True)
    assert [ep.length for ep in ds.episodes] == [3, 2]  # the timed-out episode gives up its last row
    assert ds.card["trailing_rows_dropped"] == 4 and ds.card["incomplete_episodes_dropped"] == 1


# ------------------------------------------------------------------------------- conventions and shapes


def test_off_by_one_is_named_in_every_format(tmp_path: Path, minari: Dataset):
    ep = minari.episodes[0]
    np.savez(
        tmp_path / "short.npz",
        obs=ep.observations[:-1],
        acts=ep.actions,
        terminal=[True],
        indices=np.zeros(0, np.int64),
        rews=ep.rewards,
    )
    with pytest.raises(DataError, match="expects one more observation than actions per trajectory"):
        import_imitation_npz(tmp_path / "short.npz", "CartPole-v1")

    datasets = pytest.importorskip("datasets")
    row = {
        "obs": [ep.observations[:-1]],
        "acts": [ep.actions],
        "infos": [["{}"] * ep.length],
        "terminal": [True],
        "rews": [ep.rewards],
    }
    datasets.Dataset.from_dict(row).save_to_disk(str(tmp_path / "short_hf"))
    with pytest.raises(DataError, match=r"trajectory 0: .*expected one more observation than actions"):
        import_imitation(tmp_path / "short_hf", "CartPole-v1")

    # a Minari-style T + 1 observations in a d3rlpy file: not T aligned rows
    d3rlpy_v2(tmp_path / "long.h5", [(ep.observations, ep.actions[:, None], ep.rewards[:, None], True)])
    with pytest.raises(DataError, match="d3rlpy stores T aligned rows"):
        import_d3rlpy(tmp_path / "long.h5", "CartPole-v1", zero_final_obs=True)


def test_shapes_are_checked_against_the_env(tmp_path: Path, minari: Dataset):
    export_imitation_npz(minari, tmp_path / "x.npz")
    with pytest.raises(
        DataError, match=r"observations have shape \(4,\) per step but LunarLander-v3 expects \(8,\)"
    ):
        import_imitation_npz(tmp_path / "x.npz", "LunarLander-v3")
    ep = minari.episodes[0]
    two_d = np.stack([ep.actions, ep.actions], axis=1)
    d3rlpy_v2(tmp_path / "a.h5", [(ep.observations[:-1], two_d, ep.rewards[:, None], False)])
    with pytest.raises(
        DataError, match=r"actions have shape \(2,\) per step but CartPole-v1 expects one discrete"
    ):
        import_d3rlpy(tmp_path / "a.h5", "CartPole-v1")
    d3rlpy_v2(
        tmp_path / "r.h5", [(ep.observations[:-1], ep.actions[:, None] + 5, ep.rewards[:, None], False)]
    )
    with pytest.raises(DataError, match=r"action [5-6] is outside CartPole-v1's Discrete\(2\)"):
        import_d3rlpy(tmp_path / "r.h5", "CartPole-v1")


# ------------------------------------------------------------------------------------------------ SB3

CARTPOLE_X, CARTPOLE_THETA = 2.4, 12 * 2 * np.pi / 360


def sb3_buffer(path: Path, n_envs: int, buffer_size: int, steps: int, limit: int = 500) -> Path:
    """A replay buffer saved by a real SB3 DQN that collected `steps` steps (no gradient steps: faster)."""
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: gym.make("CartPole-v1", max_episode_steps=limit)] * n_envs)
    model = sb3.DQN(
        "MlpPolicy",
        venv,
        buffer_size=buffer_size,
        learning_starts=10**6,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [8]},
    )
    model.learn(steps)
    model.save_replay_buffer(path)
    return path.with_suffix(".pkl")


@pytest.fixture(scope="module")
def sb3_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sb3")


def check_cartpole_episodes(eps: list[Episode], limit: int) -> None:
    for ep in eps:
        final = ep.observations[-1]
        out = abs(final[0]) > CARTPOLE_X or abs(final[2]) > CARTPOLE_THETA
        assert bool(ep.terminations[-1]) == out  # the true terminal observation, not the reset one
        if ep.truncations[-1]:
            assert ep.length == limit
        assert (ep.rewards == 1.0).all() and not (ep.terminations[:-1] | ep.truncations[:-1]).any()


def test_sb3_buffer_from_a_real_dqn(sb3_dir: Path):
    src = sb3_buffer(sb3_dir / "plain", n_envs=1, buffer_size=1000, steps=300)
    ds = import_sb3(src, "CartPole-v1", trust_pickle=True)
    check_cartpole_episodes(ds.episodes, 500)
    buf = pickle.loads(src.read_bytes())
    assert not buf.full and ds.episodes[0].seed is None
    np.testing.assert_array_equal(
        ds.episodes[0].observations[:-1], buf.observations[: ds.episodes[0].length, 0]
    )
    dropped = buf.pos - ds.total_steps
    assert ds.card["incomplete_episodes_dropped"] == int(dropped > 0)
    assert ds.card["sb3_buffer"]["trailing_fragments_dropped"] == int(dropped > 0)
    assert ds.card["source"]["format"] == "sb3"


def test_sb3_wrapped_buffer_with_two_envs_and_time_limits(sb3_dir: Path):
    src = sb3_buffer(sb3_dir / "wrapped", n_envs=2, buffer_size=200, steps=330, limit=15)
    ds = import_sb3(src, "CartPole-v1", trust_pickle=True)
    buf = pickle.loads(src.read_bytes())
    assert buf.full and buf.n_envs == 2 and buf.pos != 0
    check_cartpole_episodes(ds.episodes, 15)
    assert any(ep.truncations[-1] for ep in ds.episodes) and any(ep.terminations[-1] for ep in ds.episodes)
    info = ds.card["sb3_buffer"]
    assert info["n_envs"] == 2 and info["full"] and info["leading_fragments_dropped"] == 2
    assert ds.card["incomplete_episodes_dropped"] == 2 + info["trailing_fragments_dropped"]
    assert ds.total_steps < 2 * buf.buffer_size


def test_sb3_wrap_around_and_columns_are_exact(tmp_path: Path):
    """Known episodes fed through SB3's own ReplayBuffer.add; the importer must return exactly the complete
    ones whose start is still known, in order of completion."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.buffers import ReplayBuffer

    env = gym.make("CartPole-v1")
    n_envs, size, steps = 2, 40, 57  # 40 // 2 = 20 rows per env; 57 steps wrap it
    buf = ReplayBuffer(size, env.observation_space, env.action_space, device="cpu", n_envs=n_envs)
    rng = np.random.default_rng(5)
    streams = []  # per env: list of (start step, Episode)
    for _ in range(n_envs):
        eps, t = [], 0
        while t < steps:
            length = int(rng.integers(1, 7))
            term = bool(rng.integers(0, 2))
            e = Episode(
                rng.normal(size=(length + 1, 4)),
                rng.integers(0, 2, length),
                rng.integers(-3, 4, length).astype(float),
                *_flags(length, term),
            )
            eps.append((t, e))
            t += length
        streams.append(eps)
    cursor = [[0, 0] for _ in range(n_envs)]  # episode index, step within it
    for _ in range(steps):
        obs, nxt, act, rew, done, infos = [], [], [], [], [], []
        for j in range(n_envs):
            k, s = cursor[j]
            e = streams[j][k][1]
            obs.append(e.observations[s])
            nxt.append(e.observations[s + 1])
            act.append(e.actions[s])
            rew.append(e.rewards[s])
            last = s == e.length - 1
            done.append(last)
            infos.append({"TimeLimit.truncated": bool(last and e.truncations[-1])})
            cursor[j] = [k + 1, 0] if last else [k, s + 1]
        buf.add(np.array(obs), np.array(nxt), np.array(act), np.array(rew), np.array(done), infos)
    with open(tmp_path / "buf.pkl", "wb") as f:
        pickle.dump(buf, f)

    oldest = steps - buf.buffer_size
    expected = sorted(
        (start + e.length - 1, j, e)
        for j, eps in enumerate(streams)
        for start, e in eps
        if start - 1 >= oldest and start + e.length <= steps  # start known, and complete
    )
    ds = import_sb3(tmp_path / "buf", "CartPole-v1", trust_pickle=True)  # SB3 appends .pkl; so do we
    got = ds.episodes
    assert len(got) == len(expected) > 3
    for g, (_, _, e) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g.observations, e.observations.astype(np.float32))
        np.testing.assert_array_equal(g.actions, e.actions)
        np.testing.assert_array_equal(g.rewards, e.rewards)
        np.testing.assert_array_equal(g.terminations, e.terminations)
        np.testing.assert_array_equal(g.truncations, e.truncations)


def _flags(length: int, terminated: bool) -> tuple[np.ndarray, np.ndarray]:
    term, trunc = np.zeros(length, bool), np.zeros(length, bool)
    term[-1], trunc[-1] = terminated, not terminated
    return term, trunc


def test_sb3_memory_optimized_buffer_is_refused(tmp_path: Path):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.buffers import ReplayBuffer

    env = gym.make("CartPole-v1")
    buf = ReplayBuffer(
        8,
        env.observation_space,
        env.action_space,
        device="cpu",
        optimize_memory_usage=True,
        handle_timeout_termination=False,
    )
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(buf))
    with pytest.raises(DataError, match=r"optimize_memory_usage=True.*final observation"):
        import_sb3(tmp_path / "m.pkl", "CartPole-v1", trust_pickle=True)


class _Payload:
    """A pickle that creates a directory when loaded, standing in for code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_sb3_is_refused_without_the_trust_flag(tmp_path: Path):
    marker = tmp_path / "code-ran"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(DataError, match=r"pickle.*--trust-pickle"):
        import_sb3(tmp_path / "evil.pkl", "CartPole-v1")
    out = run_cli(
        "data",
        "import",
        "--from",
        "sb3",
        str(tmp_path / "evil.pkl"),
        str(tmp_path / "out"),
        "--env",
        "CartPole-v1",
    )
    assert out.returncode == 1 and not marker.exists() and not (tmp_path / "out").exists()
    assert out.stderr.startswith("gailrun: error: refusing to load") and out.stderr.count("\n") == 1
    assert "--trust-pickle" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pkl"]


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_export_import_round_trip(tmp_path: Path, minari: Dataset):
    out = run_cli("data", "export", "--to", "imitation-npz", str(minari.path), str(tmp_path / "demos.npz"))
    assert out.returncode == 0, out.stderr
    assert "exported 9 episodes" in out.stdout
    out = run_cli(
        "data",
        "import",
        "--from",
        "imitation-npz",
        str(tmp_path / "demos.npz"),
        str(tmp_path / "back"),
        "--env",
        "CartPole-v1",
    )
    assert out.returncode == 0, out.stderr
    back = read_dataset(tmp_path / "back")
    assert_same(minari.episodes, back.episodes)
    assert back.dataset_id == "gailrun/back-v0" and back.card["source"]["format"] == "imitation-npz"
    info = run_cli("data", "info", str(tmp_path / "back"))
    assert info.returncode == 0 and "source.format imitation-npz" in info.stdout


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path: Path, minari: Dataset):
    export_imitation_npz(minari, tmp_path / "x.npz")
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (
            [
                "import",
                "--from",
                "imitation-npz",
                str(tmp_path / "x.npz"),
                str(tmp_path / "o"),
                "--env",
                "LunarLander-v3",
            ],
            "expects (8,)",
        ),
        (
            [
                "import",
                "--from",
                "d3rlpy",
                str(tmp_path / "x.npz"),
                str(tmp_path / "o"),
                "--env",
                "CartPole-v1",
            ],
            "not HDF5",
        ),
        (
            [
                "import",
                "--from",
                "imitation",
                str(tmp_path / "x.npz"),
                str(tmp_path / "o"),
                "--env",
                "CartPole-v1",
                "--trust-pickle",
            ],
            "--trust-pickle applies to --from sb3 only",
        ),
        (["export", "--to", "d3rlpy", str(minari.path), str(tmp_path / "x.npz")], "already exists"),
        (["export", "--to", "d3rlpy", str(tmp_path / "nope"), str(tmp_path / "o.h5")], "does not exist"),
    ]
    for args, message in cases:
        out = run_cli("data", *args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert out.stderr.startswith("gailrun: error: ") and out.stderr.count("\n") == 1, out.stderr
        assert message in out.stderr, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
