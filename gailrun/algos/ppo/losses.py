"""PPO's losses, where two of its switches act.

- `policy_noclip`: `policy_loss` uses the plain surrogate ratio * A instead of the clipped one.
- `value_clip`: `value_loss` takes max((V - R)^2, (V_old + clip(V - V_old, -e, e) - R)^2), e in return units.
Their gradients, written out by hand, are in `fast_grad.py`; `update.py` combines them into one minibatch's
loss.
"""

from __future__ import annotations

import torch


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


def kl_and_clipfrac(
    log_ratio: torch.Tensor, clip_eps: float, segment_ids: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The low-variance KL estimate (Schulman, "Approximating KL divergence") and the fraction of ratios
    outside the clip range: of one minibatch, or per minibatch (`segment_ids`) for a whole epoch."""
    ratio_m1 = log_ratio.exp() - 1.0
    kl = ratio_m1 - log_ratio
    clipped = (ratio_m1.abs() > clip_eps).to(log_ratio.dtype)
    if segment_ids is None:
        return kl.mean(), clipped.mean()
    count = torch.bincount(segment_ids).to(log_ratio.dtype)
    zeros = torch.zeros(count.shape[0], dtype=log_ratio.dtype)
    return (
        zeros.index_add(0, segment_ids, kl) / count,
        zeros.index_add(0, segment_ids, clipped) / count,
    )


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> float:
    var = target.var()
    return float("nan") if var.item() == 0 else float(1.0 - (target - pred).var() / var)
