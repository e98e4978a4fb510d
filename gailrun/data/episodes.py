"""Episodes as gailrun holds them in memory, and the checks every dataset must pass.

The convention is Minari's (and imitation's): an episode of T steps has T + 1 observations (the last one
is the observation after the final action) and T actions, rewards, terminations and truncations. Formats
with other conventions are converted explicitly in `gailrun.data.convert`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gailrun.errors import DataError

FIELDS = ("observations", "actions", "rewards", "terminations", "truncations")


@dataclass
class Episode:
    observations: np.ndarray  # [T + 1, obs_dim] float32
    actions: np.ndarray  # [T] int64
    rewards: np.ndarray  # [T] float64
    terminations: np.ndarray  # [T] bool
    truncations: np.ndarray  # [T] bool
    seed: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)  # e.g. a hidden style label

    def __post_init__(self) -> None:
        self.observations = np.asarray(self.observations, dtype=np.float32)
        self.actions = np.asarray(self.actions, dtype=np.int64)
        self.rewards = np.asarray(self.rewards, dtype=np.float64)
        self.terminations = np.asarray(self.terminations, dtype=bool)
        self.truncations = np.asarray(self.truncations, dtype=bool)

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])

    @property
    def ret(self) -> float:
        return float(self.rewards.sum())

    def check(self, where: str) -> None:
        """Raise a one-line `DataError` if the arrays do not form one episode."""
        t = self.length
        if self.actions.ndim != 1:
            raise DataError(
                f"{where}: actions must be a 1-D array of discrete actions, got shape {self.actions.shape}"
            )
        if self.observations.ndim != 2:
            raise DataError(
                f"{where}: observations must be [steps + 1, obs_dim], got shape {self.observations.shape}"
            )
        if self.observations.shape[0] != t + 1:
            raise DataError(
                f"{where}: {self.observations.shape[0]} observations for {t} actions; expected one more "
                "observation than actions (the final observation included)"
            )
        for name in ("rewards", "terminations", "truncations"):
            if getattr(self, name).shape != (t,):
                raise DataError(f"{where}: {name} has shape {getattr(self, name).shape}, expected ({t},)")
        if t == 0:
            raise DataError(f"{where}: empty episode (no actions)")
        if not np.isfinite(self.observations).all():
            raise DataError(f"{where}: observations contain NaN or inf; re-collect or drop this episode")
        if not np.isfinite(self.rewards).all():
            raise DataError(f"{where}: rewards contain NaN or inf; re-collect or drop this episode")
        if (self.terminations[:-1] | self.truncations[:-1]).any():
            raise DataError(f"{where}: an episode ends before its last step; split it into separate episodes")


def content_hash(episodes: list[Episode]) -> str:
    """sha256 over every array of every episode, with dtypes and shapes, in order."""
    h = hashlib.sha256()
    for ep in episodes:
        for name in FIELDS:
            arr = np.ascontiguousarray(getattr(ep, name))
            h.update(f"{name}:{arr.dtype.str}:{arr.shape};".encode())
            h.update(arr.tobytes())
    return h.hexdigest()


def return_summary(returns: list[float] | np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Mean, spread, quartiles and a histogram of episode returns, for dataset cards."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        return {"count": 0}
    counts, edges = np.histogram(r, bins=bins)
    q25, q50, q75 = np.percentile(r, [25, 50, 75])
    return {
        "count": int(r.size),
        "mean": float(r.mean()),
        "std": float(r.std()),
        "min": float(r.min()),
        "p25": float(q25),
        "median": float(q50),
        "p75": float(q75),
        "max": float(r.max()),
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


@dataclass
class Transitions:
    """Flattened (s, a, s', done) rows of a set of episodes, for BC and the discriminator."""

    obs: np.ndarray  # [N, obs_dim]
    actions: np.ndarray  # [N]
    next_obs: np.ndarray  # [N, obs_dim]
    terminations: np.ndarray  # [N]
    episode_index: np.ndarray  # [N]

    def __len__(self) -> int:
        return int(self.actions.shape[0])


def to_transitions(episodes: list[Episode]) -> Transitions:
    return Transitions(
        obs=np.concatenate([ep.observations[:-1] for ep in episodes]),
        actions=np.concatenate([ep.actions for ep in episodes]),
        next_obs=np.concatenate([ep.observations[1:] for ep in episodes]),
        terminations=np.concatenate([ep.terminations for ep in episodes]),
        episode_index=np.concatenate([np.full(ep.length, i) for i, ep in enumerate(episodes)]),
    )
