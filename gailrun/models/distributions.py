"""The action distribution: the one place that knows the action space.

Everything that turns the actor's output into actions, or actions into numbers, asks the distribution:
sampling (in the rollout's NumPy sampler and in `ActorCritic.act`; uniform noise for collect-expert's
`epsilon`), which imported dataset actions fit the space (`data/convert`), the dtype actions are stored with
(rollouts, the replay log of resumable envs), the mode (deterministic evaluation, BC's accuracy), log-
probabilities and entropy (the PPO loss, the rollout's stored log-probs, reward-free selection's
demonstration likelihood), BC's negative log-likelihood, and how an action is fed to a network that judges
(s, a) pairs (GAIL's discriminator, InfoGAIL's posterior, selection's occupancy features). Continuous
actions are a new `ActionDistribution` subclass (a diagonal Gaussian: params = mean and log-std, the
encoding the action itself) plus its branch in `make_distribution`; the hand-written PPO gradient
(`gailrun/algos/ppo/fast_grad.py`) is Categorical's only and `fast_path` turns it off for any other. What
still assumes Discrete outside this file: `envs/make.py` refuses other spaces, the dataset format stores
int64 actions (`data/episodes.py`), and `gailrun play` maps keys to action indices.

Like Stable-Baselines3's `common/distributions.py`, but stateless: a method takes the actor's output
(`params`, for Categorical the logits) rather than holding it, so one object serves every batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
import torch.nn.functional as F

from gailrun.errors import DataError, GailrunError


class ActionDistribution(ABC):
    """What gailrun needs of a policy's distribution over actions, given the actor's output `params`."""

    params_dim: int  # the actor's output size
    encoding_dim: int  # the size of an action as a network input (`encode`)
    action_dtype: type  # NumPy dtype of stored actions (rollouts, datasets)

    @abstractmethod
    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a | s) per row."""

    @abstractmethod
    def log_prob_and_entropy(
        self, params: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a | s) per row and the mean entropy over the rows, sharing one pass (the PPO loss)."""

    @abstractmethod
    def nll(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Mean -log pi(a | s) over the rows (behaviour cloning's loss)."""

    @abstractmethod
    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The most likely action per row (deterministic play)."""

    @abstractmethod
    def act(
        self, params: torch.Tensor, deterministic: bool, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled (or modal) actions and their log-probabilities."""

    @abstractmethod
    def sample_numpy(self, params: np.ndarray, generator: torch.Generator | None) -> np.ndarray:
        """Sampled actions from NumPy params (the rollout's per-step sampler)."""

    @abstractmethod
    def encode(self, actions: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Actions as a network input, [rows, encoding_dim]."""

    @abstractmethod
    def encode_numpy(self, actions: np.ndarray) -> np.ndarray:
        """`encode` in float64 NumPy (feature vectors outside torch)."""

    @abstractmethod
    def random_numpy(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random actions, one per row (collect-expert's `epsilon` noise)."""

    @abstractmethod
    def dataset_actions(self, actions: np.ndarray, where: str, env_id: str) -> np.ndarray:
        """Imported actions as stored (`action_dtype`), checked against the space; a DataError names
        `where` and the `env_id` the data was declared to come from."""

    def placeholder(self, rows: int) -> np.ndarray:
        """Actions for rows that carry none (absorbing states, whose action encoding is masked out)."""
        return np.zeros(rows, self.action_dtype)


def sample_categorical(probs: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
    """One draw per row by inverse CDF, with one uniform per row from the torch `generator` (whose state
    checkpoints keep): on a few rows torch.multinomial costs as much as the actor's forward pass, and the
    rollout calls this every env step. Training and stochastic evaluation both sample with this rule."""
    u = torch.rand(probs.shape[0], 1, generator=generator).numpy()
    return np.minimum((probs.cumsum(-1) < u).sum(-1), probs.shape[-1] - 1)


class Categorical(ActionDistribution):
    """`Discrete(n)` actions; params are the n logits."""

    action_dtype = np.int64

    def __init__(self, n_actions: int) -> None:
        self.n_actions = self.params_dim = self.encoding_dim = int(n_actions)

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        logp_all = torch.log_softmax(params, dim=-1)
        return logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def log_prob_and_entropy(
        self, params: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logp_all = torch.log_softmax(params, dim=-1)
        logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return logp, -(logp_all.exp() * logp_all).sum(-1).mean()

    def nll(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        # Cross-entropy of the logits (not of softmax probabilities, which would apply softmax twice).
        return F.cross_entropy(params, actions)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return params.argmax(-1)

    def act(
        self, params: torch.Tensor, deterministic: bool, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logp_all = torch.log_softmax(params, dim=-1)
        if deterministic:
            action = logp_all.argmax(dim=-1)
        else:
            action = torch.from_numpy(sample_categorical(logp_all.exp().numpy(), generator))
        return action, logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)

    def sample_numpy(self, params: np.ndarray, generator: torch.Generator | None) -> np.ndarray:
        e = np.exp(params - params.max(-1, keepdims=True))
        return sample_categorical(e / e.sum(-1, keepdims=True), generator)

    def encode(self, actions: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return F.one_hot(actions, self.n_actions).to(dtype)

    def encode_numpy(self, actions: np.ndarray) -> np.ndarray:
        return np.eye(self.n_actions, dtype=np.float64)[np.asarray(actions, dtype=np.int64)]

    def random_numpy(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.n_actions, rows)

    def dataset_actions(self, actions: np.ndarray, where: str, env_id: str) -> np.ndarray:
        """One whole number in [0, n) per step; a trailing axis of size 1 (d3rlpy, SB3) is squeezed."""
        space = f"Discrete({self.n_actions})"
        actions = np.asarray(actions)
        if actions.ndim == 2 and actions.shape[1] == 1:
            actions = actions[:, 0]
        if actions.ndim != 1:
            raise DataError(
                f"{where}: actions have shape {tuple(actions.shape[1:])} per step but {env_id} expects one "
                f"discrete action per step (shape (), {space}); pass the --env the data was recorded on"
            )
        if actions.dtype.kind == "f":
            whole = np.isfinite(actions) & (actions == np.round(actions))
            if not whole.all():
                raise DataError(
                    f"{where}: actions are not whole numbers (e.g. {actions[~whole][0]}); "
                    "gailrun imports discrete actions only"
                )
        elif actions.dtype.kind not in "iub":
            raise DataError(f"{where}: actions have dtype {actions.dtype}; expected integer discrete actions")
        actions = actions.astype(self.action_dtype)
        bad = (actions < 0) | (actions >= self.n_actions)
        if bad.any():
            raise DataError(
                f"{where}: action {actions[bad][0]} is outside {env_id}'s {space} action space; pass the "
                "--env the data was recorded on"
            )
        return actions


def make_distribution(n_actions: int) -> ActionDistribution:
    """The distribution for an env's actions (`EnvInfo.n_actions`: envs refuse non-Discrete spaces)."""
    if n_actions < 1:
        raise GailrunError(f"an action space of {n_actions} actions has nothing to choose from")
    return Categorical(n_actions)
