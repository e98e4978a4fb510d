"""What a reward hook (GAIL, InfoGAIL) hands the on-policy pipeline in place of the env's rewards."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Relabel:
    """A reward hook's rewards for a rollout: per-step rewards [T, N] (0 on autoreset rows) and, with
    absorbing states, the per-step reward of the absorbing state after each terminated row [T, N] (0
    elsewhere; None without absorbing states), kept apart so that scaling and clipping treat it as a step's
    reward before its discounted sum joins the terminal row (gailrun/algos/gail/reward.py)."""

    rewards: np.ndarray
    absorbing: np.ndarray | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)


def with_absorbing_value(
    rewards: np.ndarray, absorbing: np.ndarray | None, gamma: float, valid: np.ndarray
) -> np.ndarray:
    """Per-step rewards plus, on terminated rows, the absorbing state's discounted value.

    An absorbing state repeats forever after termination: worth gamma * r_abs / (1 - gamma), one step later.
    Summed in float64, returned as float32 rows (0 on autoreset rows).
    """
    if absorbing is None:
        return np.where(valid, rewards, 0.0).astype(np.float32)
    total = rewards.astype(np.float64) + gamma * absorbing / (1.0 - gamma)
    return np.where(valid, total, 0.0).astype(np.float32)
