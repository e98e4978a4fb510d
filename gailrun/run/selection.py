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
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gailrun.config.settings import settings_from
from gailrun.data.episodes import Episode
from gailrun.data.expert import ExpertData
from gailrun.envs.make import EnvInfo
from gailrun.errors import GailrunError
from gailrun.models.policy import Policy, policy_from_checkpoint
from gailrun.run.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from gailrun.run.evaluate import episode_quotas, evaluate
from gailrun.run.occupancy import Occupancy, PairSpace, demo_nll

CRITERIA = ("mmd", "demo_nll", "final_d")
# Which way is better for each criterion.
LOWER_IS_BETTER = {"mmd": True, "demo_nll": True, "final_d": False}
SELECT_METRICS = ("select/mmd", "select/demo_nll")
CANDIDATE_DIR = "candidates"
HEADLINE = "best_rf.pt"

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


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
    every = node.every_steps
    if every is None:
        if cfg.train.max_episodes is not None:
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
    settings = settings_from(SelectSettings, {"every_steps": int(every)}, node)
    cap = cfg.env.max_episode_steps
    cap = None if cap is None else int(cap)
    horizon = cap if cap is not None else info.max_episode_steps
    return RewardFreeSelection(settings, reference, kind, info.n_actions, cap, horizon, run_dir)
