"""Behaviour cloning: cross-entropy of the policy's logits on expert (s, a) pairs.

Used on its own (`algo=bc`) and to pretrain GAIL's and InfoGAIL's policy (`algo.bc_pretrain_epochs`). The
expert data carries no latent codes, so for InfoGAIL each transition is shown with a uniformly drawn code:
the pretrained policy plays the demonstrations' mixture whatever its code, and the codes part only in the
RL phase. Two defects of the
original code are avoided: the loss takes logits, not softmax probabilities (softmax twice), and the
observation normalizer is fitted once on the training split and frozen, not rebuilt per validation batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from gailrun.data.episodes import Transitions
from gailrun.errors import DataError
from gailrun.models.codes import with_random_codes
from gailrun.models.networks import ActorCritic, gradient_step
from gailrun.rollout.normalize import ObsNormalizer

log = logging.getLogger("gailrun")

BC_METRICS = ("bc/train_loss", "bc/train_acc", "bc/val_loss", "bc/val_acc", "bc/epoch")


@dataclass(frozen=True)
class BCSettings:
    """Built by `settings_from` from `algo.*` (algo=bc) or `algo.bc_pretrain.*` (BC before RL)."""

    epochs: int
    batch_size: int
    lr: float
    val_fraction: float


class BehaviourCloning:
    """Holds the train/validation split and the optimizer; `epoch()` runs one pass and reports."""

    def __init__(
        self,
        agent: ActorCritic,
        obs_norm: ObsNormalizer,
        data: Transitions,
        settings: BCSettings,
        generator: torch.Generator,
        n_codes: int = 0,
    ) -> None:
        n = len(data)
        train_idx, val_idx = split_by_episode(data, settings.val_fraction, generator)
        if len(train_idx) < 1:
            raise DataError(f"no expert transitions to train on ({n} in all); BC needs expert data")
        if obs_norm.enabled:
            obs_norm.training = True
            obs_norm.update(data.obs[train_idx])
        obs_norm.training = False
        self.obs_norm = obs_norm
        obs = with_random_codes(obs_norm(data.obs), n_codes, generator)
        self.train_obs = torch.from_numpy(obs[train_idx])
        self.train_act = torch.from_numpy(data.actions[train_idx])
        self.val_obs = torch.from_numpy(obs[val_idx])
        self.val_act = torch.from_numpy(data.actions[val_idx])
        self.agent, self.s, self.generator = agent, settings, generator
        self.optimizer = torch.optim.Adam(agent.actor.parameters(), lr=settings.lr)
        self.epochs_done = 0

    @property
    def has_validation(self) -> bool:
        return self.val_act.shape[0] > 0

    def pretrain(self) -> list[dict[str, float]]:
        """`settings.epochs` of BC on the actor before RL (GAIL's BC pretraining); the RL phase then keeps
        updating the observation statistics. Returns each epoch's metrics."""
        history = [self.epoch() for _ in range(self.s.epochs)]
        self.obs_norm.training = True
        return history

    def epoch(self) -> dict[str, float]:
        n = self.train_act.shape[0]
        perm = torch.randperm(n, generator=self.generator)
        loss_sum, correct = 0.0, 0
        dist = self.agent.dist
        for start in range(0, n, self.s.batch_size):
            idx = perm[start : start + self.s.batch_size]
            logits = self.agent.logits(self.train_obs[idx])
            loss = dist.nll(logits, self.train_act[idx])
            gradient_step(
                self.optimizer,
                loss,
                f"non-finite BC loss in epoch {self.epochs_done + 1}; lower the BC learning rate "
                "(algo.lr for algo=bc, algo.bc_pretrain.lr for pretraining)",
            )
            loss_sum += loss.item() * len(idx)
            correct += int((dist.mode(logits) == self.train_act[idx]).sum())
        self.epochs_done += 1
        val_loss, val_acc = self.validate()
        return {
            "bc/train_loss": loss_sum / n,
            "bc/train_acc": correct / n,
            "bc/val_loss": val_loss,
            "bc/val_acc": val_acc,
            "bc/epoch": float(self.epochs_done),
        }

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "epochs_done": self.epochs_done}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.epochs_done = int(state["epochs_done"])

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        if self.val_act.shape[0] == 0:
            return float("nan"), float("nan")
        logits = self.agent.logits(self.val_obs)
        loss = self.agent.dist.nll(logits, self.val_act).item()
        acc = float((self.agent.dist.mode(logits) == self.val_act).float().mean())
        return loss, acc


def split_by_episode(
    data: Transitions, val_fraction: float, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation split, whole episodes on each side.

    Consecutive states of one episode are near-duplicates: a split by transition would judge the validation
    loss (and so best.pt) on states the model was trained on. `episodes * val_fraction` episodes, rounded
    half up, are held out, and at least one is kept for training; where that rounds to none (e.g. 3
    demonstrations at 0.1) there is no validation split: every demonstration is too precious to hold one
    out, and best.pt is the last epoch (see `has_validation`).
    """
    if val_fraction < 0 or val_fraction >= 1:
        raise DataError(
            f"val_fraction={val_fraction} must be in [0, 1) (algo.val_fraction; for BC pretraining "
            "algo.bc_pretrain.val_fraction)"
        )
    episodes = np.unique(data.episode_index)
    n_val = min(len(episodes) - 1, int(len(episodes) * val_fraction + 0.5))
    if val_fraction > 0 and n_val < 1:
        log.warning(
            "bc: %d expert episode(s) at val_fraction %s hold out none: no validation split (algo=bc: "
            "best.pt is the last epoch)",
            len(episodes),
            val_fraction,
        )
        n_val = 0
    held_out = episodes[torch.randperm(len(episodes), generator=generator).numpy()[:n_val]]
    in_val = np.isin(data.episode_index, held_out)
    rows = np.arange(len(data))
    return rows[~in_val], rows[in_val]


class BCRegularizer:
    """`weight` x cross-entropy of the policy's logits on a random expert minibatch, added to each PPO
    minibatch of GAIL (BC+GAIL, e.g. Jena et al. 2020): with few demonstrations, the policy keeps the
    expert's actions on the expert's states while the discriminator's reward covers the states the
    demonstrations never reached. For InfoGAIL each expert state is shown with a uniformly drawn code, as
    in BC pretraining: the demonstrations carry no codes."""

    metric = "losses/bc_regularizer"

    def __init__(
        self,
        agent: ActorCritic,
        obs_norm: ObsNormalizer,
        data: Transitions,
        weight: float,
        batch_size: int,
        generator: torch.Generator,
        n_codes: int = 0,
    ) -> None:
        self.agent, self.obs_norm, self.weight = agent, obs_norm, float(weight)
        self.raw_obs, self.actions = data.obs, torch.from_numpy(data.actions)
        self.batch_size, self.generator, self.n_codes = int(batch_size), generator, int(n_codes)

    def __call__(self) -> torch.Tensor:
        idx = torch.randint(0, len(self.actions), (self.batch_size,), generator=self.generator)
        obs = with_random_codes(self.obs_norm(self.raw_obs[idx.numpy()]), self.n_codes, self.generator)
        return self.weight * self.agent.dist.nll(self.agent.logits(torch.from_numpy(obs)), self.actions[idx])
