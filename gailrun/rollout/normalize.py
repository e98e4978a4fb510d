"""Running statistics for observation normalization (`obs_norm`) and reward scaling (`reward_std`).

Both keep their statistics in float64 and are saved with every checkpoint: a policy trained on normalized
observations is meaningless without the statistics it was trained with.
"""

from __future__ import annotations

import numpy as np


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        # A tiny prior count keeps the first update well defined; it is what SB3 and baselines use.
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        """Fold a batch of samples (leading axis = samples) into the statistics."""
        batch = np.asarray(batch, dtype=np.float64)
        n = batch.shape[0]
        if n == 0:
            return
        b_mean = batch.mean(axis=0)
        b_var = batch.var(axis=0)
        delta = b_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": float(self.count)}

    def load_state_dict(self, state: dict) -> None:
        self.mean = np.asarray(state["mean"], dtype=np.float64).copy()
        self.var = np.asarray(state["var"], dtype=np.float64).copy()
        self.count = float(state["count"])


class ObsNormalizer:
    """`(obs - mean) / std`, clipped to +-clip; the identity (as float32) when disabled.

    Statistics update only while `training` is true; evaluation and the discriminator's expert batches use
    them frozen.
    """

    def __init__(self, obs_dim: int, enabled: bool, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.enabled = enabled
        self.clip = float(clip)
        self.eps = eps
        self.rms = RunningMeanStd((obs_dim,))
        self.training = True

    def update(self, obs: np.ndarray) -> None:
        if self.enabled and self.training:
            self.rms.update(obs)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.asarray(obs, dtype=np.float32)
        z = (obs - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return {"enabled": self.enabled, "clip": self.clip, **self.rms.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.enabled = bool(state["enabled"])
        self.clip = float(state["clip"])
        self.rms.load_state_dict(state)


class ReturnScaler:
    """Divides rewards by the running std of the discounted return R_t = gamma * R_{t-1} + r_t.

    R is kept per environment and reset when an episode ends. (The original study's code computed
    gamma * std + r_t instead: defect 1 in EXPERIMENTS.md.) The same statistics give the value-clip range its
    scale when rewards are left unscaled, so it also runs, without scaling, when `reward_std` is off.
    """

    def __init__(self, num_envs: int, gamma: float, enabled: bool, eps: float = 1e-8) -> None:
        self.enabled = enabled
        self.gamma = gamma
        self.eps = eps
        self.rms = RunningMeanStd(())
        self.ret = np.zeros(num_envs, dtype=np.float64)

    @property
    def std(self) -> float:
        return float(np.sqrt(self.rms.var + self.eps))

    def __call__(self, rewards: np.ndarray, dones: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Scale a rollout of rewards `[T, N]` in time order; rows with `valid == False` are skipped.

        `dones[t]` marks that the episode ended at step t, so R restarts from 0 after it.
        """
        return self.scale(rewards, dones, valid)[0]

    def scale(
        self, rewards: np.ndarray, dones: np.ndarray, valid: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `__call__`, and also each row's divisor `[T]` (1 when disabled), so that a reward that is not
        a step of the stream (an absorbing state's, gailrun/algos/gail/reward.py) can be scaled as its row
        was."""
        out = np.zeros_like(rewards, dtype=np.float32)
        divisors = np.ones(rewards.shape[0], dtype=np.float64)
        for t in range(rewards.shape[0]):
            v = valid[t]
            self.ret = np.where(v, self.gamma * self.ret + rewards[t], self.ret)
            if v.any():
                self.rms.update(self.ret[v])
            scale = self.std if self.enabled else 1.0
            divisors[t] = scale
            out[t] = np.where(v, rewards[t] / scale, 0.0)
            self.ret = np.where(v & dones[t], 0.0, self.ret)
        return out, divisors

    def state_dict(self) -> dict:
        return {"enabled": self.enabled, "ret": self.ret.copy(), **self.rms.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.enabled = bool(state["enabled"])
        self.ret = np.asarray(state["ret"], dtype=np.float64).copy()
        self.rms.load_state_dict(state)
