"""pygame's side of `gailrun play`: the key map of each env, the keys held, scripted key events for tests
and `script=`, and the window. Input is read only from pygame's event queue (see `gailrun/cli/play.py`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from gailrun.errors import GailrunError

WAIT = "wait"  # idle setting: no mapped key held means the game waits and records nothing
STOP_KEY = "escape"
BAR = 22  # pixel height of the text bars above and below the env frame
HEADLESS_DRIVERS = ("dummy", "offscreen")  # SDL video drivers with no window a person could use


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
