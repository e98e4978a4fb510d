"""The actor and critic networks, the `ortho_init` switch, and the gradient step of the smaller models.

Actor and critic are separate MLPs, as in the original study (no shared trunk), so that the value loss
cannot distort the policy's features.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from gailrun.errors import DivergenceError
from gailrun.models.distributions import Categorical, make_distribution

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, diverged: str) -> None:
    """One step on `loss`, refused with `DivergenceError(diverged)` (what to lower) when it is not finite: BC,
    the discriminator and InfoGAIL's posterior (PPO's update clips gradients and has its own)."""
    if not torch.isfinite(loss):
        raise DivergenceError(diverged)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


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


class NumpyMLP:
    """An `mlp` (Linear layers with one kind of activation, Tanh or ReLU, between them) as NumPy arrays that
    share memory with its torch weights, so it sees their in-place updates (build it again after a weight
    is replaced).

    Why: on a few rows (the rollout's per-step call) or a minibatch of 64 (the update, fast_grad.py), torch's
    per-module and per-operation overhead is most of the cost (bench/RESULTS.md, section 5).
    """

    def __init__(self, net: nn.Sequential) -> None:
        if not self.supports(net):
            raise TypeError(f"NumpyMLP: {net} is not Linear layers with Tanh or ReLU between them")
        linears = list(net)[::2]
        self.relu = any(isinstance(m, nn.ReLU) for m in net)
        self.weights = [m.weight.detach().numpy() for m in linears]
        self.biases = [m.bias.detach().numpy() for m in linears]

    @staticmethod
    def supports(net: nn.Module) -> bool:
        if not isinstance(net, nn.Sequential) or len(net) % 2 == 0:
            return False
        layers, acts = list(net)[::2], list(net)[1::2]
        return (
            all(isinstance(m, nn.Linear) and m.bias is not None for m in layers)
            and len({type(m) for m in acts}) <= 1
            and all(isinstance(m, nn.Tanh | nn.ReLU) for m in acts)
        )

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Each layer's input, then the output (a backward pass needs them all)."""
        hs = [x]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = hs[-1] @ w.T
            z += b
            if i < last:
                if self.relu:
                    np.maximum(z, 0.0, out=z)
                else:
                    np.tanh(z, out=z)
            hs.append(z)
        return hs

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.activations(x)[-1]


class ActorCritic(nn.Module):
    """A policy (its action distribution: `self.dist`) and a state-value function over flat observations."""

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
        self.dist = make_distribution(n_actions)
        self.actor = mlp(obs_dim, hidden, self.dist.params_dim, activation)
        self.critic = mlp(obs_dim, hidden, 1, activation)
        if ortho_init:
            orthogonal_init(self.actor, head_gain=0.01)
            orthogonal_init(self.critic, head_gain=1.0)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def sampler(self) -> Callable[[np.ndarray, torch.Generator | None], np.ndarray]:
        """Stochastic `act` for the rollout's loop: NumPy observations in, actions out. On the fast path
        (`fast_path`) the actor's forward pass runs in NumPy over its current weights (valid while they change
        in place: the collector builds one per rollout); otherwise it is `act` itself, in torch."""
        if not fast_path(self):

            def sample_torch(obs: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
                return self.act(torch.from_numpy(obs), generator=generator)[0].numpy()

            return sample_torch
        params, dist = NumpyMLP(self.actor), self.dist

        def sample(obs: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
            return dist.sample_numpy(params(obs), generator)

        return sample

    @torch.no_grad()
    def act(
        self, obs: torch.Tensor, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample (or argmax) actions; returns the actions and their log-probabilities."""
        return self.dist.act(self.actor(obs), deterministic, generator)


def fast_path(agent: nn.Module) -> bool:
    """The one gate of gailrun's hand-written NumPy path, in the rollout's sampler (`ActorCritic.sampler`)
    and in PPO's gradient (`gailrun/algos/ppo/fast_grad.py`, which PPO's settings can still turn off): an
    `ActorCritic` whose actor and critic are plain MLPs (`NumpyMLP.supports`) over a Categorical
    distribution. Anything else runs in torch, with autograd: the reference the fast path is tested against.
    """
    return (
        isinstance(agent, ActorCritic)
        and isinstance(agent.dist, Categorical)
        and NumpyMLP.supports(agent.actor)
        and NumpyMLP.supports(agent.critic)
    )
