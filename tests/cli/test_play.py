"""`gailrun play`, headless: real KEYDOWN/KEYUP events posted into pygame's queue drive the recorder.

SDL's dummy video driver runs the same window, event and drawing code without a display; fps=0 removes the
frame-rate wait, so every test plays in well under a second per episode.
"""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from omegaconf import OmegaConf

from gailrun.cli.keyboard import KeyMap, KeyScript
from gailrun.cli.play import play, record_human
from gailrun.data.minari_io import read_dataset
from gailrun.errors import DataError, GailrunError
from tests.helpers import REPO, run_cli

pygame = pytest.importorskip("pygame")
SDL = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
KEYMAPS = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "play.yaml").keymaps)  # the shipped maps


@pytest.fixture(autouse=True)
def headless(monkeypatch):
    for name, value in SDL.items():
        monkeypatch.setenv(name, value)


def keymap(env_id: str) -> KeyMap:
    return KeyMap.from_config(env_id, KEYMAPS, gym.make(env_id).action_space.n)


def post(kind: int, key: int) -> None:
    pygame.event.post(pygame.event.Event(kind, key=key, mod=0, scancode=0, unicode=""))


def replay(env_id: str, seed: int, actions: np.ndarray, max_episode_steps: int | None = None) -> np.ndarray:
    """The observations the env gives for `actions` from reset(seed): what the recording must hold."""
    env = gym.make(env_id, max_episode_steps=max_episode_steps)
    obs = [env.reset(seed=seed)[0]]
    obs += [env.step(int(a))[0] for a in actions]
    return np.stack(obs).astype(np.float32)


def test_cartpole_records_the_held_arrow_keys(tmp_path: Path):
    # Nothing held for frames 0-2 (CartPole waits), then left/right blocks of 4, then right until it falls.
    script = KeyScript.parse(
        "3 down left\n7 up left\n7 down right\n11 down left\n11 up right\n15 up left\n15 down right\n"
    )
    _, result = record_human("CartPole-v1", KEYMAPS, 1, tmp_path / "demo", seed=5, fps=0, before_frame=script)
    expected = np.array([0] * 4 + [1] * 4 + [0] * 4 + [1] * 500)
    back = read_dataset(tmp_path / "demo")
    (ep,) = back.episodes
    t = ep.length
    np.testing.assert_array_equal(ep.actions, expected[:t])
    assert t > 12 and ep.observations.shape == (t + 1, 4) and ep.seed == 5
    np.testing.assert_array_equal(ep.rewards, np.ones(t))
    assert ep.terminations[-1] and not ep.terminations[:-1].any() and not ep.truncations.any()
    np.testing.assert_array_equal(ep.observations, replay("CartPole-v1", 5, ep.actions))
    card = back.card
    assert card["source"]["algo"] == "human" and "human" in card["source"]["kind"]
    assert card["source"]["keymap"]["keys"] == {"left": 0, "right": 1}
    assert card["source"]["keymap"]["idle"] == "wait" and result.discarded == 0


def test_lunarlander_keys_follow_gymnasium_action_meanings():
    # 0 nothing, 1 left orientation engine, 2 main engine, 3 right orientation engine; latest held key wins.
    schedule = {
        2: [(pygame.KEYDOWN, pygame.K_UP)],
        4: [(pygame.KEYDOWN, pygame.K_LEFT)],
        5: [(pygame.KEYUP, pygame.K_LEFT)],
        6: [(pygame.KEYUP, pygame.K_UP)],
        7: [(pygame.KEYDOWN, pygame.K_RIGHT)],
    }

    def before_frame(frame: int) -> None:
        for kind, key in schedule.get(frame, []):
            post(kind, key)

    result = play(
        "LunarLander-v3",
        keymap("LunarLander-v3"),
        1,
        seed=1,
        fps=0,
        max_episode_steps=10,
        before_frame=before_frame,
    )
    (ep,) = result.episodes
    np.testing.assert_array_equal(ep.actions, [0, 0, 2, 2, 1, 2, 0, 3, 3, 3])
    assert ep.truncations[-1] and not ep.terminations.any() and ep.observations.shape == (11, 8)
    np.testing.assert_array_equal(ep.observations, replay("LunarLander-v3", 1, ep.actions, 10))
    main = ep.observations[3:5, 3] - ep.observations[2:4, 3]  # vertical speed gained under the main engine
    idle = ep.observations[1:3, 3] - ep.observations[0:2, 3]
    assert (main > idle).all()


