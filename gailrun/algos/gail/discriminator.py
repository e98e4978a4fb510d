"""GAIL's discriminator D(s, a) and the sampler of the expert minibatches it is trained on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from gailrun.algos.gail.reward import ABSORBING_MODES
from gailrun.errors import GailrunError
from gailrun.models.distributions import make_distribution
from gailrun.models.networks import mlp
from gailrun.run.rng import generator_state, set_generator_state


class Discriminator(nn.Module):
    """D(s, a): an MLP on [normalized obs, encoded action (one-hot)] (+ an absorbing-state flag) -> logit."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: Sequence[int],
        activation: str = "tanh",
        absorbing: str = "none",
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.action_dist = make_distribution(n_actions)
        assert absorbing in ABSORBING_MODES, f"absorbing={absorbing!r}: pass GailSettings' checked mode"
        self.absorbing = absorbing
        width = obs_dim + self.action_dist.encoding_dim + int(self.absorbing != "none")
        self.net = mlp(width, hidden, 1, activation)

    def inputs(
        self, obs: torch.Tensor, actions: torch.Tensor, flags: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Absorbing rows (flag 1) carry no action; with `dac` no observation either (one absorbing state),
        with `final` the terminal observation they continue from."""
        encoded = self.action_dist.encode(actions, obs.dtype)
        if self.absorbing == "none":
            return torch.cat([obs, encoded], dim=-1)
        f = torch.zeros(obs.shape[0], dtype=obs.dtype) if flags is None else flags.to(obs.dtype)
        keep = (1.0 - f).unsqueeze(-1)
        obs_part = obs * keep if self.absorbing == "dac" else obs
        return torch.cat([obs_part, encoded * keep, f.unsqueeze(-1)], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class ExpertSampler:
    """Expert minibatches: a pointer over a shuffled order, reshuffled when it wraps (OpenAI baselines'
    way, every sample seen once per pass), or independent uniform draws (`random`)."""

    def __init__(self, size: int, mode: str, rng: np.random.Generator) -> None:
        if mode not in ("pointer", "random"):
            raise GailrunError(f"algo.expert_sampler={mode!r} is unknown; choose pointer or random")
        self.size, self.mode, self.rng = size, mode, rng
        self.order = rng.permutation(size)
        self.pointer = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "order": torch.from_numpy(self.order.copy()),
            "pointer": self.pointer,
            "rng": generator_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = state["order"].numpy().copy()
        self.pointer = int(state["pointer"])
        set_generator_state(self.rng, state["rng"])

    def next(self, batch: int) -> np.ndarray:
        if self.mode == "random":
            return self.rng.integers(0, self.size, batch)
        out = []
        while batch > 0:
            if self.pointer >= self.size:
                self.order = self.rng.permutation(self.size)
                self.pointer = 0
            take = min(batch, self.size - self.pointer)
            out.append(self.order[self.pointer : self.pointer + take])
            self.pointer += take
            batch -= take
        return np.concatenate(out)
