"""Reward-free model selection: pick an imitation learner's headline checkpoint from demonstrations alone.

`best.pt` is chosen by the env's true return, which a user of imitation learning does not have (it is an
oracle). Here every `select.every_steps` env steps the current policy becomes a candidate: it is saved
(`candidates/step-*.pt`), plays `select.episodes` deterministic episodes on envs of its own seed (their
rewards are never read by a criterion), and is scored against demonstrations the run did not train on
(the dataset's trajectories that pass `expert.min_score` but were not drawn; the drawn ones when none are
left). Criteria, each using only observations and actions:

- `mmd`: squared maximum mean discrepancy between the candidate's state-action occupancy and the held-out
  demonstrations' (Gaussian kernel on standardized observations and one-hot actions, bandwidth by the
  median heuristic on the demonstrations; episodes that end early continue in an absorbing state, as in
  DAC). It sees where the deterministic policy goes, as the final evaluation does: a policy that falls at
  once or hovers forever visits states, or ends when, the demonstrators did not.
- `demo_nll`: the negative log-likelihood of the held-out demonstrations' actions under the policy
  (InfoGAIL: marginalized over a uniform code). It only looks at the demonstrators' states.
- `final_d`: the trained discriminator's mean P(expert) on the candidate's pairs, scored once training
  has ended (re-scoring saved snapshots with the final discriminator).

The candidate chosen by `select.criterion` is copied to `best_rf.pt`, the headline of GAIL and InfoGAIL
runs; `rf_selection.json` keeps every candidate's criteria and, labelled as an oracle for analysis only,
its deterministic return over the same episodes.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gailrun.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from gailrun.data.episodes import Episode
from gailrun.envs import EnvInfo
from gailrun.errors import GailrunError
from gailrun.evaluate import evaluate
from gailrun.policy import Policy, policy_from_checkpoint

CRITERIA = ("mmd", "demo_nll", "final_d")
# Which way is better for each criterion.
LOWER_IS_BETTER = {"mmd": True, "demo_nll": True, "final_d": False}
SELECT_METRICS = ("select/mmd", "select/demo_nll")
CANDIDATE_DIR = "candidates"
HEADLINE = "best_rf.pt"

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
Ends = list[tuple[int, bool]]  # each episode's length and whether it terminated (else: truncated)


@dataclass(frozen=True)
class SelectSettings:
    every_steps: int
    episodes: int
    seed: int
    criterion: str
    max_pairs: int

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise GailrunError(
                f"select.criterion={self.criterion!r} is unknown; choose one of {', '.join(CRITERIA)}"
            )
        if self.every_steps < 1 or self.episodes < 1 or self.max_pairs < 2:
            raise GailrunError(
                f"select.every_steps={self.every_steps}, select.episodes={self.episodes} and "
                f"select.max_pairs={self.max_pairs} must be positive (max_pairs at least 2)"
            )


def one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    return np.eye(n_actions, dtype=np.float64)[np.asarray(actions, dtype=np.int64)]


def subsample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


class PairSpace:
    """State-action occupancy measures compared by MMD, with features and bandwidth fixed once from the
    reference (demonstration) pairs.

    As in DAC's absorbing states, an episode that terminates at step T < H (the env's time limit) spends
    its remaining H - T steps in one absorbing state, a point far from every real pair: a policy that falls
    at once puts most of its mass there, one that never lands puts none, and each is measured against how
    much the demonstrators put there. A truncated episode (a time limit, possibly shorter than H) puts all
    its mass on its pairs.
    """

    def __init__(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        ends: Ends,
        n_actions: int,
        horizon: int | None,
    ) -> None:
        self.n_actions, self.horizon = n_actions, horizon
        self.mean = obs.mean(axis=0)
        # A feature the demonstrators never vary (e.g. a leg that never touches) keeps unit scale.
        std = obs.std(axis=0)
        self.scale = np.where(std > 1e-6, std, 1.0)
        feats = self.features(obs, actions)
        d2 = sq_dists(feats, feats)
        self.bandwidth2 = float(np.median(d2[np.triu_indices(len(d2), k=1)])) or 1.0
        self.reference = self.with_absorbing(feats, ends)

    def features(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        z = (np.asarray(obs, dtype=np.float64) - self.mean) / self.scale
        return np.concatenate([z, one_hot(actions, self.n_actions), np.zeros((len(z), 1))], axis=1)

    def absorbing_mass(self, ends: Ends) -> float:
        """The share of the episodes' occupancy in the absorbing state: (H - T) / H for an episode that
        terminated at step T, 0 for one that was truncated, averaged over episodes."""
        if self.horizon is None:
            return 0.0
        h = self.horizon
        return float(np.mean([(h - min(t, h)) / h if term else 0.0 for t, term in ends]))

    def with_absorbing(self, feats: np.ndarray, ends: Ends) -> tuple[np.ndarray, np.ndarray]:
        """Sample points and weights: the (subsampled) pairs share 1 - m, the absorbing point has m."""
        m = self.absorbing_mass(ends)
        point = np.zeros((1, feats.shape[1]))
        point[0, -1] = 2.0 * math.sqrt(self.bandwidth2)  # kernel to any real pair <= exp(-4)
        weights = np.concatenate([np.full(len(feats), (1.0 - m) / len(feats)), [m]])
        return np.concatenate([feats, point]), weights

    def mmd2(self, obs: np.ndarray, actions: np.ndarray, ends: Ends) -> float:
        """Squared MMD (V-statistic) between the candidate's occupancy and the reference's; 0 when equal."""
        x, wx = self.with_absorbing(self.features(obs, actions), ends)
        y, wy = self.reference

        def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.exp(-sq_dists(a, b) / self.bandwidth2)

        return float(wx @ k(x, x) @ wx + wy @ k(y, y) @ wy - 2.0 * wx @ k(x, y) @ wy)


def sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def demo_nll(policy: Policy, obs: np.ndarray, actions: np.ndarray) -> float:
    """Mean -log pi(a | s) over demonstration pairs; InfoGAIL policies: -log of the mean over codes."""
    x = torch.from_numpy(policy.obs_norm(np.asarray(obs, dtype=np.float32)))
    a = torch.from_numpy(np.asarray(actions, dtype=np.int64))
    with torch.no_grad():
        if not policy.n_codes:
            logp = torch.log_softmax(policy.agent.logits(x), dim=-1)
            return float(-logp.gather(1, a[:, None]).mean())
        per_code = []
        for c in range(policy.n_codes):
            code = torch.zeros(len(x), policy.n_codes)
            code[:, c] = 1.0
            logp = torch.log_softmax(policy.agent.logits(torch.cat([x, code], dim=1)), dim=-1)
            per_code.append(logp.gather(1, a[:, None]).squeeze(1))
        marginal = torch.logsumexp(torch.stack(per_code), dim=0) - math.log(policy.n_codes)
        return float(-marginal.mean())


class RewardFreeSelection:
    """Candidates of one run and their criteria; a part of the run's full state (resume continues it)."""

    def __init__(
        self,
        settings: SelectSettings,
        reference: list[Episode],
        reference_kind: str,
        n_actions: int,
        horizon: int | None,
        run_dir: Path,
    ) -> None:
        if not reference:
            raise GailrunError("reward-free selection needs demonstrations; set select.every_steps=null")
        self.s, self.run_dir, self.reference_kind = settings, Path(run_dir), reference_kind
        obs = np.concatenate([ep.observations[:-1] for ep in reference])
        actions = np.concatenate([ep.actions for ep in reference])
        self.demo_obs, self.demo_actions = obs, actions
        idx = subsample(len(actions), settings.max_pairs, np.random.default_rng(settings.seed))
        ends = [(ep.length, bool(ep.terminations[-1])) for ep in reference]
        self.space = PairSpace(obs[idx], actions[idx], ends, n_actions, horizon)
        self.n_reference_episodes = len(reference)
        self.records: list[dict[str, Any]] = []

    def due(self, before: int, step: int) -> bool:
        return step // self.s.every_steps > before // self.s.every_steps

    def add(self, step: int, payload: dict[str, Any]) -> dict[str, float]:
        """Make the policy in `payload` a candidate: save it, play it, score it; returns logged metrics."""
        with torch.random.fork_rng():  # building the policy's copy draws initial weights
            policy = policy_from_checkpoint(payload)
        result = evaluate(policy, self.s.episodes, self.s.seed, deterministic=True, record_pairs=True)
        assert result.pairs is not None
        obs, actions = result.pairs
        keep = subsample(len(actions), self.s.max_pairs, np.random.default_rng([self.s.seed, step]))
        obs, actions = obs[keep], actions[keep]
        path = self.run_dir / CANDIDATE_DIR / f"step-{step:010d}.pt"
        path.parent.mkdir(exist_ok=True)
        pairs = {"obs": torch.from_numpy(obs), "actions": torch.from_numpy(actions)}
        save_checkpoint(path, {**payload, "select_pairs": pairs})
        record = {
            "step": step,
            "checkpoint": str(path.relative_to(self.run_dir)),
            "mmd": self.space.mmd2(
                obs, actions, list(zip(result.lengths, result.terminated or [], strict=True))
            ),
            "demo_nll": demo_nll(policy, self.demo_obs, self.demo_actions),
            "mean_length": float(np.mean(result.lengths)),
            "oracle_return": result.mean,  # analysis only: no criterion reads it
        }
        self.records = [r for r in self.records if r["step"] != step] + [record]
        return {"select/mmd": record["mmd"], "select/demo_nll": record["demo_nll"]}

    def finish(self, scorer: Scorer | None) -> dict[str, Any]:
        """Score the candidates with the final discriminator, write best_rf.pt and rf_selection.json."""
        if not self.records:
            raise GailrunError("reward-free selection saw no candidate; lower select.every_steps")
        criteria = ["mmd", "demo_nll"]
        if scorer is not None:
            criteria.append("final_d")
            for r in self.records:
                pairs = load_checkpoint(self.run_dir / r["checkpoint"])["select_pairs"]
                r["final_d"] = float(np.mean(scorer(pairs["obs"].numpy(), pairs["actions"].numpy())))
        if self.s.criterion not in criteria:
            raise GailrunError(
                f"select.criterion={self.s.criterion} needs a discriminator, which this run has not; "
                "choose mmd or demo_nll"
            )
        chosen = {c: self.choose(c) for c in criteria}
        headline = chosen[self.s.criterion]
        shutil.copyfile(self.run_dir / headline["checkpoint"], self.run_dir / HEADLINE)
        body = {
            "criterion": self.s.criterion,
            "headline": HEADLINE,
            "chosen": {
                c: {"step": r["step"], "value": r[c], "checkpoint": r["checkpoint"]}
                for c, r in chosen.items()
            },
            "reference": {"kind": self.reference_kind, "episodes": self.n_reference_episodes},
            "settings": {"every_steps": self.s.every_steps, "episodes": self.s.episodes, "seed": self.s.seed},
            "candidates": sorted(self.records, key=lambda r: r["step"]),
        }
        atomic_write_bytes(self.run_dir / "rf_selection.json", (json.dumps(body, indent=2) + "\n").encode())
        return body

    def choose(self, criterion: str) -> dict[str, Any]:
        """The best candidate by `criterion`; ties go to the later one (it trained longer)."""
        sign = 1.0 if LOWER_IS_BETTER[criterion] else -1.0
        ordered = sorted(self.records, key=lambda r: r["step"])
        return min(reversed(ordered), key=lambda r: sign * r[criterion])

    def state_dict(self) -> dict[str, Any]:
        return {"records": [dict(r) for r in self.records]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.records = [dict(r) for r in state["records"]]


def build_selection(cfg: Any, expert: Any, info: EnvInfo, run_dir: Path) -> RewardFreeSelection | None:
    """The run's selection, or None: off for PPO and BC (PPO has the reward; BC's best.pt is already
    chosen by its validation loss) and with `select.candidates=0`."""
    node = cfg.select
    if str(cfg.algo.name) not in ("gail", "infogail") or int(node.candidates) <= 0 or expert is None:
        return None
    every = node.get("every_steps")
    if every is None:
        if cfg.train.get("max_episodes") is not None:
            raise GailrunError(
                "train.max_episodes ends this run at an unknown step, so select.candidates cannot space the "
                "reward-free selection's snapshots; set select.every_steps (e.g. 50000)"
            )
        every = max(1, int(cfg.train.total_steps) // int(node.candidates))
    held_out = list(expert.held_out)
    reference, kind = (
        (held_out, "held-out demonstrations")
        if held_out
        else (expert.episodes, "training demonstrations (none held out)")
    )
    settings = SelectSettings(
        every_steps=int(every),
        episodes=int(node.episodes),
        seed=int(node.seed),
        criterion=str(node.criterion),
        max_pairs=int(node.max_pairs),
    )
    return RewardFreeSelection(settings, reference, kind, info.n_actions, info.max_episode_steps, run_dir)