def test_escape_keeps_finished_episodes_and_discards_the_unfinished_one(tmp_path: Path):
    script = KeyScript.parse("0 down right\n12 down escape\n")  # 5-step episodes: frames 0-4, 5-9, then 10-11
    ds, result = record_human(
        "CartPole-v1", KEYMAPS, 3, tmp_path / "demo", seed=7, fps=0, max_episode_steps=5, before_frame=script
    )
    assert [ep.seed for ep in ds.episodes] == [7, 8] and result.discarded_steps == 2
    back = read_dataset(tmp_path / "demo")
    assert len(back.episodes) == 2 and all(ep.truncations[-1] for ep in back.episodes)
    assert back.card["episodes_unfinished_discarded"] == 1 and back.card["steps_discarded"] == 2


def test_closing_the_window_before_an_episode_ends_writes_nothing(tmp_path: Path):
    script = KeyScript.parse("0 down left\n3 close\n")
    with pytest.raises(GailrunError, match=r"stopped before any episode finished \(3 steps discarded\)"):
        record_human("CartPole-v1", KEYMAPS, 2, tmp_path / "demo", fps=0, before_frame=script)
    assert not (tmp_path / "demo").exists()


def test_refusals_come_before_any_play(tmp_path: Path):
    (tmp_path / "demo").mkdir()
    with pytest.raises(DataError, match="already exists; pass overwrite=true"):
        record_human("CartPole-v1", KEYMAPS, 1, tmp_path / "demo", fps=0, before_frame=pytest.fail)
    with pytest.raises(GailrunError, match="no key map for Acrobot-v1"):
        record_human("Acrobot-v1", KEYMAPS, 1, tmp_path / "new", fps=0)
    with pytest.raises(GailrunError, match="escape, which stops play"):
        KeyMap.from_config("CartPole-v1", {"CartPole-v1": {"keys": {"escape": 0}}}, 2)
    with pytest.raises(GailrunError, match="no display"):  # nobody could press a key: refuse, do not hang
        play("CartPole-v1", keymap("CartPole-v1"), 1, fps=0)
    with pytest.raises(GailrunError, match=re.escape("is not '<frame> down|up <key>'")):
        KeyScript.parse("0 press left")


def test_cli_records_from_a_key_script_and_writes_nothing_else(tmp_path: Path):
    (tmp_path / "keys.txt").write_text(
        "# hold right; stop during the third episode\n0 down right\n12 down escape\n"
    )
    out = run_cli(
        "play",
        "env=cartpole",
        "episodes=3",
        "max_episode_steps=5",
        "fps=0",
        "seed=3",
        "script=keys.txt",
        "out=demo",
        cwd=tmp_path,
        env=SDL,
    )
    assert out.returncode == 0, out.stderr
    assert "recorded 2 episodes of CartPole-v1" in out.stdout
    assert "discarded 1 unfinished episode (2 steps)" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "keys.txt"]
    ds = read_dataset(tmp_path / "demo")
    assert [ep.seed for ep in ds.episodes] == [3, 4] and ds.dataset_id == "gailrun/demo-v0"
    assert all((ep.actions == 1).all() for ep in ds.episodes)

    bad = run_cli("play", "env.id=Acrobot-v1", "script=keys.txt", cwd=tmp_path, env=SDL)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("gailrun: error: no key map for Acrobot-v1")
