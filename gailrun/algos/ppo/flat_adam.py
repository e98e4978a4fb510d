"""Adam over one flat buffer that a module's parameters and gradients are views of.

Why: PPO at rl-zoo3's settings makes 1,024 optimizer steps per iteration on two (64, 64) MLPs, and on a CPU
each step's cost is per-tensor overhead, not arithmetic. With every parameter and gradient a view of one
buffer, zeroing the gradients, their global norm, clipping and Adam are a few tensor operations each
instead of one (or several) per parameter: torch.optim.Adam's bookkeeping and the per-parameter norm and
clip were a quarter of the update.

The arithmetic is torch.optim.Adam's (tests/algos/ppo/test_speed_equivalence.py compares them). Contiguous
`segments` (the actor's and the critic's parameters) keep their own step counts, as torch's per-parameter
state does, so that a step over some segments (the critic-only warm-up) leaves the others untouched.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn


class FlatAdam:
    """Adam on `params`, which become views of one parameter buffer and one gradient buffer."""

    def __init__(
        self,
        params: Sequence[nn.Parameter],
        segment_sizes: Sequence[int],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        sizes = [p.numel() for p in self.params]
        total = sum(sizes)
        if sum(segment_sizes) != total:
            raise ValueError(f"segments cover {sum(segment_sizes)} of {total} parameter values")
        self.offsets = [0, *torch.tensor(sizes).cumsum(0).tolist()]
        bounds = [0, *torch.tensor(list(segment_sizes)).cumsum(0).tolist()]
        self.segments = [slice(a, b) for a, b in itertools.pairwise(bounds)]
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        dtype = self.params[0].dtype
        self.flat = torch.zeros(total, dtype=dtype)
        self.grad = torch.zeros(total, dtype=dtype)
        self.exp_avg = torch.zeros(total, dtype=dtype)
        self.exp_avg_sq = torch.zeros(total, dtype=dtype)
        self.steps = [0] * len(self.segments)
        self._values: list[torch.Tensor] = []
        with torch.no_grad():
            for p, (a, b) in zip(self.params, itertools.pairwise(self.offsets), strict=True):
                self.flat[a:b].copy_(p.reshape(-1))
                self._values.append(self.flat[a:b].view_as(p))
        self._zeros = [(p, torch.zeros(p.numel(), dtype=dtype)) for p in self.params]
        self.attach()

    def attach(self) -> None:
        """Make every parameter a view of the buffer again.

        Cheap, and called before every update: a parameter whose data was replaced (an assignment to
        `.data`) is folded back in, its current value kept.
        """
        with torch.no_grad():
            for p, value in zip(self.params, self._values, strict=True):
                if p.data_ptr() != value.data_ptr():
                    value.copy_(p.detach())
                    p.data = value

    def zero_grad(self) -> None:
        """Drop the gradients: backward then hands each parameter a fresh one, which is cheaper than
        accumulating into views of the buffer (one addition per parameter)."""
        for p in self.params:
            p.grad = None

    def gather_grad(self) -> None:
        """Copy the parameters' gradients into the gradient buffer (zeros where a parameter has none)."""
        torch.cat([g.reshape(-1) if (g := p.grad) is not None else z for p, z in self._zeros], out=self.grad)

    def grad_norm(self, segments: Sequence[int]) -> torch.Tensor:
        """The global L2 norm of the gradients of `segments`."""
        if len(segments) == len(self.segments):
            return torch.linalg.vector_norm(self.grad)
        return torch.linalg.vector_norm(torch.cat([self.grad[self.segments[i]] for i in segments]))

    def clip_grad(self, norm: torch.Tensor, max_norm: float) -> None:
        """Scale the gradients so that their norm is at most `max_norm` (torch's clip_grad_norm_ rule)."""
        self.grad.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))

    @torch.no_grad()
    def step(self, segments: Sequence[int]) -> None:
        """One Adam step on `segments`; one pass over the whole buffer when their step counts agree."""
        for i in segments:
            self.steps[i] += 1
        groups: dict[int, list[int]] = {}
        for i in segments:
            groups.setdefault(self.steps[i], []).append(i)
        for step, members in groups.items():
            if len(members) == len(self.segments):
                self._adam(slice(None), step)
            else:
                for i in members:
                    self._adam(self.segments[i], step)

    def _adam(self, where: slice, step: int) -> None:
        beta1, beta2 = self.betas
        param, grad = self.flat[where], self.grad[where]
        m, v = self.exp_avg[where], self.exp_avg_sq[where]
        m.lerp_(grad, 1.0 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        step_size = self.lr / (1.0 - beta1**step)
        denom = (v.sqrt() / math.sqrt(1.0 - beta2**step)).add_(self.eps)
        param.addcdiv_(m, denom, value=-step_size)

    def state_dict(self) -> dict:
        return {
            "flat_adam": 1,
            "lr": self.lr,
            "exp_avg": self.exp_avg.clone(),
            "exp_avg_sq": self.exp_avg_sq.clone(),
            "steps": list(self.steps),
        }

    def load_state_dict(self, state: dict) -> None:
        """Loads this class's state, or torch.optim.Adam's over the same parameters (older checkpoints)."""
        if "flat_adam" not in state:
            state = self._from_torch_adam(state)
        for name in ("exp_avg", "exp_avg_sq"):
            if tuple(state[name].shape) != tuple(self.exp_avg.shape):
                raise ValueError(
                    f"optimizer state holds {state[name].numel()} values for {self.exp_avg.numel()} "
                    "parameters"
                )
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.steps = [int(s) for s in state["steps"]]
        self.lr = float(state["lr"])

    def _from_torch_adam(self, state: dict) -> dict:
        per_param = state["state"]
        if len(state["param_groups"][0]["params"]) != len(self.params):
            raise ValueError(
                f"optimizer state is for {len(state['param_groups'][0]['params'])} parameters, "
                f"not {len(self.params)}"
            )
        moments = {name: torch.zeros_like(self.exp_avg) for name in ("exp_avg", "exp_avg_sq")}
        step_of_value = torch.zeros_like(self.exp_avg)
        for i, (a, b) in enumerate(itertools.pairwise(self.offsets)):
            if i in per_param:
                for name, buf in moments.items():
                    buf[a:b] = per_param[i][name].reshape(-1)
                step_of_value[a:b] = float(per_param[i]["step"])
        steps = [int(step_of_value[seg.start]) for seg in self.segments]
        return {**moments, "steps": steps, "lr": state["param_groups"][0]["lr"]}
