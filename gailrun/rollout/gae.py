"""Generalized advantage estimation over a rollout with NEXT_STEP autoreset rows.

The rules (Schulman et al. 2016, plus the time-limit fix of Pardo et al. 2018):
- a terminated episode has no future: its last delta uses no bootstrap;
- a truncated episode does: its last delta bootstraps with V(final observation), stored as the value of
  the following autoreset row (or as `next_value` when the episode ends on the rollout's last step);
- advantages never flow across an episode boundary, and autoreset rows get advantage 0.
"""

from __future__ import annotations

import numpy as np


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_value: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    valid: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (advantages, returns), each [T, N]; both are 0 on rows where `valid` is false.

    `values[t]` is V(obs[t]) for every row, invalid ones included; `next_value` is V of the observation
    after the rollout's last step.
    """
    num_steps = rewards.shape[0]
    adv = np.zeros(rewards.shape, dtype=np.float64)
    last = np.zeros(rewards.shape[1], dtype=np.float64)
    for t in reversed(range(num_steps)):
        v_next = next_value if t == num_steps - 1 else values[t + 1]
        not_term = 1.0 - terminated[t]
        not_done = 1.0 - (terminated[t] | truncated[t])
        delta = rewards[t] + gamma * v_next * not_term - values[t]
        last = delta + gamma * gae_lambda * not_done * last
        last = np.where(valid[t], last, 0.0)
        adv[t] = last
    returns = np.where(valid, adv + values, 0.0)
    return adv, returns
