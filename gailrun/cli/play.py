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

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gailrun.data.episodes import Episode
from gailrun.envs.make import env_info, resolve_env_id
from gailrun.errors import DataError, GailrunError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from gailrun.data.minari_io import Dataset

WAIT = "wait"  # idle setting: no mapped key held means the game waits and records nothing
PAUSE_S = 1.0  # the final frame of an episode stays up this long (fps > 0) so the player sees the outcome
STOP_KEY = "escape"
BAR = 22  # pixel height of the text bars above and below the env frame
HEADLESS_DRIVERS = ("dummy", "offscreen")  # SDL video drivers with no window a person could use
FrameHook = Callable[[int], None]


def import_pygame() -> ModuleType:
    """Import pygame lazily, so the rest of gailrun never needs it, and without its greeting on stdout."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # play is silent; this stops SDL probing sound cards
    try:
        import pygame
    except ImportError as exc:
        raise GailrunError(
            "pygame is not installed; `pip install pygame-ce` (gymnasium[box2d]>=1.3 brings it)"
        ) from exc
    return pygame


@dataclass(frozen=True)
class KeyMap:
    """Which held key means which action, and what a frame with no mapped key held does."""

    actions: dict[str, int]  # pygame key name -> action
    idle: int | None  # action when no mapped key is held; None: wait (no step, nothing recorded)
    names: tuple[str, ...] = ()  # what each action does, for the on-screen help

    @classmethod
    def from_config(cls, env_id: str, keymaps: Mapping[str, Any], n_actions: int) -> KeyMap:
        """Validate `keymaps[env_id]` before any window opens, so a bad map costs no play time."""
        where = f"keymaps.{env_id}"
        raw = keymaps.get(env_id)
        if raw is None:
            known = ", ".join(sorted(keymaps)) or "none"
            raise GailrunError(
                f"no key map for {env_id} (known: {known}); add {where} with keys and idle to conf/play.yaml"
            )
        keys = raw.get("keys") or {}
        if not keys:
            raise GailrunError(f"{where}.keys is empty; map pygame key names to actions, e.g. {{left: 0}}")
        actions = {
            str(name).lower(): _action(f"{where}.keys.{name}", a, n_actions) for name, a in keys.items()
        }
        if STOP_KEY in actions:
            raise GailrunError(f"{where}.keys maps {STOP_KEY}, which stops play; pick another key")
        idle_raw = raw.get("idle", WAIT)
        idle = None if idle_raw == WAIT else _action(f"{where}.idle", idle_raw, n_actions)
        names = tuple(str(n) for n in raw.get("names") or ())
        if names and len(names) != n_actions:
            raise GailrunError(f"{where}.names has {len(names)} entries for {n_actions} actions; name each")
        return cls(actions, idle, names)

    def codes(self, pygame: ModuleType) -> dict[int, int]:
        """Key codes -> actions; needs `pygame.init()` first, which is why names are kept until then."""
        out = {}
        for name, action in self.actions.items():
            try:
                out[pygame.key.key_code(name)] = action
            except ValueError:
                raise GailrunError(
                    f"unknown key name {name!r} in the key map; use pygame names such as left, right, up, a"
                ) from None
        return out

    def describe(self) -> dict[str, Any]:
        """The map as the dataset card records it."""
        return {
            "keys": dict(self.actions),
            "action_names": list(self.names),
            "idle": WAIT if self.idle is None else self.idle,
            "several_held": "the most recently pressed key wins",
            "stop": f"{STOP_KEY} or closing the window",
        }

    def help_line(self) -> str:
        keys = "  ".join(f"{key}: {self.label(a)}" for key, a in self.actions.items())
        idle = "wait" if self.idle is None else self.label(self.idle)
        return f"{keys}  none: {idle}  ESC: stop"

    def label(self, action: int) -> str:
        return self.names[action] if self.names else str(action)


def _action(where: str, value: Any, n_actions: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n_actions:
        raise GailrunError(f"{where} is {value!r}; it must be an action in 0..{n_actions - 1}")
    return value


class HeldKeys:
    """Mapped keys held down, in press order: the latest decides, so rolling between keys never idles."""

    def __init__(self, codes: dict[int, int]) -> None:
        self.codes = codes
        self.held: list[int] = []

    def press(self, key: int) -> None:
        if key in self.codes:
            self.release(key)
            self.held.append(key)

    def release(self, key: int) -> None:
        if key in self.held:
            self.held.remove(key)

    def clear(self) -> None:
        self.held.clear()

    def action(self, idle: int | None) -> int | None:
        return self.codes[self.held[-1]] if self.held else idle


def read_events(pygame: ModuleType, held: HeldKeys) -> bool:
    """Apply the queued events to `held`; True if the player asked to stop (ESC or closing the window)."""
    stop = False
    for event in pygame.event.get():
        if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
            stop = True
        elif event.type == pygame.KEYDOWN:
            stop = stop or event.key == pygame.K_ESCAPE
            held.press(event.key)  # unmapped keys (ESC included) are ignored by `held`
        elif event.type == pygame.KEYUP:
            held.release(event.key)
        elif event.type == pygame.WINDOWFOCUSLOST:
            held.clear()  # a key released while another window has focus sends no KEYUP here
    return stop


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


class Screen:
    """The window: the env frame between a status bar above and a help bar below, so text hides nothing."""

    def __init__(self, pygame: ModuleType, title: str, size: tuple[int, int]) -> None:
        self.pg = pygame
        self.surface = pygame.display.set_mode((size[0], size[1] + 2 * BAR))
        pygame.display.set_caption(title)
        self.driver = pygame.display.get_driver()
        self.font = pygame.font.Font(None, 20)

    def draw(self, frame: np.ndarray, top: str, bottom: str) -> None:
        pg = self.pg
        h, w = frame.shape[:2]
        image = pg.image.frombuffer(np.ascontiguousarray(frame, dtype=np.uint8).tobytes(), (w, h), "RGB")
        self.surface.blit(image, (0, BAR))
        self._text(top, 0)
        self._text(bottom, BAR + h)
        pg.display.flip()

    def _text(self, text: str, y: int) -> None:
        self.pg.draw.rect(self.surface, (0, 0, 0), (0, y, self.surface.get_width(), BAR))
        self.surface.blit(self.font.render(text, True, (255, 255, 255)), (6, y + 4))


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


def init_pygame(pygame: ModuleType) -> None:
    """Start pygame, failing in one line if there is no video device (pygame.init() alone stays silent)."""
    pygame.init()
    try:
        pygame.display.init()
    except pygame.error as exc:
        pygame.quit()
        raise GailrunError(
            f"cannot open a window ({exc}); play needs a display (or SDL_VIDEODRIVER=dummy with script=)"
        ) from None


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


class KeyScript:
    """Key events scheduled by frame, posted into pygame's event queue: input for tests and automation.

    One event a line, `#` starts a comment: `<frame> down <key>`, `<frame> up <key>` or `<frame> close`
    (the window's close button). End a script with `escape` or enough play to finish every episode.
    """

    def __init__(self, events: list[tuple[int, str, str]]) -> None:
        self.by_frame: dict[int, list[tuple[str, str]]] = {}
        for frame, kind, key in events:
            self.by_frame.setdefault(frame, []).append((kind, key))

    @classmethod
    def parse(cls, text: str, where: str = "key script") -> KeyScript:
        events = []
        for n, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            ok = words[0].isdigit() and (
                (len(words) == 3 and words[1] in ("down", "up")) or words[1:] == ["close"]
            )
            if not ok:
                raise GailrunError(
                    f"{where}:{n}: {line.strip()!r} is not '<frame> down|up <key>' or '<frame> close'"
                )
            events.append((int(words[0]), words[1], words[2] if len(words) == 3 else ""))
        return cls(events)

    @classmethod
    def load(cls, path: str | Path) -> KeyScript:
        try:
            return cls.parse(Path(path).read_text(), str(path))
        except OSError as exc:
            raise GailrunError(f"cannot read key script {path} ({exc.strerror}); fix script=") from None

    def __call__(self, frame: int) -> None:
        pygame = import_pygame()
        for kind, key in self.by_frame.get(frame, []):
            if kind == "close":
                pygame.event.post(pygame.event.Event(pygame.QUIT))
                continue
            try:
                code = pygame.key.key_code(key)
            except ValueError:
                raise GailrunError(f"key script: unknown key name {key!r}; use pygame key names") from None
            etype = pygame.KEYDOWN if kind == "down" else pygame.KEYUP
            pygame.event.post(pygame.event.Event(etype, key=code, mod=0, scancode=0, unicode=""))


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
