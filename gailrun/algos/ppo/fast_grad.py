"""PPO's minibatch loss and its gradient written out by hand, in NumPy, for MLP actor and critic.

Why: at rl-zoo3's settings an iteration takes 1,024 gradient steps on minibatches of 64 samples through two
(64, 64) MLPs. On a CPU such a step costs per-operation overhead, not arithmetic: autograd records and
replays a graph of dozens of small tensor operations, while the same algebra as NumPy array operations,
with no graph, costs a fraction of that: PPO trains 1.6x faster with it (`make bench`'s algo.grad=autograd
row, bench/RESULTS.md section 5).

The loss is `PPO._minibatch_losses`'; autograd stays the reference and the path for anything else. One gate
says where this applies: `fast_path` (gailrun/models/networks.py: plain MLPs, Categorical actions; the
rollout's NumPy sampler uses it too), then `PPO.fast_gradient` (not with `algo.grad=autograd`,
`algo.compile` or the BC regularizer). tests/algos/ppo/test_fast_grad.py checks the gradients against
autograd for every switch. Weights are read from, and gradients written to, NumPy views of FlatAdam's
buffers, so nothing is copied. Where torch's `min`/`max`/`clamp` have ties, their gradients split or pass
so that the total is the unclipped one; the masks below reproduce that.

For logits L, log-softmax l, probabilities p, taken action a and minibatch size B:
  d log p_a / dL = onehot(a) - p;   d entropy / dL = -p * (l + entropy)
  clipped surrogate: d(-min(rA, clip(r)A)) / d log p_a = -rA where rA <= clip(r)A, else 0
  value loss 0.5 (V - R)^2, or its clipped max: dV = the larger error's residual, 0 where that is the
  clipped one and the clamp is active
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from gailrun.algos.ppo.flat_adam import FlatAdam
from gailrun.models.networks import ActorCritic, NumpyMLP

if TYPE_CHECKING:
    from gailrun.algos.ppo.update import PPOSettings


class _MLPGrad(NumpyMLP):
    """The network's NumPy form plus views of its gradients in FlatAdam's gradient buffer. Built after
    FlatAdam, the weights are views of its parameter buffer, which `FlatAdam.attach` keeps current."""

    def __init__(self, net: nn.Sequential, optimizer: FlatAdam) -> None:
        super().__init__(net)
        grad = optimizer.grad.numpy()
        index = {id(p): i for i, p in enumerate(optimizer.params)}

        def view(p: nn.Parameter) -> np.ndarray:
            i = index[id(p)]
            return grad[optimizer.offsets[i] : optimizer.offsets[i + 1]].reshape(p.shape)

        linears = list(net)[::2]
        self.grad_w = [view(m.weight) for m in linears]
        self.grad_b = [view(m.bias) for m in linears]

    def backward(self, hs: list[np.ndarray], d_out: np.ndarray) -> None:
        """Write the gradients of the weights given d loss / d output into the gradient buffer."""
        dz = d_out
        for i in range(len(self.weights) - 1, -1, -1):
            np.matmul(dz.T, hs[i], out=self.grad_w[i])
            dz.sum(0, out=self.grad_b[i])
            if i > 0:
                h = hs[i]
                dz = dz @ self.weights[i]
                if self.relu:
                    dz *= h > 0
                else:
                    dz *= 1.0 - h * h


class AnalyticLoss:
    """PPO's minibatch loss and gradient for `agent`, whose parameters `optimizer` holds."""

    def __init__(self, agent: ActorCritic, optimizer: FlatAdam, settings: PPOSettings) -> None:
        self.actor = _MLPGrad(agent.actor, optimizer)
        self.critic = _MLPGrad(agent.critic, optimizer)
        self.s = settings

    def __call__(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        old_logp: np.ndarray,
        old_values: np.ndarray,
        adv: np.ndarray,
        returns: np.ndarray,
        value_clip_range: float,
        train_policy: bool,
    ) -> tuple[float, float, float, np.ndarray]:
        """Fill the gradient buffer (the actor's part only when `train_policy`); returns the policy loss,
        value loss, mean entropy and the log-ratios, as `PPO._minibatch_losses` would."""
        n = obs.shape[0]
        rows = np.arange(n)
        # Sums over n, not .mean()/.std(): NumPy's mean and std cost more in Python than in arithmetic.
        if self.s.norm_adv and n > 1:
            centred = adv - adv.sum() / n
            adv = centred / (np.sqrt((centred * centred).sum() / (n - 1)) + 1e-8)

        hs = self.actor.activations(obs)
        z = hs[-1] - hs[-1].max(-1, keepdims=True)
        ez = np.exp(z)
        total = ez.sum(-1, keepdims=True)
        logp_all = z - np.log(total)
        p = ez / total
        entropy = -(p * logp_all).sum(-1)
        log_ratio = logp_all[rows, actions] - old_logp
        ratio = np.exp(log_ratio)
        surrogate = ratio * adv
        if self.s.policy_noclip:
            pg = -surrogate.sum() / n
            d_logp = surrogate * (-1.0 / n)
        else:
            clipped = np.clip(ratio, 1.0 - self.s.clip_eps, 1.0 + self.s.clip_eps) * adv
            pg = -np.minimum(surrogate, clipped).sum() / n
            d_logp = np.where(surrogate <= clipped, surrogate * (-1.0 / n), 0.0)
        if train_policy:
            d_logits = p * ((logp_all + entropy[:, None]) * (self.s.ent_coef / n) - d_logp[:, None])
            d_logits[rows, actions] += d_logp
            self.actor.backward(hs, d_logits)

        hc = self.critic.activations(obs)
        v = hc[-1][:, 0]
        err = v - returns
        sq = err * err
        if self.s.value_clip:
            v_clipped = old_values + np.clip(v - old_values, -value_clip_range, value_clip_range)
            err_clipped = v_clipped - returns
            sq_clipped = err_clipped * err_clipped
            vl = 0.5 * np.maximum(sq, sq_clipped).sum() / n
            # V - V_old inside the range: the clipped error is the plain one up to rounding, and its
            # gradient passes the clamp; outside, the clamp stops it.
            inside = np.abs(v - old_values) <= value_clip_range
            d_v = np.where(sq >= sq_clipped, err, err_clipped * inside)
        else:
            vl = 0.5 * sq.sum() / n
            d_v = err
        self.critic.backward(hc, (d_v * (self.s.vf_coef / n))[:, None])
        return float(pg), float(vl), float(entropy.sum() / n), log_ratio
