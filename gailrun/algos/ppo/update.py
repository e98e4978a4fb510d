"""The PPO update, with the code-level switches of Engstrom et al. (2020) as named flags.

Where each switch acts:
- `policy_noclip`, `value_clip`: in the losses (`gailrun/algos/ppo/losses.py`).
- `norm_adv`: `_minibatch_losses` normalizes each minibatch's advantages.
- `grad_clip`: `update` clips the global gradient norm of actor and critic together.
- `target_kl`: `update` stops the epochs once a minibatch's approximate KL exceeds it.
- `anneal_lr`, `warmup_updates`: `schedule` and `update`.
- `reward_std`, `reward_clip`, `obs_norm` act on the data before it gets here (see `run/pipeline.py`);
  `ortho_init` acts when the networks are built (`models/networks.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from gailrun.algos.ppo.fast_grad import AnalyticLoss
from gailrun.algos.ppo.flat_adam import FlatAdam
from gailrun.algos.ppo.losses import explained_variance, kl_and_clipfrac, policy_loss, value_loss
from gailrun.errors import DivergenceError, GailrunError
from gailrun.models.networks import ActorCritic, fast_path
from gailrun.rollout.buffer import Batch
from gailrun.run.seeding import sync_compiler_determinism


@dataclass(frozen=True)
class PPOSettings:
    """Hyperparameters of the update; the switches are the booleans. Built by `settings_from` from `algo.*`
    and `ppo_opts.*`, whose defaults are the schema's (gailrun/config/schema.py)."""

    lr: float
    betas: tuple[float, float]
    adam_eps: float
    num_epochs: int
    minibatch_size: int
    clip_eps: float
    ent_coef: float
    vf_coef: float
    norm_adv: bool
    target_kl: float | None
    max_grad_norm: float
    value_clip_eps: float
    policy_noclip: bool
    value_clip: bool
    grad_clip: bool
    compile: bool  # torch.compile the minibatch loss (other rounding; speed: bench/RESULTS.md)
    anneal_lr: bool  # `schedule`: lr decays linearly to 0 over the run's progress
    warmup_updates: int  # the first updates train only the critic (`update`); the policy waits
    grad: str  # "analytic": fast_grad.py's gradient where it applies; "autograd": always torch


@dataclass
class PPOStats:
    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clipfrac: float
    explained_variance: float
    epochs_run: float
    grad_norm: float
    aux: dict[str, float] = field(default_factory=dict)  # each auxiliary loss's mean per minibatch

    def metrics(self) -> dict[str, float]:
        return {
            "losses/policy": self.policy_loss,
            "losses/value": self.value_loss,
            "losses/entropy": self.entropy,
            "losses/approx_kl": self.approx_kl,
            "losses/clipfrac": self.clipfrac,
            "losses/explained_variance": self.explained_variance,
            "losses/epochs_run": self.epochs_run,
            "losses/grad_norm": self.grad_norm,
            **self.aux,
        }


class AuxLoss(Protocol):
    """An extra loss added to every minibatch's while the policy trains (GAIL's BC regularizer)."""

    metric: str  # the metric that logs its mean per minibatch

    def __call__(self) -> torch.Tensor: ...


