"""The criteria of reward-free selection (`gailrun/run/selection.py`), from observations and actions alone:
state-action occupancies with DAC's absorbing state compared by MMD (`mmd`), and the demonstrations'
negative log-likelihood under a policy (`demo_nll`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gailrun.models.codes import with_code
from gailrun.models.distributions import make_distribution
from gailrun.models.policy import Policy

Ends = list[tuple[int, bool]]  # each episode's length and whether it terminated (else: truncated)


def subsample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


@dataclass
class Occupancy:
    """A sample of a policy's (or the demonstrators') state-action occupancy over a horizon of H steps, as
    in DAC's absorbing states: an episode that terminates at step T < H spends its remaining H - T steps
    in one absorbing state, so a policy that falls at once puts most of its mass there and one that never
    lands puts none. Each of the N episodes has mass 1/N: per step 1/(N H) if it terminated, else 1/(N T)
    (a truncated episode, possibly at a cap shorter than H, spreads its mass over its own steps)."""

    obs: np.ndarray  # [n, obs_dim] a seeded subsample of at most max_pairs pairs
    actions: np.ndarray  # [n]
    weights: np.ndarray  # [n] the pairs' masses, summing to 1 - absorbing
    absorbing: float  # the absorbing state's mass

    @classmethod
    def of(
        cls,
        obs: np.ndarray,
        actions: np.ndarray,
        episode: np.ndarray,
        ends: Ends,
        horizon: int | None,
        max_pairs: int,
        rng: np.random.Generator,
    ) -> Occupancy:
        """`episode[i]` is the index into `ends` (length, terminated) of pair i's episode."""
        n = len(ends)
        h = np.array([horizon or t for t, _ in ends], dtype=np.float64)
        lengths = np.array([t for t, _ in ends], dtype=np.float64)
        terminated = np.array([term and horizon is not None for _, term in ends])
        per_step = np.where(terminated, 1.0 / (n * h), 1.0 / (n * lengths))
        absorbing = float(np.sum(np.where(terminated, (h - np.minimum(lengths, h)) / (n * h), 0.0)))
        keep = subsample(len(actions), max_pairs, rng)
        w = per_step[np.asarray(episode)[keep]]
        w *= (1.0 - absorbing) / w.sum()  # a uniform subsample keeps each pair's share in expectation
        return cls(np.asarray(obs)[keep], np.asarray(actions)[keep], w, absorbing)


class PairSpace:
    """Occupancies compared by MMD, with the features and the bandwidth fixed once from the reference's."""

    def __init__(self, reference: Occupancy, n_actions: int) -> None:
        self.n_actions = n_actions
        self.action_dist = make_distribution(n_actions)
        self.mean = reference.obs.mean(axis=0)
        # A feature the demonstrators never vary (e.g. a leg that never touches) keeps unit scale.
        std = reference.obs.std(axis=0)
        self.scale = np.where(std > 1e-6, std, 1.0)
        feats = self.features(reference.obs, reference.actions)
        d2 = sq_dists(feats, feats)
        self.bandwidth2 = float(np.median(d2[np.triu_indices(len(d2), k=1)])) or 1.0
        self.reference = self.points(reference)

    def features(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        z = (np.asarray(obs, dtype=np.float64) - self.mean) / self.scale
        encoded = self.action_dist.encode_numpy(actions)
        return np.concatenate([z, encoded, np.zeros((len(z), 1))], axis=1)

    def points(self, occ: Occupancy) -> tuple[np.ndarray, np.ndarray]:
        """Sample points and weights: the pairs, and the absorbing state far from every real pair."""
        feats = self.features(occ.obs, occ.actions)
        point = np.zeros((1, feats.shape[1]))
        point[0, -1] = 2.0 * math.sqrt(self.bandwidth2)  # kernel to any real pair <= exp(-4)
        return np.concatenate([feats, point]), np.concatenate([occ.weights, [occ.absorbing]])

    def mmd2(self, occ: Occupancy) -> float:
        """Squared MMD (V-statistic) between `occ` and the reference occupancy; 0 when they are equal."""
        (x, wx), (y, wy) = self.points(occ), self.reference

        def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.exp(-sq_dists(a, b) / self.bandwidth2)

        return float(wx @ k(x, x) @ wx + wy @ k(y, y) @ wy - 2.0 * wx @ k(x, y) @ wy)


def sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def demo_nll(policy: Policy, obs: np.ndarray, actions: np.ndarray) -> float:
    """Mean -log pi(a | s) over demonstration pairs; InfoGAIL policies: -log of the mean over codes."""
    raw = policy.obs_norm(np.asarray(obs, dtype=np.float32))
    a = torch.from_numpy(np.asarray(actions, dtype=policy.agent.dist.action_dtype))
    codes = [None] if not policy.n_codes else range(policy.n_codes)
    with torch.no_grad():
        per_code = []
        for c in codes:
            x = raw if c is None else with_code(raw, np.full(len(raw), c), policy.n_codes)
            per_code.append(policy.agent.dist.log_prob(policy.agent.logits(torch.from_numpy(x)), a))
        marginal = torch.logsumexp(torch.stack(per_code), dim=0) - math.log(len(per_code))
    return float(-marginal.mean())
