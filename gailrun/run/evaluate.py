"""Evaluation: N episodes with a fixed seed, deterministic actions by default, frozen normalizer.

Episodes are split into fixed per-env quotas (env i plays its share, extra episodes are discarded), so the
result does not favour short episodes the way "first N episodes to finish" would.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gailrun.config.schema import FinalEval
from gailrun.envs.make import env_info, make_vec_env, resolve_env_id, seed_vec_env
from gailrun.errors import CheckpointError, GailrunError
from gailrun.models.policy import Policy
from gailrun.rollout.buffer import EpisodeSums
from gailrun.run.checkpoint import atomic_write_bytes
from gailrun.run.files import eval_json_path

__all__ = ["EvalResult", "PeriodicEval", "eval_json_path", "evaluate"]


@dataclass
class EvalResult:
    env_id: str
    episodes: int
    seed: int
    deterministic: bool
    returns: list[float]
    lengths: list[int]
    codes: list[int] | None = None  # InfoGAIL: the latent code each episode was played with
    # record_pairs: raw observations, actions and the index (into returns) of the episode of each pair,
    # and whether each episode ended by termination (else truncation).
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    terminated: list[bool] | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    def summary(self) -> dict:
        r = np.asarray(self.returns)
        return {
            "env_id": self.env_id,
            "episodes": self.episodes,
            "seed": self.seed,
            "deterministic": self.deterministic,
            "mean": float(r.mean()),
            "std": float(r.std()),
            "min": float(r.min()),
            "max": float(r.max()),
            "mean_length": float(np.mean(self.lengths)),
        }

    def line(self) -> str:
        s = self.summary()
        return (
            f"{self.env_id}: {s['mean']:.1f} +- {s['std']:.1f} over {self.episodes} episodes "
            f"(min {s['min']:.1f}, max {s['max']:.1f}, seed {self.seed}, "
            f"{'deterministic' if self.deterministic else 'stochastic'})"
        )

    def write_json(self, path: Path, extra: dict | None = None) -> Path:
        body = {**self.summary(), **(extra or {}), "returns": self.returns, "lengths": self.lengths}
        if self.codes is not None:
            body["codes"] = self.codes
        atomic_write_bytes(path, (json.dumps(body, indent=2) + "\n").encode())
        return path


def episode_quotas(episodes: int, num_envs: int) -> np.ndarray:
    base = np.full(num_envs, episodes // num_envs, dtype=np.int64)
    base[: episodes % num_envs] += 1
    return base


def evaluate(
    policy: Policy,
    episodes: int,
    seed: int,
    deterministic: bool = True,
    num_envs: int = FinalEval.num_envs,
    env_id: str | None = None,
    max_episode_steps: int | None = None,
    code: int | None = None,
    record_pairs: bool = False,
) -> EvalResult:
    """Play `episodes` episodes with `policy` on its own env (or `env_id`).

    An InfoGAIL policy plays every episode with latent code `code`, or, when it is None, with a code drawn
    uniformly per episode (recorded in the result). `record_pairs` keeps the (observation, action) pairs of
    the counted episodes (not the discarded extra ones, not the autoreset steps) with each pair's episode.
    """
    env_id = resolve_env_id(env_id or policy.env_id)
    info = env_info(env_id)
    info.check_fits(
        "the checkpoint is for",
        policy.env_id,
        policy.agent.obs_dim - policy.n_codes,
        range(policy.agent.n_actions),
        fix="evaluate it on its own env (drop env_id=)",
        error=CheckpointError,
    )
    num_envs = max(1, min(num_envs, episodes))
    quotas = episode_quotas(episodes, num_envs)
    envs = make_vec_env(env_id, num_envs, max_episode_steps=max_episode_steps)
    generator = torch.Generator().manual_seed(seed)
    returns: list[list[float]] = [[] for _ in range(num_envs)]
    lengths: list[list[int]] = [[] for _ in range(num_envs)]
    ended: list[list[bool]] = [[] for _ in range(num_envs)]
    played_codes: list[list[int]] = [[] for _ in range(num_envs)]
    if policy.n_codes:
        if code is not None and not 0 <= code < policy.n_codes:
            raise CheckpointError(f"code={code} but the policy has codes 0..{policy.n_codes - 1}")
        code_rng = np.random.default_rng(seed)
        policy.codes = (
            np.full(num_envs, code, dtype=np.int64)
            if code is not None
            else code_rng.integers(0, policy.n_codes, num_envs)
        )
    try:
        obs = seed_vec_env(envs, seed)
        sums = EpisodeSums(num_envs)
        prev_done = np.zeros(num_envs, dtype=bool)
        done_count = np.zeros(num_envs, dtype=np.int64)
        seen_obs: list[np.ndarray] = []
        seen_actions: list[np.ndarray] = []
        seen_episodes: list[np.ndarray] = []
        first_episode = np.concatenate([[0], np.cumsum(quotas)[:-1]])  # env i's episodes in the flat lists
        while (done_count < quotas).any():
            actions = policy.act(obs, deterministic=deterministic, generator=generator)
            if record_pairs:
                counted = ~prev_done & (done_count < quotas)
                seen_obs.append(np.asarray(obs)[counted])
                seen_actions.append(np.asarray(actions)[counted])
                seen_episodes.append((first_episode + done_count)[counted])
            obs, reward, term, trunc, _ = envs.step(actions)
            for i, ret, length in sums.step(reward, ~prev_done, term | trunc):
                if done_count[i] < quotas[i]:
                    returns[i].append(ret)
                    lengths[i].append(length)
                    ended[i].append(bool(term[i]))
                    if policy.n_codes:
                        played_codes[i].append(int(policy.codes[i]))  # type: ignore[index]
                    done_count[i] += 1
                if policy.n_codes and code is None:
                    policy.codes[i] = code_rng.integers(0, policy.n_codes)  # type: ignore[index]
            prev_done = term | trunc
    finally:
        envs.close()
    flat_r = [x for env_r in returns for x in env_r]
    flat_l = [x for env_l in lengths for x in env_l]
    flat_c = [x for env_c in played_codes for x in env_c] if policy.n_codes else None
    assert len(flat_r) == episodes and all(math.isfinite(x) for x in flat_r)
    pairs = None
    if record_pairs:
        pairs = (
            np.concatenate(seen_obs),
            np.concatenate(seen_actions).astype(np.int64),
            np.concatenate(seen_episodes).astype(np.int64),
        )
    flat_t = [x for env_t in ended for x in env_t] if record_pairs else None
    return EvalResult(env_id, episodes, seed, deterministic, flat_r, flat_l, flat_c, pairs, flat_t)


PERIODIC_EVAL_METRICS = ("eval/return_mean", "eval/return_std")


class PeriodicEval:
    """Deterministic evaluation of the current policy every `every` env steps, on envs of its own (seed
    `seed`, the same start states each time), logged as `eval/return_mean` / `eval/return_std`.

    The learning curve papers show: the average of the last 100 training episodes mixes the stochastic
    policy's exploration and 100 episodes played by older policies, so it lags and blurs a comparison of
    learning speed. Evaluation draws from no random stream of training, so a run with it logs the same
    training metrics as a run without it.
    """

    def __init__(
        self, every: int | None, episodes: int, seed: int, num_envs: int = FinalEval.num_envs
    ) -> None:
        self.every, self.episodes, self.seed, self.num_envs = every or 0, int(episodes), int(seed), num_envs
        if self.every < 0 or (self.every and self.episodes < 1):
            raise GailrunError(
                f"train.eval_every_steps={every} with train.eval_episodes={episodes}: both must be positive "
                "(or eval_every_steps=null to turn periodic evaluation off)"
            )

    @property
    def metric_names(self) -> tuple[str, ...]:
        return PERIODIC_EVAL_METRICS if self.every else ()

    def due(self, before: int, step: int) -> bool:
        """True when this update crossed a multiple of `every` env steps."""
        return bool(self.every) and step // self.every > before // self.every

    def __call__(self, policy: Policy) -> dict[str, float]:
        result = evaluate(policy, self.episodes, self.seed, deterministic=True, num_envs=self.num_envs)
        return {"eval/return_mean": result.mean, "eval/return_std": result.std}
