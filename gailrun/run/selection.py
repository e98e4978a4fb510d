"""Reward-free model selection: pick an imitation learner's headline checkpoint from demonstrations alone.

`best.pt` is chosen by the env's true return, which a user of imitation learning does not have (it is an
oracle). Here the policy becomes a candidate before training (after BC pretraining, if any), at the first
update past every `select.every_steps` env steps (default `train.total_steps / select.candidates`) and at
the end: it is saved (`candidates/step-*.pt`), plays `select.episodes` deterministic episodes on envs of
its own seed (their rewards are never read by a criterion), and is scored against demonstrations the run
did not train on: the dataset's trajectories that pass `expert.min_score` but were not drawn, or, when
every one was drawn (InfoGAIL's styles), the training demonstrations themselves (recorded as the
reference's kind). Criteria, each using only observations and actions:

- `mmd`: squared maximum mean discrepancy between the candidate's state-action occupancy and the
  demonstrations' (Gaussian kernel on standardized observations and one-hot actions, bandwidth by the
  median heuristic on the demonstrations; episodes that terminate early continue in an absorbing state,
  as in DAC). It sees where the deterministic policy goes, as the final evaluation does: a policy that
  falls at once or hovers forever visits states, or ends when, the demonstrators did not.
- `demo_nll`: the negative log-likelihood of the demonstrations' actions under the policy (InfoGAIL:
  marginalized over a uniform code). It only looks at the demonstrators' states.
- `final_d`: the trained discriminator's mean P(expert) on the candidate's pairs, scored once training
  has ended (re-scoring saved snapshots with the final discriminator).

The candidate chosen by `select.criterion` is copied to `best_rf.pt`, the headline of GAIL and InfoGAIL
runs; `rf_selection.json` keeps every candidate's criteria and, labelled as an oracle for analysis only,
its deterministic return over the same episodes."""

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

from gailrun.data.episodes import Episode
from gailrun.data.expert import ExpertData
from gailrun.envs.make import EnvInfo
from gailrun.errors import GailrunError
from gailrun.models.codes import with_code
from gailrun.models.distributions import make_distribution
from gailrun.models.policy import Policy, policy_from_checkpoint
from gailrun.run.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from gailrun.run.evaluate import episode_quotas, evaluate

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


@dataclass
class Played:
    """What a candidate's deterministic episodes showed: its occupancy, and (for analysis only) returns."""

    occupancy: Occupancy
    lengths: list[int]
    returns: list[float]
    codes: list[int | None]  # the code each episode was played with (None: not InfoGAIL)


