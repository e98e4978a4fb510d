"""Record human demonstrations with the keyboard (`gailrun play`).

A pygame window shows the env's `rgb_array` frames. Each frame reads the keyboard, turns the held keys into
one discrete action and steps the env once, so one recorded step is one frame the player saw. Episode k starts
from `env.reset(seed=seed + k)`, as in `collect-expert`, so any episode can be replayed from its seed and
actions.

Input is read only from pygame's event queue (KEYDOWN/KEYUP tracked into a stack of held keys), not from
`pygame.key.get_pressed()`: both agree for a real keyboard, but only the queue accepts posted events, so tests
and `script=` files drive exactly the code path a player does (headless with SDL_VIDEODRIVER=dummy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gailrun.cli.keyboard import (
    HEADLESS_DRIVERS,
    HeldKeys,
    KeyMap,
    KeyScript,
    Screen,
    import_pygame,
    init_pygame,
    read_events,
)
from gailrun.data.episodes import Episode
from gailrun.envs.make import env_info, resolve_env_id
from gailrun.errors import DataError, GailrunError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from gailrun.data.minari_io import Dataset

PAUSE_S = 1.0  # the final frame of an episode stays up this long (fps > 0) so the player sees the outcome
FrameHook = Callable[[int], None]


@dataclass
class EpisodeRecorder:
    """The arrays Minari stores for one episode, grown one step at a time."""

    seed: int
    observations: list[np.ndarray]
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminations: list[bool] = field(default_factory=list)
    truncations: list[bool] = field(default_factory=list)

    def add(self, action: int, obs: np.ndarray, reward: float, term: bool, trunc: bool) -> None:
        self.observations.append(np.array(obs, copy=True))
        self.actions.append(int(action))
        self.rewards.append(float(reward))
        self.terminations.append(bool(term))
        self.truncations.append(bool(trunc))

    @property
    def steps(self) -> int:
        return len(self.actions)

    @property
    def score(self) -> float:
        return float(sum(self.rewards))

    def episode(self) -> Episode:
        return Episode(
            np.stack(self.observations),
            np.array(self.actions),
            np.array(self.rewards),
            np.array(self.terminations),
            np.array(self.truncations),
            seed=self.seed,
        )


@dataclass
class PlayResult:
    episodes: list[Episode]
    discarded_steps: int  # steps of the unfinished episode dropped at the stop; 0 if none was under way

    @property
    def discarded(self) -> int:
        return int(self.discarded_steps > 0)


class Session:
    """One sitting at the keyboard: a single env, reset with seed + k for episode k."""

    def __init__(
        self,
        pygame: ModuleType,
        env: gym.Env,
        keymap: KeyMap,
        episodes: int,
        seed: int,
        fps: float,
        before_frame: FrameHook | None,
    ) -> None:
        self.pg, self.env, self.keymap = pygame, env, keymap
        self.episodes, self.seed, self.fps = episodes, seed, fps
        self.before_frame = before_frame
        self.held = HeldKeys(keymap.codes(pygame))
        self.finished: list[Episode] = []
        self.rec: EpisodeRecorder | None = None
        self.pause = 0
        self.pause_frames = round(fps * PAUSE_S)
        self.start_episode()
        frame = env.render()
        title = f"gailrun play: {env.spec.id if env.spec else 'env'}"
        self.screen = Screen(pygame, title, (frame.shape[1], frame.shape[0]))
        if self.screen.driver in HEADLESS_DRIVERS and before_frame is None:
            raise GailrunError(
                f"no display: SDL uses its {self.screen.driver!r} video driver, so nobody can see the window "
                "or press keys; run play where there is a display (set DISPLAY) or give a key script=FILE"
            )

    def start_episode(self) -> None:
        seed = self.seed + len(self.finished)
        obs, _ = self.env.reset(seed=seed)
        self.rec = EpisodeRecorder(seed, [np.array(obs, copy=True)])

    def run(self) -> PlayResult:
        clock = self.pg.time.Clock()
        frame = 0
        try:
            while True:
                if self.before_frame is not None:
                    self.before_frame(frame)
                if read_events(self.pg, self.held) or self.advance():
                    break
                self.draw()
                if self.fps > 0:
                    clock.tick(self.fps)
                frame += 1
        except KeyboardInterrupt:
            pass  # Ctrl-C in the terminal stops like ESC: finished episodes are kept
        return PlayResult(list(self.finished), self.rec.steps if self.rec is not None else 0)

    def advance(self) -> bool:
        """One frame of play; True once every requested episode is recorded."""
        if self.pause > 0:
            self.pause -= 1
            return False
        if self.rec is None:
            self.start_episode()
        action = self.held.action(self.keymap.idle)
        if action is None:
            return False
        rec = self.rec
        assert rec is not None
        obs, reward, term, trunc, _ = self.env.step(action)
        rec.add(action, obs, float(reward), bool(term), bool(trunc))
        if not (term or trunc):
            return False
        self.finished.append(rec.episode())
        self.rec, self.pause = None, self.pause_frames
        return len(self.finished) >= self.episodes

    def draw(self) -> None:
        n = len(self.finished)
        if self.rec is None:
            last = self.finished[-1]
            top = f"episode {n}/{self.episodes}  step {last.length}  score {last.ret:.1f}"
            bottom = f"episode {n} over: score {last.ret:.1f}"
        else:
            top = f"episode {n + 1}/{self.episodes}  step {self.rec.steps}  score {self.rec.score:.1f}"
            waiting = self.rec.steps == 0 and self.held.action(self.keymap.idle) is None
            bottom = ("hold a key to start  " if waiting else "") + self.keymap.help_line()
        self.screen.draw(self.env.render(), top, bottom)


def make_env(env_id: str, max_episode_steps: int | None) -> gym.Env:
    kwargs: dict[str, Any] = {"render_mode": "rgb_array", "disable_env_checker": True}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = int(max_episode_steps)
    return gym.make(env_id, **kwargs)


def play(
    env_id: str,
    keymap: KeyMap,
    episodes: int,
    seed: int = 0,
    fps: float | None = None,
    max_episode_steps: int | None = None,
    before_frame: FrameHook | None = None,
) -> PlayResult:
    """Open the window and play until `episodes` episodes finish or the player stops.

    `before_frame(i)` runs at the start of frame i, before the event queue is read: tests and key scripts
    post real KEYDOWN/KEYUP events there. `fps=None` plays at the env's own render_fps; 0 runs unthrottled.
    """
    pygame = import_pygame()
    init_pygame(pygame)
    env = make_env(env_id, max_episode_steps)
    try:
        rate = float(env.metadata.get("render_fps", 30) if fps is None else fps)
        return Session(pygame, env, keymap, episodes, seed, rate, before_frame).run()
    except pygame.error as exc:  # a window or font SDL could not make after all
        raise GailrunError(f"pygame failed ({exc}); play needs a working display") from None
    finally:
        env.close()
        pygame.quit()


def default_dataset_id(out: Path) -> str:
    return f"gailrun/{out.name if '-v' in out.name else out.name + '-v0'}"


def record_human(
    env_id: str,
    keymaps: Mapping[str, Any],
    episodes: int,
    out: Path,
    seed: int = 0,
    fps: float | None = None,
    max_episode_steps: int | None = None,
    overwrite: bool = False,
    dataset_id: str | None = None,
    before_frame: FrameHook | None = None,
) -> tuple[Dataset, PlayResult]:
    """Play, then write the finished episodes with a card saying they are human play with this key map."""
    from gailrun.data.collect import build_card
    from gailrun.data.minari_io import Dataset, write_dataset

    env_id = resolve_env_id(env_id)
    if episodes < 1:
        raise GailrunError(f"episodes={episodes}; play at least 1 episode")
    if fps is not None and fps < 0:
        raise GailrunError(f"fps={fps}; use a positive frame rate, or 0 to run unthrottled")
    if (
        out.exists() and not overwrite
    ):  # checked before play, so nobody plays for a file that cannot be written
        raise DataError(f"{out} already exists; pass overwrite=true or choose another out=")
    keymap = KeyMap.from_config(env_id, keymaps, env_info(env_id).n_actions)
    result = play(env_id, keymap, episodes, seed, fps, max_episode_steps, before_frame)
    if not result.episodes:
        raise GailrunError(
            f"stopped before any episode finished ({result.discarded_steps} steps discarded); nothing written"
        )
    source = {
        "algo": "human",
        "kind": "human keyboard play (gailrun play, pygame)",
        "keymap": keymap.describe(),
        "fps": fps,
        "max_episode_steps": max_episode_steps,
    }
    n = len(result.episodes)
    extra = {
        "description": f"{n} episodes of human keyboard play on {env_id}.",
        "episodes_unfinished_discarded": result.discarded,
        "steps_discarded": result.discarded_steps,
    }
    card = build_card(env_id, result.episodes, result.episodes, None, seed, source, extra)
    ds = Dataset(env_id, result.episodes, card, dataset_id or default_dataset_id(out))
    write_dataset(out, ds, overwrite=overwrite)
    return ds, result


def play_task(cfg: DictConfig) -> None:
    """Hydra task of `gailrun play`: errors are one line `gailrun: error: ...` and exit code 1."""
    from omegaconf import OmegaConf

    from gailrun.cli.tasks import fail

    try:
        ds, result = record_human(
            str(cfg.env.id),
            OmegaConf.to_container(cfg.keymaps, resolve=True),  # type: ignore[arg-type]
            episodes=int(cfg.episodes),
            out=Path(str(cfg.out)),
            seed=int(cfg.seed),
            fps=None if cfg.fps is None else float(cfg.fps),
            max_episode_steps=None if cfg.max_episode_steps is None else int(cfg.max_episode_steps),
            overwrite=bool(cfg.overwrite),
            dataset_id=cfg.dataset_id,
            before_frame=KeyScript.load(cfg.script) if cfg.script else None,
        )
    except (GailrunError, KeyboardInterrupt) as exc:
        fail(None, exc if str(exc) else GailrunError("interrupted"))
    kept = ds.card["returns_kept"]
    n = len(ds.episodes)
    print(
        f"recorded {n} episode{'s' * (n != 1)} of {ds.env_id}: return {kept['mean']:.1f} +- "
        f"{kept['std']:.1f}, {ds.total_steps} steps"
    )
    if result.discarded:
        print(f"discarded {result.discarded} unfinished episode ({result.discarded_steps} steps)")
    print(f"wrote {ds.path}")
