"""Expert datasets: gailrun writes the Minari format, Minari reads it, and bad data is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from gailrun.data.episodes import Episode, content_hash
from gailrun.data.expert import load_expert
from gailrun.data.minari_io import Dataset, read_dataset, write_dataset
from gailrun.envs.make import env_info
from gailrun.errors import DataError
from gailrun.models.policy import load_policy
from tests.helpers import run_cli


def random_episodes(n: int, obs_dim: int = 4, n_actions: int = 2, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        t = int(rng.integers(5, 20))
        term = np.zeros(t, bool)
        term[-1] = True
        eps.append(
            Episode(
                rng.normal(size=(t + 1, obs_dim)),
                rng.integers(0, n_actions, t),
                rng.normal(size=t) + i,
                term,
                np.zeros(t, bool),
                seed=i,
            )
        )
    return eps


def test_round_trip_preserves_every_array(tmp_path: Path):
    eps = random_episodes(5)
    write_dataset(tmp_path / "ds", Dataset("CartPole-v1", eps, card={"note": "x"}))
    back = read_dataset(tmp_path / "ds")
    assert back.env_id == "CartPole-v1" and back.card["note"] == "x"
    assert back.card["content_sha256"] == content_hash(eps)
    for a, b in zip(eps, back.episodes, strict=True):
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
            assert getattr(a, name).dtype == getattr(b, name).dtype
        assert a.seed == b.seed


def test_minari_loads_gailrun_datasets(tmp_path: Path, monkeypatch):
    minari = pytest.importorskip("minari")
    eps = random_episodes(3)
    root = tmp_path / "root"
    write_dataset(root / "gailrun" / "toy-v0", Dataset("CartPole-v1", eps, dataset_id="gailrun/toy-v0"))
    by_path = minari.MinariDataset(root / "gailrun" / "toy-v0" / "data")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    by_id = minari.load_dataset("gailrun/toy-v0")
    for ds in (by_path, by_id):
        assert ds.total_episodes == 3 and ds.env_spec.id == "CartPole-v1"
        for ours, theirs in zip(eps, ds.iterate_episodes(), strict=True):
            np.testing.assert_array_equal(ours.observations, theirs.observations)
            np.testing.assert_array_equal(ours.actions, theirs.actions)
            np.testing.assert_array_equal(ours.rewards, theirs.rewards)


def test_off_by_one_is_named(tmp_path: Path):
    ep = random_episodes(1)[0]
    bad = Episode(ep.observations[:-1], ep.actions, ep.rewards, ep.terminations, ep.truncations)
    with pytest.raises(DataError, match="expected one more observation than actions"):
        write_dataset(tmp_path / "ds", Dataset("CartPole-v1", [bad]))
    assert not (tmp_path / "ds").exists()


def _junk_hdf5(d: Path) -> None:
    (d / "data").mkdir(parents=True)
    (d / "data" / "main_data.hdf5").write_text("junk")
    (d / "data" / "metadata.json").write_text("{}")


@pytest.mark.parametrize(
    "corrupt, message",
    [(lambda d: None, "does not exist"), (_junk_hdf5, "not HDF5 or is corrupt")],
    ids=["missing", "unreadable"],
)
def test_missing_and_unreadable_files(tmp_path: Path, corrupt, message):
    corrupt(tmp_path / "ds")
    with pytest.raises(DataError, match=message):
        read_dataset(tmp_path / "ds")


def test_nan_and_tampering_are_refused(tmp_path: Path):
    write_dataset(tmp_path / "ds", Dataset("CartPole-v1", random_episodes(2)))
    h5 = tmp_path / "ds" / "data" / "main_data.hdf5"
    with h5py.File(h5, "r+") as f:
        f["episode_1/rewards"][0] += 1.0
    with pytest.raises(DataError, match="content hash does not match"):
        read_dataset(tmp_path / "ds")
    with h5py.File(h5, "r+") as f:
        f["episode_0/observations"][2, 1] = np.nan
    with pytest.raises(DataError, match="NaN or inf"):
        read_dataset(tmp_path / "ds", verify_hash=False)


def expert_cfg(path: Path, **kw):
    from omegaconf import OmegaConf

    return OmegaConf.create({"path": str(path), "min_score": None, "n_samples": None, "seed": 0, **kw})


def test_expert_must_match_the_env(tmp_path: Path):
    write_dataset(tmp_path / "cp", Dataset("CartPole-v1", random_episodes(3)))
    with pytest.raises(DataError, match=r"recorded on CartPole-v1 \(obs 4.*LunarLander-v3 \(obs 8"):
        load_expert(expert_cfg(tmp_path / "cp"), env_info("LunarLander-v3"))


def test_too_few_trajectories_after_min_score_names_the_numbers(tmp_path: Path):
    eps = random_episodes(4)  # returns roughly 0, 1, 2, 3 times the length
    write_dataset(tmp_path / "cp", Dataset("CartPole-v1", eps))
    best = max(ep.ret for ep in eps)
    with pytest.raises(
        DataError, match=rf"only 0 of 4 trajectories .* min_score 1000000.0 \(best return {best:.1f}\)"
    ):
        load_expert(expert_cfg(tmp_path / "cp", min_score=1e6, n_samples=3), env_info("CartPole-v1"))


def test_draw_is_seeded_and_filtered(tmp_path: Path):
    eps = random_episodes(10)
    write_dataset(tmp_path / "cp", Dataset("CartPole-v1", eps))
    threshold = float(np.median([ep.ret for ep in eps]))
    a = load_expert(
        expert_cfg(tmp_path / "cp", min_score=threshold, n_samples=3, seed=1), env_info("CartPole-v1")
    )
    b = load_expert(
        expert_cfg(tmp_path / "cp", min_score=threshold, n_samples=3, seed=1), env_info("CartPole-v1")
    )
    assert [ep.seed for ep in a.episodes] == [ep.seed for ep in b.episodes]
    assert all(ep.ret >= threshold for ep in a.episodes) and len(a.episodes) == 3
    assert len(a.transitions) == sum(ep.length for ep in a.episodes)


def test_collect_expert_writes_a_card_that_data_info_reads(tmp_path: Path):
    run = tmp_path / "run"
    out = run_cli(
        "train",
        "env=cartpole",
        "env.num_envs=2",
        "algo.num_steps=64",
        "train.total_steps=256",
        "final_eval.episodes=0",
        f"hydra.run.dir={run}",
    )
    assert out.returncode == 0, out.stderr
    out = run_cli(
        "collect-expert",
        f"ckpt={run / 'last.pt'}",
        "episodes=6",
        "min_score=15",
        f"out={tmp_path / 'demos'}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    card = read_dataset(tmp_path / "demos").card
    assert card["episodes_played"] == 6 and card["episodes_kept"] + card["episodes_dropped"] == 6
    assert card["env_id"] == "CartPole-v1" and card["source"]["checkpoint"].endswith("last.pt")
    assert sum(card["returns_played"]["histogram"]["counts"]) == 6 and len(card["content_sha256"]) == 64
    info = run_cli("data", "info", str(tmp_path / "demos"), "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["hash"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos", "run"]


def test_collect_expert_with_action_noise_and_a_cap_records_the_human_like_stand_in(tmp_path: Path):
    """epsilon: a random action with that probability; the kept episodes all survive to the cap; the
    noisy demonstrator's states spread wider than the noiseless one's."""
    from gailrun.data.collect import collect_expert

    ckpt = Path(__file__).resolve().parents[2] / "gailrun" / "assets" / "experts" / "cartpole-ppo.pt"
    clean = collect_expert(ckpt, 8, tmp_path / "clean", min_score=200, max_episode_steps=200)
    noisy = collect_expert(ckpt, 8, tmp_path / "noisy", min_score=200, max_episode_steps=200, epsilon=0.3)
    assert (
        noisy.card["source"]["epsilon"] == 0.3 and "stand-in for human-like play" in noisy.card["description"]
    )
    for ds in (clean, noisy):
        assert ds.episodes and all(ep.length == 200 and ep.truncations[-1] for ep in ds.episodes)
    spread = [np.concatenate([ep.observations for ep in ds.episodes]).std(axis=0) for ds in (clean, noisy)]
    assert (spread[1] > spread[0]).all()
    policy = load_policy(ckpt)
    ep = noisy.episodes[0]  # some actions are not the policy's
    assert (policy.act(ep.observations[:-1]) != ep.actions).any()
    with pytest.raises(DataError, match=r"epsilon=1\.5 must lie in"):
        collect_expert(ckpt, 1, tmp_path / "bad", epsilon=1.5)


def test_bundled_datasets_are_what_the_docs_claim():
    """The bundled LunarLander data: >= 200 episodes played by gailrun's own expert, mean >= 230 after the
    min_score filter; CartPole: full-length episodes; the styles set: 12 + 12 labelled episodes."""
    from gailrun.config.resolvers import ASSETS

    lunar = read_dataset(ASSETS / "datasets" / "gailrun" / "lunarlander-ppo-v0")
    card = lunar.card
    assert card["episodes_played"] >= 200 and card["min_score"] == 230
    assert card["returns_kept"]["mean"] >= 230 and float(lunar.returns.mean()) >= 230
    assert card["source"]["checkpoint"].endswith("experts/lunarlander-ppo.pt")
    cartpole = read_dataset(ASSETS / "datasets" / "gailrun" / "cartpole-ppo-v0")
    assert all(ep.length == 500 for ep in cartpole.episodes) and len(cartpole.episodes) >= 10
    styles = read_dataset(ASSETS / "datasets" / "gailrun" / "cartpole-styles-v0")
    labels = [ep.attrs.get("style") for ep in styles.episodes]
    assert labels.count("left") == 12 and labels.count("right") == 12
    mean_x = {
        lab: np.mean([ep.observations[:, 0].mean() for ep in styles.episodes if ep.attrs["style"] == lab])
        for lab in ("left", "right")
    }
    assert mean_x["left"] < -0.5 < 0.5 < mean_x["right"]
    # Provenance survives the merge: each half names the expert checkpoint that played it.
    origins = [sub["source"]["checkpoint"] for sub in styles.card["source"]["source_cards"]]
    assert origins == ["gailrun/assets/experts/cartpole-left.pt", "gailrun/assets/experts/cartpole-right.pt"]
    # The CartPole study's 200-step cap: the expert (20 episodes) and the human-like stand-in (28 of 30).
    capped = read_dataset(ASSETS / "datasets" / "gailrun" / "cartpole-ppo200-v0")
    human = read_dataset(ASSETS / "datasets" / "gailrun" / "cartpole-humanlike-v0")
    assert len(capped.episodes) == 20 and len(human.episodes) == 28
    for ds in (capped, human):
        assert all(
            ep.length == 200 and ep.truncations[-1] and not ep.terminations.any() for ep in ds.episodes
        )
    assert (capped.card["source"]["epsilon"], human.card["source"]["epsilon"]) == (0.0, 0.3)
    assert human.card["episodes_played"] == 30


def test_data_merge_keeps_labels_and_source_cards(tmp_path: Path):
    for name, seed in (("a", 0), ("b", 1)):
        eps = random_episodes(3, seed=seed)
        for ep in eps:
            ep.attrs["style"] = name
        write_dataset(tmp_path / name, Dataset("CartPole-v1", eps, card={"note": name}))
    out = run_cli("data", "merge", str(tmp_path / "ab"), str(tmp_path / "a"), str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    merged = read_dataset(tmp_path / "ab")
    assert [ep.attrs["style"] for ep in merged.episodes] == ["a"] * 3 + ["b"] * 3
    assert merged.card["styles"] == {"a": 3, "b": 3}
    assert [c["note"] for c in merged.card["source"]["source_cards"]] == ["a", "b"]
    info = run_cli("data", "info", str(tmp_path / "ab"))
    assert info.returncode == 0 and "styles       {'a': 3, 'b': 3}" in info.stdout
    refused = run_cli("data", "merge", str(tmp_path / "ab"), str(tmp_path / "a"))
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
