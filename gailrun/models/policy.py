"""A trained policy as a self-contained object: networks, observation statistics and the env it is for.

Checkpoints carry everything `load_policy` needs, so evaluation and expert collection need nothing but the
file: no config, no guessing of the environment or the normalizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gailrun.errors import CheckpointError
from gailrun.models.codes import with_code
from gailrun.models.networks import ActorCritic
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.run.checkpoint import load_checkpoint


@dataclass
class Policy:
    agent: ActorCritic
    obs_norm: ObsNormalizer
    env_id: str
    algo: str
    checkpoint: dict[str, Any]
    n_codes: int = 0  # InfoGAIL: the policy also sees a one-hot latent code
    codes: np.ndarray | None = None  # the code of each env row, set by whoever plays the episodes

    def act(
        self, raw_obs: np.ndarray, deterministic: bool = True, generator: torch.Generator | None = None
    ) -> np.ndarray:
        obs = self.obs_norm(np.asarray(raw_obs, dtype=np.float32))
        if self.n_codes:
            codes = self.codes if self.codes is not None else np.zeros(len(obs), dtype=np.int64)
            obs = with_code(obs, codes, self.n_codes)
        action, _ = self.agent.act(torch.from_numpy(obs), deterministic=deterministic, generator=generator)
        return action.numpy()


def tensors_to_numpy(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


def numpy_to_tensors(state: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints hold tensors, not numpy arrays, so that `weights_only=True` can load them."""
    return {
        k: (torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v) for k, v in state.items()
    }


def policy_payload(
    agent: ActorCritic, obs_norm: ObsNormalizer, env_id: str, algo: str, network: dict
) -> dict:
    """The parts of a checkpoint that describe the policy."""
    return {
        "algo": algo,
        "env_id": env_id,
        "obs_dim": agent.obs_dim,
        "n_actions": agent.n_actions,
        "network": network,
        "agent": {k: v.detach().clone() for k, v in agent.state_dict().items()},
        "obs_norm": numpy_to_tensors(obs_norm.state_dict()),
    }


def policy_from_checkpoint(ckpt: dict[str, Any], source: str = "checkpoint") -> Policy:
    try:
        net = ckpt["network"]
        agent = ActorCritic(
            int(ckpt["obs_dim"]),
            int(ckpt["n_actions"]),
            hidden=tuple(int(h) for h in net["hidden"]),
            activation=str(net["activation"]),
        )
        agent.load_state_dict(ckpt["agent"])
        norm_state = tensors_to_numpy(ckpt["obs_norm"])
        n_codes = int(ckpt.get("n_codes", 0))
        obs_norm = ObsNormalizer(int(ckpt["obs_dim"]) - n_codes, enabled=bool(norm_state["enabled"]))
        obs_norm.load_state_dict(norm_state)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{source} is missing or has malformed policy parts ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160]}); it was not written by this version of gailrun train"
        ) from exc
    obs_norm.training = False
    agent.eval()
    return Policy(
        agent=agent,
        obs_norm=obs_norm,
        env_id=str(ckpt["env_id"]),
        algo=str(ckpt["algo"]),
        checkpoint=ckpt,
        n_codes=n_codes,
    )


def load_policy(path: str | Path, *, trusted: bool = False) -> Policy:
    return policy_from_checkpoint(load_checkpoint(path, trusted=trusted), source=str(path))
