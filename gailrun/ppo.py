"""The PPO update, with the code-level switches of Engstrom et al. (2020) as named flags.

Where each switch acts:
- `policy_noclip`: `policy_loss` uses the plain surrogate ratio * A instead of the clipped one.
- `value_clip`: `value_loss` takes max((V - R)^2, (V_old + clip(V - V_old, -e, e) - R)^2).
- `grad_clip`: `update` clips the global gradient norm of actor and critic together.
- `reward_std`, `reward_clip`, `obs_norm` act on the data before it gets here (see `onpolicy.py`);
  `ortho_init` acts when the networks are built (`networks.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gailrun.errors import DivergenceError
from gailrun.networks import ActorCritic
from gailrun.rollout import Batch


@dataclass(frozen=True)
class PPOSettings:
    """Hyperparameters of the update; the switches are the booleans."""

    lr: float = 0.002
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    num_epochs: int = 4
    minibatch_size: int = 32
    clip_eps: float = 0.2
    ent_coef: float = 0.001
    vf_coef: float = 0.5
    norm_adv: bool = True
    target_kl: float | None = None
    max_grad_norm: float = 0.5
    value_clip_eps: float = 0.2
    policy_noclip: bool = False
    value_clip: bool = False
    grad_clip: bool = False
    compile: bool = False  # torch.compile the minibatch loss: faster after ~30 s of compiling, other rounding


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
        }


def policy_loss(
    logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, clip_eps: float, noclip: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (or the plain one when `noclip`); returns (loss, log-ratio)."""
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    surrogate = ratio * adv
    if noclip:
        return -surrogate.mean(), log_ratio
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    return -torch.min(surrogate, clipped).mean(), log_ratio


def value_loss(
    v: torch.Tensor, v_old: torch.Tensor, returns: torch.Tensor, clip: bool, clip_range: float
) -> torch.Tensor:
    """0.5 * squared error, or its pessimistic clipped form when `clip`."""
    err = (v - returns) ** 2
    if clip:
        v_clipped = v_old + torch.clamp(v - v_old, -clip_range, clip_range)
        err = torch.max(err, (v_clipped - returns) ** 2)
    return 0.5 * err.mean()


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> float:
    var = target.var()
    return float("nan") if var.item() == 0 else float(1.0 - (target - pred).var() / var)


