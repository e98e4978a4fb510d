"""PPO's minibatch loss and its gradient written out by hand, in NumPy, for MLP actor and critic.

Why: at rl-zoo3's settings an iteration takes 1,024 gradient steps on minibatches of 64 samples through two
(64, 64) MLPs. On a CPU such a step costs per-operation overhead, not arithmetic: autograd records and
replays about 45 graph nodes over 100 tensor operations (~1.6 ms here), while the same algebra as NumPy
array operations, with no graph, takes a quarter of that (bench/RESULTS.md, section 5).

The loss is `PPO._minibatch_losses`' (autograd stays the reference and the path for anything else: the BC
regularizer, `algo.compile`, `algo.grad=autograd`); tests/test_ppo_grad.py checks the gradients against
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

import numpy as np
from torch import nn

from gailrun.flat_adam import FlatAdam
from gailrun.networks import ActorCritic


class _MLP:
    """An nn.Sequential of Linear layers with Tanh or ReLU between them, as NumPy views of the buffers."""

    def __init__(self, net: nn.Sequential, optimizer: FlatAdam) -> None:
        flat, grad = optimizer.flat.numpy(), optimizer.grad.numpy()
        index = {id(p): i for i, p in enumerate(optimizer.params)}

        def views(p: nn.Parameter) -> tuple[np.ndarray, np.ndarray]:
            a, b = optimizer.offsets[index[id(p)]], optimizer.offsets[index[id(p)] + 1]
            return flat[a:b].reshape(p.shape), grad[a:b].reshape(p.shape)

        linears = [m for m in net if isinstance(m, nn.Linear)]
        self.relu = any(isinstance(m, nn.ReLU) for m in net)
        self.weights, self.biases, self.grad_w, self.grad_b = [], [], [], []
        for layer in linears:
            (w, gw), (b, gb) = views(layer.weight), views(layer.bias)
            self.weights.append(w)
            self.biases.append(b)
            self.grad_w.append(gw)
            self.grad_b.append(gb)

    @staticmethod
    def supports(net: nn.Module) -> bool:
        """Linear, activation, Linear, ..., Linear, with one kind of activation (Tanh or ReLU)."""
        if not isinstance(net, nn.Sequential) or len(net) % 2 == 0:
            return False
        layers, acts = list(net)[::2], list(net)[1::2]
        return (
            all(isinstance(m, nn.Linear) and m.bias is not None for m in layers)
            and len({type(m) for m in acts}) <= 1
            and all(isinstance(m, nn.Tanh | nn.ReLU) for m in acts)
        )

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Each layer's input, then the output (the backward pass needs them)."""
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

    def __init__(
        self,
        agent: ActorCritic,
        optimizer: FlatAdam,
        clip_eps: float,
        ent_coef: float,
        vf_coef: float,
        norm_adv: bool,
        policy_noclip: bool,
        value_clip: bool,
    ) -> None:
        self.actor = _MLP(agent.actor, optimizer)
        self.critic = _MLP(agent.critic, optimizer)
        self.clip_eps = clip_eps
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.norm_adv = norm_adv
        self.policy_noclip = policy_noclip
        self.value_clip = value_clip

    @staticmethod
    def supports(agent: nn.Module) -> bool:
        return (
            isinstance(agent, ActorCritic)
            and _MLP.supports(agent.actor)
            and _MLP.supports(agent.critic)
            and next(agent.parameters()).dtype.is_floating_point
        )

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
        if self.norm_adv and n > 1:
            centred = adv - adv.sum() / n
            adv = centred / (np.sqrt((centred * centred).sum() / (n - 1)) + 1e-8)

        hs = self.actor.forward(obs)
        z = hs[-1] - hs[-1].max(-1, keepdims=True)
        ez = np.exp(z)
        total = ez.sum(-1, keepdims=True)
        logp_all = z - np.log(total)
        p = ez / total
        entropy = -(p * logp_all).sum(-1)
        log_ratio = logp_all[rows, actions] - old_logp
        ratio = np.exp(log_ratio)
        surrogate = ratio * adv
        if self.policy_noclip:
            pg = -surrogate.sum() / n
            d_logp = surrogate * (-1.0 / n)
        else:
            clipped = np.clip(ratio, 1.0 - self.clip_eps, 1.0 + self.clip_eps) * adv
            pg = -np.minimum(surrogate, clipped).sum() / n
            d_logp = np.where(surrogate <= clipped, surrogate * (-1.0 / n), 0.0)
        if train_policy:
            d_logits = p * ((logp_all + entropy[:, None]) * (self.ent_coef / n) - d_logp[:, None])
            d_logits[rows, actions] += d_logp
            self.actor.backward(hs, d_logits)

        hc = self.critic.forward(obs)
        v = hc[-1][:, 0]
        err = v - returns
        sq = err * err
        if self.value_clip:
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
        self.critic.backward(hc, (d_v * (self.vf_coef / n))[:, None])
        return float(pg), float(vl), float(entropy.sum() / n), log_ratio
