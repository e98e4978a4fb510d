"""What the trainer drives: the `Algorithm` interface, the `IterationResult` of one step, and `Tracker`.

Like Stable-Baselines3's `OnPolicyAlgorithm`, whose `learn` alternates `collect_rollouts` with an abstract
`train()`: the trainer (`gailrun/run/trainer.py`) owns what every algorithm shares (logging, checkpoints,
resume, stopping, selection, the final evaluation) and calls only what is declared here. The algorithms are
in `gailrun/run/loops.py`: `OnPolicyLoop` (PPO; GAIL and InfoGAIL as PPO plus a reward hook) and `BCLoop`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gailrun.data.expert import ExpertData
    from gailrun.rollout.collector import Episodes


@dataclass
class IterationResult:
    """What one iteration reports: finished episodes (env return), metrics, and per-episode scores by name
    (e.g. "return", "irl_return") that the trainer's best-checkpoint trackers average."""

    episodes: Episodes | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    episode_scores: dict[str, list[float]] = field(default_factory=dict)


class Tracker:
    """Keeps `filename` as the best checkpoint by the running average (over `window` values) of a score."""

    def __init__(
        self, metric: str, filename: str, source: str, window: int, min_count: int, mode: str = "max"
    ):
        self.metric, self.filename, self.source = metric, filename, source
        self.window, self.min_count, self.mode = window, min_count, mode
        self.values: list[float] = []
        self.best = -math.inf if mode == "max" else math.inf
        self.best_step: int | None = None

    def add(self, xs: list[float]) -> None:
        self.values = (self.values + list(xs))[-self.window :]

    def state_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.values = [float(v) for v in state["values"]]
        self.best = float(state["best"])
        self.best_step = None if state["best_step"] is None else int(state["best_step"])

    @property
    def average(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    def improved(self) -> bool:
        avg = self.average
        if avg is None or len(self.values) < self.min_count or math.isnan(avg):
            return False
        return avg > self.best if self.mode == "max" else avg < self.best


class Algorithm(ABC):
    """One algorithm as the trainer drives it: `step` until `progress` reaches `total`."""

    unit: str  # what `progress` and `total` count: "step" (env steps) or "epoch"
    total: int
    metric_names: list[str]  # the columns of metrics.csv that `step` fills
    trackers: list[Tracker]  # best-checkpoint trackers; the first is the run's objective
    expert: ExpertData | None = None  # the demonstrations it learns from (reward-free selection uses them)
    n_codes: int = 0  # InfoGAIL's number of latent codes the policy sees
    pretrain_history: list[dict[str, float]]  # per-epoch metrics of BC pretraining, if any

    def __init__(self) -> None:
        self.pretrain_history = []

    @property
    @abstractmethod
    def progress(self) -> int:
        """Steps or epochs done."""

    @abstractmethod
    def step(self) -> IterationResult:
        """One iteration: an on-policy rollout and update, or one epoch."""

    def checkpoint_extra(self) -> dict[str, Any]:
        """What the algorithm adds to every checkpoint beside the policy (e.g. GAIL's discriminator)."""
        return {}

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything the next `step` depends on (for resume)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def discriminator_scorer(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
        """P(expert) of (raw observation, action) pairs, for reward-free selection; None without one."""
        return None

    def close(self) -> None:  # noqa: B027 - most algorithms hold nothing to release
        """Release environments and workers."""