class PPO:
    """One Adam optimizer over actor and critic; `update` runs the epochs over a batch. PPO owns its
    learning-rate schedule (`schedule`), the critic-only warm-up and its auxiliary losses (`aux_loss`)."""

    def __init__(
        self,
        agent: ActorCritic,
        settings: PPOSettings,
        generator: torch.Generator,
        aux_loss: AuxLoss | None = None,
    ) -> None:
        self.agent = agent
        self.s = settings
        self.generator = generator
        # One flat buffer for all weights and gradients (see flat_adam.py); the actor's and the critic's
        # parameters are its two segments.
        actor_size = sum(p.numel() for p in agent.actor.parameters())
        critic_size = sum(p.numel() for p in agent.parameters()) - actor_size
        self.optimizer = FlatAdam(
            list(agent.parameters()),
            [actor_size, critic_size],
            lr=settings.lr,
            betas=tuple(settings.betas),
            eps=settings.adam_eps,
        )
        self.num_updates = 0
        self.aux_loss = aux_loss
        self.aux_sum = 0.0
        self._losses = self._minibatch_losses
        if settings.compile:
            sync_compiler_determinism()  # seeding left inductor's setting out (see gailrun/run/seeding.py)
            self._losses = torch.compile(self._minibatch_losses, dynamic=True)
        if settings.grad not in ("analytic", "autograd"):
            raise GailrunError(f"algo.grad={settings.grad!r} is unknown; choose analytic or autograd")
        self.analytic: AnalyticLoss | None = None
        if settings.grad == "analytic" and not settings.compile and fast_path(agent):
            self.analytic = AnalyticLoss(agent, self.optimizer, settings)

    def fast_gradient(self, train_policy: bool) -> AnalyticLoss | None:
        """The hand-written gradient where it computes this update's loss, else None (autograd, the
        reference): on the fast path (`fast_path`: plain MLPs, Categorical), unless `algo.grad=autograd` or
        `algo.compile` asks for autograd, or an auxiliary loss (GAIL's BC regularizer, a torch function of
        the actor) joins the policy's loss."""
        if self.aux_loss is not None and train_policy:
            return None
        return self.analytic

    def _minibatch_losses(
        self, mb: Batch, value_clip_range: float, train_policy: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, policy loss, value loss, entropy, log-ratio) of one minibatch."""
        s, agent = self.s, self.agent
        adv = mb.advantages
        if s.norm_adv and adv.shape[0] > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        logp, entropy = agent.dist.log_prob_and_entropy(agent.logits(mb.obs), mb.actions)
        pg, log_ratio = policy_loss(logp, mb.logprobs, adv, s.clip_eps, s.policy_noclip)
        vl = value_loss(agent.value(mb.obs), mb.values, mb.returns, s.value_clip, value_clip_range)
        loss = pg - s.ent_coef * entropy + s.vf_coef * vl if train_policy else s.vf_coef * vl
        return loss, pg, vl, entropy, log_ratio

    def _gradient(
        self, mb: Batch, value_clip_range: float, train_policy: bool
    ) -> tuple[float, float, float, np.ndarray]:
        """Fill the optimizer's gradient buffer with autograd; returns the policy loss, value loss, entropy
        and log-ratios (AnalyticLoss's signature, for the paths the analytic gradient does not cover)."""
        loss, pg, vl, entropy, log_ratio = self._losses(mb, value_clip_range, train_policy)
        if self.aux_loss is not None and train_policy:
            aux = self.aux_loss()
            loss = loss + aux
            self.aux_sum += aux.item()
        pg_value, vl_value = pg.item(), vl.item()
        if not math.isfinite(loss.item()):
            self._diverged(pg_value, vl_value)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.gather_grad()
        return pg_value, vl_value, entropy.item(), log_ratio.detach().numpy()

    def _diverged(self, pg: float, vl: float) -> None:
        raise DivergenceError(
            f"non-finite loss at update {self.num_updates} (policy {pg:.4g}, value {vl:.4g}); lower "
            "algo.lr or turn on ppo_opts.grad_clip"
        )

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_updates = int(state["num_updates"])

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @property
    def value_clip_eps(self) -> float:
        """The value-clip range in units of the return's std; the caller converts it (`value_clip_range`)."""
        return self.s.value_clip_eps

    @property
    def aux_metrics(self) -> list[str]:
        return [] if self.aux_loss is None else [self.aux_loss.metric]

    def schedule(self, progress: int, total: int) -> None:
        """Before an update at `progress` of `total` (env steps): `anneal_lr` decays the rate linearly."""
        if self.s.anneal_lr:
            self.optimizer.lr = linear_lr(self.s.lr, progress, total)

    def update(self, batch: Batch, value_clip_range: float, train_policy: bool | None = None) -> PPOStats:
        """Optimize on `batch`; `value_clip_range` is value_clip_eps already scaled to return units.

        During the warm-up (the first `warmup_updates`; or with `train_policy=False`) only the critic learns:
        after BC pretraining, a random critic's advantages would otherwise undo the pretrained policy before
        the critic is any good.
        """
        s, opt = self.s, self.optimizer
        n = len(batch)
        if n == 0:
            raise DivergenceError("a rollout had no valid transitions; increase algo.num_steps")
        if train_policy is None:
            train_policy = self.num_updates >= s.warmup_updates
        self.num_updates += 1
        self.aux_sum = 0.0
        opt.attach()
        segments = [0, 1] if train_policy else [1]  # segment 0 is the actor: the warm-up leaves it be
        sums = dict(pg=0.0, v=0.0, ent=0.0, kl=0.0, clipfrac=0.0, gn=0.0)
        count = 0
        epochs_run = 0
        stop = False
        # Without target_kl nothing needs a minibatch's KL before the next one, so the log-ratios are kept
        # and the KL and clip fraction computed once per epoch: a dozen tensor operations fewer per minibatch.
        log_ratios = np.empty(n, dtype=np.float32) if s.target_kl is None else None
        segment_ids = torch.arange(n) // s.minibatch_size
        analytic = self.fast_gradient(train_policy)
        for _ in range(s.num_epochs):
            perm = torch.randperm(n, generator=self.generator)
            # One gather per epoch; minibatches are then contiguous slices (views) of the shuffled batch.
            shuffled = Batch(*(x[perm] for x in batch))
            arrays = [x.numpy() for x in shuffled]
            for start in range(0, n, s.minibatch_size):
                end = start + s.minibatch_size
                if analytic is not None:
                    pg_value, vl_value, ent_value, log_ratio = analytic(
                        *(x[start:end] for x in arrays), value_clip_range, train_policy
                    )
                    loss_value = pg_value - s.ent_coef * ent_value + s.vf_coef * vl_value
                    if not math.isfinite(loss_value):
                        self._diverged(pg_value, vl_value)
                else:
                    mb = Batch(*(x[start:end] for x in shuffled))
                    pg_value, vl_value, ent_value, log_ratio = self._gradient(
                        mb, value_clip_range, train_policy
                    )
                grad_norm = opt.grad_norm(segments)
                norm_value = grad_norm.item()
                if not math.isfinite(norm_value):
                    raise DivergenceError(
                        f"non-finite gradient at update {self.num_updates}; lower algo.lr or turn on "
                        "ppo_opts.grad_clip"
                    )
                if s.grad_clip:
                    opt.clip_grad(grad_norm, s.max_grad_norm)
                opt.step(segments)
                sums["pg"] += pg_value
                sums["v"] += vl_value
                sums["ent"] += ent_value
                sums["gn"] += norm_value
                count += 1
                if log_ratios is not None:
                    log_ratios[start:end] = log_ratio
                    continue
                approx_kl, clipfrac = kl_and_clipfrac(torch.from_numpy(log_ratio), s.clip_eps)
                sums["kl"] += float(approx_kl)
                sums["clipfrac"] += float(clipfrac)
                if s.target_kl is not None and float(approx_kl) > s.target_kl:
                    stop = True
                    break
            if log_ratios is not None:
                kl, clipfrac = kl_and_clipfrac(torch.from_numpy(log_ratios), s.clip_eps, segment_ids)
                sums["kl"] += float(kl.sum())
                sums["clipfrac"] += float(clipfrac.sum())
            epochs_run += 1
            if stop:
                break
        with torch.no_grad():
            ev = explained_variance(batch.values, batch.returns)
        aux = {}
        if self.aux_loss is not None:
            # Its mean over the minibatches of the epochs run (0 during the warm-up, which skips it).
            minibatches = max(1, float(epochs_run) or 1) * -(-n // s.minibatch_size)
            aux[self.aux_loss.metric] = self.aux_sum / minibatches
        return PPOStats(
            policy_loss=sums["pg"] / count,
            value_loss=sums["v"] / count,
            entropy=sums["ent"] / count,
            approx_kl=sums["kl"] / count,
            clipfrac=sums["clipfrac"] / count,
            explained_variance=ev,
            epochs_run=float(epochs_run),
            grad_norm=sums["gn"] / count,
            aux=aux,
        )


def linear_lr(base_lr: float, update: int, num_updates: int) -> float:
    """Linear annealing from `base_lr` to 0 over the run (update is 0-based)."""
    return base_lr * max(0.0, 1.0 - update / max(1, num_updates))
