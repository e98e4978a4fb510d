"""A live progress bar on a terminal, periodic log lines everywhere else (sweeps, CI, files)."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

log = logging.getLogger("gailrun")


class Progress:
    def __init__(
        self,
        total_steps: int,
        desc: str,
        enabled: bool = True,
        log_every_s: float = 15.0,
        max_episodes: int | None = None,
    ) -> None:
        self.total = total_steps
        self.max_episodes = max_episodes  # a run also ends after this many episodes: the ETA counts both
        self.bar = (
            tqdm(total=total_steps, desc=desc, unit="step", dynamic_ncols=True, leave=True)
            if (enabled and sys.stderr.isatty())
            else None
        )
        self.log_every_s = log_every_s
        self._start = self._last_log = time.perf_counter()
        self._first = None  # the first step shown: a resumed run's rate counts only what it did itself
        self._first_episodes = 0
        self._episodes = 0
        self._shown = 0

    def eta(self, steps: int) -> str:
        """Remaining time at the rate since the first update, as h:mm:ss: until the step budget or, when
        `max_episodes` is set, the episode budget, whichever comes first."""
        if self._first is None or steps <= self._first:
            return "?"
        seconds = max(time.perf_counter() - self._start, 1e-9)
        left = max(self.total - steps, 0) / ((steps - self._first) / seconds)
        done_eps = self._episodes - self._first_episodes
        if self.max_episodes is not None and done_eps > 0:
            left = min(left, max(self.max_episodes - self._episodes, 0) / (done_eps / seconds))
        left = int(left)
        return f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"

    def update(self, steps: int, info: dict[str, float | int | None], episodes: int = 0) -> None:
        if self._first is None:
            self._first, self._start, self._first_episodes = steps, time.perf_counter(), episodes
        self._episodes = episodes
        text = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in info.items() if v is not None}
        if self.bar is not None:
            if self.max_episodes is not None:  # the bar's own estimate counts steps only
                text["eta"] = self.eta(steps)
            self.bar.update(steps - self._shown)
            self.bar.set_postfix(text, refresh=False)
        elif time.perf_counter() - self._last_log >= self.log_every_s:
            self._last_log = time.perf_counter()
            pct = 100.0 * steps / max(1, self.total)
            log.info(
                "step %d/%d (%.0f%%) eta %s %s",
                steps,
                self.total,
                pct,
                self.eta(steps),
                " ".join(f"{k}={v}" for k, v in text.items()),
            )
        self._shown = steps

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
