"""The speed work changes no result.

PPO's update gathers each epoch's shuffled batch once and slices minibatches from it, steps one fused Adam
over all parameters, and takes gradient norms with `get_total_norm`; a plain reference (a gather per
minibatch, textbook per-parameter Adam, a hand-written norm and clip) must reach the same weights. The
envs may be stepped in one process, in worker processes or by Gymnasium's async mode: the runs must be
byte-identical. The hand-written gradient (`algo.grad=analytic`, the default) and `algo.compile=true` only
round differently: their runs follow autograd's curve closely, not bitwise.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from gailrun.algos.ppo.update import PPO
from gailrun.models.networks import ActorCritic
from gailrun.rollout.buffer import Batch
from tests.helpers import read_json, run_cli
from tests.settings import ppo_settings


def make_batch(agent: ActorCritic, n: int = 300, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 8, generator=g)
    with torch.no_grad():
        logits = agent.logits(obs)
        actions = torch.distributions.Categorical(logits=logits).sample()
        logprobs = torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1)
        values = agent.value(obs)
    returns = values + torch.randn(n, generator=g)
    return Batch(obs, actions, logprobs, values, torch.randn(n, generator=g), returns)


def reference_update(ppo: PPO, batch: Batch, generator: torch.Generator, clip_range: float) -> None:
    """PPO's update the plain way: same losses, same shuffles, none of the speed work."""
    s, params = ppo.s, list(ppo.agent.parameters())
    adam = torch.optim.Adam(params, lr=s.lr, betas=s.betas, eps=s.adam_eps, foreach=False, fused=False)
    n = len(batch)
    for _ in range(s.num_epochs):
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, s.minibatch_size):
            idx = perm[start : start + s.minibatch_size]
            mb = Batch(*(x[idx] for x in batch))
            loss = ppo._minibatch_losses(mb, clip_range, True)[0]
            adam.zero_grad()
            loss.backward()
            if s.grad_clip:
                norm = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in params))
                coef = torch.clamp(s.max_grad_norm / (norm + 1e-6), max=1.0)
                for p in params:
                    p.grad.detach().mul_(coef)
            adam.step()


@pytest.mark.parametrize(
    "switches",
    [{}, {"grad_clip": True}, {"value_clip": True, "policy_noclip": True}],
    ids=["plain", "grad_clip", "value_clip+noclip"],
)
def test_fast_update_reaches_the_reference_weights(switches: dict):
    torch.manual_seed(0)
    agent = ActorCritic(8, 4, (64, 64), "tanh")
    settings = ppo_settings(lr=3e-4, num_epochs=3, minibatch_size=64, max_grad_norm=0.5, **switches)
    batch = make_batch(agent)
    fast_agent, ref_agent = copy.deepcopy(agent), copy.deepcopy(agent)
    fast = PPO(fast_agent, settings, torch.Generator().manual_seed(7))
    fast.update(batch, value_clip_range=0.2)
    ref = PPO(ref_agent, settings, torch.Generator())
    reference_update(ref, batch, torch.Generator().manual_seed(7), clip_range=0.2)
    moved = 0.0
    for (name, p_fast), p_ref, p0 in zip(
        fast_agent.named_parameters(), ref_agent.parameters(), agent.parameters(), strict=True
    ):
        torch.testing.assert_close(p_fast, p_ref, rtol=1e-5, atol=1e-6, msg=name)
        moved = max(moved, float((p_fast - p0).detach().abs().max()))
    assert moved > 1e-4, "the update must actually change the weights"


FAST = (
    "env=lunarlander",
    "env.num_envs=4",
    "env.workers=2",
    "algo.num_steps=128",
    "train.total_steps=2048",
    "final_eval.episodes=2",
    "ppo_opts=plus",
    "seed=11",
)


def test_sync_subproc_and_async_envs_give_byte_identical_runs(tmp_path: Path):
    runs = {}
    for mode in ("sync", "subproc", "async"):
        out = run_cli("train", *FAST, f"env.vectorization={mode}", f"hydra.run.dir={tmp_path / mode}")
        assert out.returncode == 0, out.stderr[-2000:]
        runs[mode] = tmp_path / mode
    for mode in ("subproc", "async"):
        for name in ("metrics.csv", "episodes.csv"):
            assert (runs[mode] / name).read_bytes() == (runs["sync"] / name).read_bytes(), (mode, name)
        returns = read_json(runs[mode] / "eval.json")["returns"]
        assert returns == read_json(runs["sync"] / "eval.json")["returns"], mode


def value_loss_curve(tmp_path: Path, *overrides: str) -> list[float]:
    import csv

    d = tmp_path / "_".join(o.replace("=", "-") for o in overrides)
    out = run_cli("train", *FAST, *overrides, f"hydra.run.dir={d}")
    assert out.returncode == 0, out.stderr[-2000:]
    with open(d / "metrics.csv") as f:
        return [float(r["losses/value"]) for r in csv.DictReader(f)]


def test_analytic_gradient_follows_the_autograd_curve(tmp_path: Path):
    analytic = value_loss_curve(tmp_path, "algo.grad=analytic")
    autograd = value_loss_curve(tmp_path, "algo.grad=autograd")
    assert len(analytic) >= 4
    assert analytic == pytest.approx(autograd, rel=1e-3)


@pytest.mark.slow
def test_compiled_update_follows_the_eager_curve(tmp_path: Path):
    """torch.compile fuses the loss differently, so rounding differs: curves agree closely, not bitwise."""
    eager = value_loss_curve(tmp_path, "algo.grad=autograd")
    assert value_loss_curve(tmp_path, "algo.compile=true") == pytest.approx(eager, rel=1e-3)