class PPO:
    """One Adam optimizer over actor and critic; `update` runs the epochs over a batch."""

    def __init__(self, agent: ActorCritic, settings: PPOSettings, generator: torch.Generator) -> None:
        self.agent = agent
        self.s = settings
        self.generator = generator
        # fused=True: one kernel for all parameters; on tiny MLPs Adam's per-tensor overhead is a third of
        # the update's time otherwise.
        self.optimizer = torch.optim.Adam(
            agent.parameters(), lr=settings.lr, betas=tuple(settings.betas), eps=settings.adam_eps, fused=True
        )
        self.num_updates = 0
        # An extra loss added to every minibatch's (GAIL's BC regularizer); returns (loss, metric value).
        self.aux_loss: Callable[[], torch.Tensor] | None = None
        self.aux_sum = 0.0
        self._losses = self._minibatch_losses
        if settings.compile:
            self._losses = torch.compile(self._minibatch_losses, dynamic=True)

    def _minibatch_losses(
        self, mb: Batch, value_clip_range: float, train_policy: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, policy loss, value loss, entropy, log-ratio) of one minibatch."""
        s, agent = self.s, self.agent
        adv = mb.advantages
        if s.norm_adv and adv.shape[0] > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        logp_all = torch.log_softmax(agent.logits(mb.obs), dim=-1)
        logp = logp_all.gather(-1, mb.actions.unsqueeze(-1)).squeeze(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
        pg, log_ratio = policy_loss(logp, mb.logprobs, adv, s.clip_eps, s.policy_noclip)
        vl = value_loss(agent.value(mb.obs), mb.values, mb.returns, s.value_clip, value_clip_range)
        loss = pg - s.ent_coef * entropy + s.vf_coef * vl if train_policy else s.vf_coef * vl
        return loss, pg, vl, entropy, log_ratio

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_updates = int(state["num_updates"])

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def update(self, batch: Batch, value_clip_range: float, train_policy: bool = True) -> PPOStats:
        """Optimize on `batch`; `value_clip_range` is value_clip_eps already scaled to return units.

        With `train_policy=False` only the critic learns (warm-up after BC pretraining: a random critic's
        advantages would otherwise undo the pretrained policy before the critic is any good).
        """
        s, agent = self.s, self.agent
        n = len(batch)
        if n == 0:
            raise DivergenceError("a rollout had no valid transitions; increase algo.num_steps")
        self.num_updates += 1
        sums = dict(pg=0.0, v=0.0, ent=0.0, kl=0.0, clipfrac=0.0, gn=0.0)
        count = 0
        epochs_run = 0
        stop = False
        params = list(agent.parameters())
        for _ in range(s.num_epochs):
            perm = torch.randperm(n, generator=self.generator)
            # One gather per epoch; minibatches are then contiguous slices (views) of the shuffled batch.
            shuffled = Batch(*(x[perm] for x in batch))
            for start in range(0, n, s.minibatch_size):
                mb = Batch(*(x[start : start + s.minibatch_size] for x in shuffled))
                loss, pg, vl, entropy, log_ratio = self._losses(mb, value_clip_range, train_policy)
                if self.aux_loss is not None and train_policy:
                    aux = self.aux_loss()
                    loss = loss + aux
                    self.aux_sum += aux.item()
                if not torch.isfinite(loss):
                    raise DivergenceError(
                        f"non-finite loss at update {self.num_updates} (policy {pg.item():.4g}, "
                        f"value {vl.item():.4g}); lower algo.lr or turn on ppo_opts.grad_clip"
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if not train_policy:
                    for p in agent.actor.parameters():
                        p.grad = None  # Adam skips parameters without gradients: the policy stays as it is
                if s.grad_clip:
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)
                else:  # the same norm, without clip_grad_norm_'s multiplication of every gradient by 1.0
                    grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
                if not torch.isfinite(grad_norm):
                    raise DivergenceError(
                        f"non-finite gradient at update {self.num_updates}; lower algo.lr or turn on "
                        "ppo_opts.grad_clip"
                    )
                self.optimizer.step()
                with torch.no_grad():
                    # The low-variance KL estimator (Schulman, "Approximating KL divergence").
                    approx_kl = ((log_ratio.exp() - 1) - log_ratio).mean().item()
                    clipfrac = ((log_ratio.exp() - 1.0).abs() > s.clip_eps).float().mean().item()
                sums["pg"] += pg.item()
                sums["v"] += vl.item()
                sums["ent"] += entropy.item()
                sums["kl"] += approx_kl
                sums["clipfrac"] += clipfrac
                sums["gn"] += float(grad_norm)
                count += 1
                if s.target_kl is not None and approx_kl > s.target_kl:
                    stop = True
                    break
            epochs_run += 1
            if stop:
                break
        with torch.no_grad():
            ev = explained_variance(batch.values, batch.returns)
        return PPOStats(
            policy_loss=sums["pg"] / count,
            value_loss=sums["v"] / count,
            entropy=sums["ent"] / count,
            approx_kl=sums["kl"] / count,
            clipfrac=sums["clipfrac"] / count,
            explained_variance=ev,
            epochs_run=float(epochs_run),
            grad_norm=sums["gn"] / count,
        )


def linear_lr(base_lr: float, update: int, num_updates: int) -> float:
    """Linear annealing from `base_lr` to 0 over the run (update is 0-based)."""
    return base_lr * max(0.0, 1.0 - update / max(1, num_updates))


def as_float_tuple(x: object) -> tuple[float, float]:
    arr = np.asarray(x, dtype=float).reshape(-1)
    return (float(arr[0]), float(arr[1]))