class RewardFreeSelection:
    """Candidates of one run and their criteria; a part of the run's full state (resume continues it).

    `cap` is the episode limit candidates play with (the run's `env.max_episode_steps`, else the env's
    own), and the occupancies' horizon H: demonstrations recorded at a shorter cap than the env's (the
    CartPole study's 200 steps) say nothing about later steps."""

    def __init__(
        self,
        settings: SelectSettings,
        reference: list[Episode],
        reference_kind: str,
        n_actions: int,
        cap: int | None,
        horizon: int | None,
        run_dir: Path,
    ) -> None:
        self.s, self.run_dir, self.reference_kind = settings, Path(run_dir), reference_kind
        self.cap, self.horizon = cap, horizon
        obs = np.concatenate([ep.observations[:-1] for ep in reference])
        actions = np.concatenate([ep.actions for ep in reference])
        episode = np.concatenate([np.full(ep.length, i) for i, ep in enumerate(reference)])
        ends = [(ep.length, bool(ep.terminations[-1])) for ep in reference]
        self.demo_obs, self.demo_actions = obs, actions
        rng = np.random.default_rng(settings.seed)
        self.space = PairSpace(
            Occupancy.of(obs, actions, episode, ends, horizon, settings.max_pairs, rng), n_actions
        )
        self.n_reference_episodes = len(reference)
        self.records: list[dict[str, Any]] = []

    def due(self, before: int, step: int) -> bool:
        return step // self.s.every_steps > before // self.s.every_steps

    def play(self, policy: Policy, step: int) -> Played:
        """`select.episodes` deterministic episodes; an InfoGAIL policy plays its codes in equal shares (as
        the demonstrators' styles are mixed), code c in episodes of its own."""
        codes = [None] if not policy.n_codes else list(range(policy.n_codes))
        shares = episode_quotas(self.s.episodes, len(codes))
        parts = [
            evaluate(policy, int(k), self.s.seed, True, max_episode_steps=self.cap, code=c, record_pairs=True)
            for c, k in zip(codes, shares, strict=True)
            if k > 0
        ]
        obs, actions, episode, ends = [], [], [], []
        for part in parts:
            assert part.pairs is not None and part.terminated is not None
            obs.append(part.pairs[0])
            actions.append(part.pairs[1])
            episode.append(part.pairs[2] + len(ends))
            ends += list(zip(part.lengths, part.terminated, strict=True))
        rng = np.random.default_rng([self.s.seed, step])
        occ = Occupancy.of(
            np.concatenate(obs),
            np.concatenate(actions),
            np.concatenate(episode),
            ends,
            self.horizon,
            self.s.max_pairs,
            rng,
        )
        codes_played = [c for c, k in zip(codes, shares, strict=True) for _ in range(int(k))]
        return Played(occ, [t for t, _ in ends], [r for part in parts for r in part.returns], codes_played)

    def add(self, step: int, payload: dict[str, Any]) -> dict[str, float]:
        """Make the policy in `payload` a candidate: save it, play it, score it; returns logged metrics."""
        with torch.random.fork_rng():  # building the policy's copy draws initial weights
            policy = policy_from_checkpoint(payload)
        played = self.play(policy, step)
        occ = played.occupancy
        path = self.run_dir / CANDIDATE_DIR / f"step-{step:010d}.pt"
        path.parent.mkdir(exist_ok=True)
        pairs = {"obs": torch.from_numpy(occ.obs), "actions": torch.from_numpy(occ.actions)}
        save_checkpoint(
            path, {**payload, "select_pairs": {**pairs, "weights": torch.from_numpy(occ.weights)}}
        )
        record = {
            "step": step,
            "checkpoint": str(path.relative_to(self.run_dir)),
            "mmd": self.space.mmd2(occ),
            "demo_nll": demo_nll(policy, self.demo_obs, self.demo_actions),
            "mean_length": float(np.mean(played.lengths)),
            "absorbing": occ.absorbing,
            "oracle_return": float(np.mean(played.returns)),  # analysis only: no criterion reads it
        }
        self.records = [r for r in self.records if r["step"] != step] + [record]
        return {"select/mmd": record["mmd"], "select/demo_nll": record["demo_nll"]}

    def has(self, step: int) -> bool:
        return any(r["step"] == step for r in self.records)

    def finish(self, scorer: Scorer | None) -> dict[str, Any]:
        """Score the candidates with the final discriminator (when there is one: GAIL, InfoGAIL), write
        best_rf.pt and rf_selection.json."""
        criteria = ["mmd", "demo_nll"]
        if scorer is not None:
            criteria.append("final_d")
            for r in self.records:
                pairs = load_checkpoint(self.run_dir / r["checkpoint"])["select_pairs"]
                p_expert = scorer(pairs["obs"].numpy(), pairs["actions"].numpy())
                w = pairs["weights"].numpy()
                r["final_d"] = float(np.sum(w * p_expert) / np.sum(w))
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
            "settings": {
                "every_steps": self.s.every_steps,
                "episodes": self.s.episodes,
                "seed": self.s.seed,
                "horizon": self.horizon,
            },
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


def build_selection(
    cfg: Any, expert: ExpertData | None, info: EnvInfo, run_dir: Path
) -> RewardFreeSelection | None:
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
    cap = cfg.env.get("max_episode_steps")
    cap = None if cap is None else int(cap)
    horizon = cap if cap is not None else info.max_episode_steps
    return RewardFreeSelection(settings, reference, kind, info.n_actions, cap, horizon, run_dir)
