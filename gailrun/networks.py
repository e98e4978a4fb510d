"""The actor and critic networks and the `ortho_init` switch.

Actor and critic are separate MLPs, as in the original study (no shared trunk), so that the value loss
cannot distort the policy's features.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh") -> nn.Sequential:
    """Linear layers with `activation` between them and none after the last."""
    act = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, int(h)), act()]
        d = int(h)
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def orthogonal_init(net: nn.Sequential, head_gain: float) -> None:
    """Orthogonal weights with gain sqrt(2) for hidden layers and `head_gain` for the last, zero biases.

    The correct form of the paper's "orthogonal initialization and layer scaling"; the original study's code
    used gain 1 everywhere and bias 0.1 (defect 3).
    """
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        gain = head_gain if i == len(linears) - 1 else math.sqrt(2.0)
        nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)


def numpy_forward(net: nn.Sequential) -> Callable[[np.ndarray], np.ndarray]:
    """`net`'s forward pass in NumPy, over arrays that share memory with its current weights.

    For the rollout's per-step call on a few rows, where torch's per-module and per-operation overhead is
    most of the cost (bench/RESULTS.md, section 5). It sees in-place updates of the weights; build it again
    after a weight is replaced.
    """
    steps: list[Callable[[np.ndarray], np.ndarray]] = []
    for m in net:
        if isinstance(m, nn.Linear):
            w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
            steps.append(lambda x, w=w, b=b: x @ w.T + b)
        elif isinstance(m, nn.Tanh):
            steps.append(np.tanh)
        elif isinstance(m, nn.ReLU):
            steps.append(lambda x: np.maximum(x, 0.0))
        else:
            raise TypeError(f"numpy_forward: no NumPy form for {type(m).__name__}")

    def forward(x: np.ndarray) -> np.ndarray:
        for step in steps:
            x = step(x)
        return x

    return forward


def sample_categorical(probs: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
    """One draw per row by inverse CDF, with one uniform per row from the torch `generator` (whose state
    checkpoints keep): on a few rows torch.multinomial costs as much as the actor's forward pass, and the
    rollout calls this every env step. Training and stochastic evaluation both sample with this rule."""
    u = torch.rand(probs.shape[0], 1, generator=generator).numpy()
    return np.minimum((probs.cumsum(-1) < u).sum(-1), probs.shape[-1] - 1)


class ActorCritic(nn.Module):
    """A categorical policy and a state-value function over flat observations."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        ortho_init: bool = False,
    ) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.actor = mlp(obs_dim, hidden, n_actions, activation)
        self.critic = mlp(obs_dim, hidden, 1, activation)
        if ortho_init:
            orthogonal_init(self.actor, head_gain=0.01)
            orthogonal_init(self.critic, head_gain=1.0)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample actions from the policy: the rollout's per-step call, so nothing else is computed."""
        return torch.from_numpy(sample_categorical(torch.softmax(self.actor(obs), dim=-1).numpy(), generator))

    def sampler(self) -> Callable[[np.ndarray, torch.Generator | None], np.ndarray]:
        """`sample` on NumPy observations, with the actor's forward pass in NumPy over its current weights
        (valid while they change in place: the collector builds one per rollout)."""
        logits = numpy_forward(self.actor)

        def sample(obs: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
            z = logits(obs)
            e = np.exp(z - z.max(-1, keepdims=True))
            return sample_categorical(e / e.sum(-1, keepdims=True), generator)

        return sample

    @torch.no_grad()
    def act(
        self, obs: torch.Tensor, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample (or argmax) actions; returns the actions and their log-probabilities."""
        logp_all = torch.log_softmax(self.actor(obs), dim=-1)
        if deterministic:
            action = logp_all.argmax(dim=-1)
        else:
            action = torch.from_numpy(sample_categorical(logp_all.exp().numpy(), generator))
        return action, logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)
