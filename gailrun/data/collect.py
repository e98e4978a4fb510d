"""Record episodes of a trained policy as a Minari dataset with a card (`gailrun collect-expert`).

Each episode is played on a single env reset with its own seed (seed + k), so any one episode can be
replayed exactly from the card's seed and its index.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gailrun import __version__
from gailrun.data.episodes import Episode, return_summary
from gailrun.data.minari_io import Dataset, write_dataset
from gailrun.envs.make import make_vec_env, resolve_env_id
from gailrun.errors import DataError
from gailrun.models.policy import Policy, load_policy


def play_episodes(
    act: Any,
    env_id: str,
    episodes: int,
    seed: int,
    max_episode_steps: int | None = None,
) -> list[Episode]:
    """Play `episodes` episodes with `act(obs[1, D]) -> actions[1]`, recording everything Minari stores."""
    envs = make_vec_env(resolve_env_id(env_id), 1, max_episode_steps=max_episode_steps)
    out: list[Episode] = []
    try:
        for k in range(episodes):
            obs, _ = envs.reset(seed=seed + k)
            observations, actions, rewards, terms, truncs = [obs[0].copy()], [], [], [], []
            while True:
                a = act(obs)
                obs, r, term, trunc, _ = envs.step(a)
                observations.append(obs[0].copy())
                actions.append(int(a[0]))
                rewards.append(float(r[0]))
                terms.append(bool(term[0]))
                truncs.append(bool(trunc[0]))
                if term[0] or trunc[0]:
                    break
            out.append(
                Episode(
                    np.stack(observations),
                    np.array(actions),
                    np.array(rewards),
                    np.array(terms),
                    np.array(truncs),
                    seed=seed + k,
                )
            )
    finally:
        envs.close()
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_card(
    env_id: str,
    played: list[Episode],
    kept: list[Episode],
    min_score: float | None,
    seed: int,
    source: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "env_id": env_id,
        "source": source,
        "seed": seed,
        "min_score": min_score,
        "episodes_played": len(played),
        "episodes_kept": len(kept),
        "episodes_dropped": len(played) - len(kept),
        "returns_played": return_summary([ep.ret for ep in played]),
        "returns_kept": return_summary([ep.ret for ep in kept]),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "gailrun_version": __version__,
        **(extra or {}),
    }


def default_out(ckpt: Path, env_id: str) -> Path:
    return Path(ckpt).parent / f"demos-{env_id.lower().replace('/', '-')}"


def collect_expert(
    ckpt: Path,
    episodes: int,
    out: Path | None,
    min_score: float | None = None,
    seed: int = 0,
    deterministic: bool = True,
    dataset_id: str | None = None,
    overwrite: bool = False,
    trusted: bool = False,
    label: str | None = None,
    epsilon: float = 0.0,
    max_episode_steps: int | None = None,
) -> Dataset:
    """`epsilon`: with this probability each step plays a uniformly random action instead of the policy's,
    a documented stand-in for imperfect (human-like) play where no person can play; with `min_score` at
    the cap's return, every kept episode still survives to the cap."""
    if not 0.0 <= epsilon <= 1.0:
        raise DataError(f"epsilon={epsilon} must lie in [0, 1] (the probability of a random action)")
    if max_episode_steps is not None and max_episode_steps < 1:
        raise DataError(
            f"max_episode_steps={max_episode_steps} must be positive (or null: the env's own limit)"
        )
    policy: Policy = load_policy(ckpt, trusted=trusted)
    gen = torch.Generator().manual_seed(seed)
    noise = np.random.default_rng(seed)
    dist = policy.agent.dist

    def act(obs: np.ndarray) -> np.ndarray:
        action = policy.act(obs, deterministic=deterministic, generator=gen)
        if epsilon > 0.0:
            flip = noise.random(len(action)) < epsilon
            action = np.where(flip, dist.random_numpy(len(action), noise), action)
        return action

    played = play_episodes(act, policy.env_id, episodes, seed, max_episode_steps=max_episode_steps)
    if label is not None:
        for ep in played:
            ep.attrs["style"] = str(label)
    kept = played if min_score is None else [ep for ep in played if ep.ret >= min_score]
    if not kept:
        best = max(ep.ret for ep in played)
        raise DataError(
            f"none of {len(played)} episodes reached min_score {min_score} (best return {best:.1f}); "
            "lower min_score or collect from a better checkpoint"
        )
    source = {
        "checkpoint": str(ckpt),  # as given: a path relative to where the command ran stays portable
        "checkpoint_sha256": file_sha256(Path(ckpt)),
        "algo": policy.algo,
        "deterministic": deterministic,
        "epsilon": epsilon,
        "max_episode_steps": max_episode_steps,
    }
    card = build_card(
        policy.env_id,
        played,
        kept,
        min_score,
        seed,
        source,
        {
            "description": f"{len(kept)} episodes of a gailrun {policy.algo} policy on {policy.env_id}"
            + (
                f", a random action with probability {epsilon} (a stand-in for human-like play)."
                if epsilon
                else "."
            )
        },
    )
    out = Path(out) if out is not None else default_out(Path(ckpt), policy.env_id)
    name = out.name
    ds = Dataset(
        env_id=policy.env_id,
        episodes=kept,
        card=card,
        dataset_id=dataset_id or f"gailrun/{name if '-v' in name else name + '-v0'}",
    )
    write_dataset(out, ds, overwrite=overwrite)
    return ds
