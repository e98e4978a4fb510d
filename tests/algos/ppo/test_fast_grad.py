"""The hand-written PPO gradient (gailrun/algos/ppo/fast_grad.py) equals autograd's for every switch
it covers."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from gailrun.algos.ppo.update import PPO
from gailrun.errors import DivergenceError, GailrunError
from gailrun.models.networks import ActorCritic, fast_path
from gailrun.rollout.buffer import Batch
from tests.settings import ppo_settings


def off_policy_batch(agent: ActorCritic, n: int, seed: int = 0) -> Batch:
    """A batch whose old log-probs and values differ from the agent's, so ratios and value errors are
    spread on both sides of the clip ranges."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, agent.obs_dim, generator=g)
    with torch.no_grad():
        logits = agent.logits(obs)
        actions = torch.distributions.Categorical(logits=logits).sample()
        logprobs = torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1)
        values = agent.value(obs)
    logprobs = logprobs + 0.3 * torch.randn(n, generator=g)
    old_values = values + 0.5 * torch.randn(n, generator=g)
    advantages = torch.randn(n, generator=g)
    return Batch(obs, actions, logprobs, old_values, advantages, values + torch.randn(n, generator=g))


def gradients(ppo: PPO, mb: Batch, analytic: bool, train_policy: bool) -> tuple[torch.Tensor, tuple]:
    if analytic:
        assert ppo.analytic is not None
        ppo.optimizer.grad.zero_()
        out = ppo.analytic(*(x.numpy() for x in mb), 0.2, train_policy)
    else:
        out = ppo._gradient(mb, 0.2, train_policy)
    return ppo.optimizer.grad.clone(), out


CASES = {
    "plain": ({}, "tanh", (64, 64)),
    "noclip": ({"policy_noclip": True}, "tanh", (64, 64)),
    "value_clip": ({"value_clip": True}, "tanh", (64, 64)),
    "no_norm_adv": ({"norm_adv": False, "ent_coef": 0.05}, "tanh", (64, 64)),
    "relu_three_layers": ({"value_clip": True}, "relu", (32, 16, 8)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("train_policy", [True, False], ids=["policy", "critic_only"])
def test_analytic_gradient_equals_autograd(case: str, train_policy: bool):
    switches, activation, hidden = CASES[case]
    torch.manual_seed(1)
    agent = ActorCritic(6, 3, hidden, activation)
    ppo = PPO(agent, ppo_settings(**switches), torch.Generator())
    mb = off_policy_batch(agent, 61)  # an odd size, as the last minibatch of an epoch may be
    ref_grad, (pg, vl, ent, log_ratio) = gradients(ppo, mb, analytic=False, train_policy=train_policy)
    grad, (a_pg, a_vl, a_ent, a_log_ratio) = gradients(ppo, mb, analytic=True, train_policy=train_policy)
    critic = ppo.optimizer.segments[1]
    assert ref_grad[critic].abs().max() > 1e-3
    torch.testing.assert_close(grad[critic], ref_grad[critic], rtol=1e-4, atol=1e-7)
    if train_policy:
        actor = ppo.optimizer.segments[0]
        assert ref_grad[actor].abs().max() > 1e-3
        torch.testing.assert_close(grad[actor], ref_grad[actor], rtol=1e-4, atol=1e-7)
    assert (a_pg, a_vl, a_ent) == pytest.approx((pg, vl, ent), rel=1e-5, abs=1e-7)
    torch.testing.assert_close(torch.from_numpy(a_log_ratio), torch.from_numpy(log_ratio))


def test_clip_masks_are_exercised():
    """The batch above puts ratios and values outside the clip ranges, where the gradient is cut."""
    torch.manual_seed(1)
    agent = ActorCritic(6, 3, (64, 64))
    mb = off_policy_batch(agent, 61)
    with torch.no_grad():
        ratio = (
            torch.log_softmax(agent.logits(mb.obs), -1).gather(-1, mb.actions[:, None]).squeeze(-1)
            - mb.logprobs
        ).exp()
        v = agent.value(mb.obs)
    assert ((ratio - 1).abs() > 0.2).float().mean() > 0.2
    assert ((v - mb.values).abs() > 0.2).float().mean() > 0.2


def test_autograd_covers_what_the_analytic_gradient_does_not():
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, (8,))
    assert PPO(agent, ppo_settings(), torch.Generator()).analytic is not None
    assert PPO(copy.deepcopy(agent), ppo_settings(grad="autograd"), torch.Generator()).analytic is None
    odd = copy.deepcopy(agent)
    odd.actor = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    assert PPO(odd, ppo_settings(), torch.Generator()).analytic is None
    with pytest.raises(GailrunError, match=r"algo\.grad='numeric' is unknown"):
        PPO(copy.deepcopy(agent), ppo_settings(grad="numeric"), torch.Generator())


def test_analytic_and_autograd_updates_reach_the_same_weights():
    torch.manual_seed(0)
    agent = ActorCritic(8, 4, (64, 64))
    batch = off_policy_batch(agent, 300, seed=3)
    runs = {}
    for grad in ("analytic", "autograd"):
        a = copy.deepcopy(agent)
        settings = ppo_settings(lr=3e-4, num_epochs=3, minibatch_size=64, grad=grad, grad_clip=True)
        stats = PPO(a, settings, torch.Generator().manual_seed(7)).update(batch, value_clip_range=0.2)
        runs[grad] = (a, stats)
    (fast, fast_stats), (ref, ref_stats) = runs["analytic"], runs["autograd"]
    for (name, p), q in zip(fast.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    assert fast_stats.policy_loss == pytest.approx(ref_stats.policy_loss, rel=1e-4, abs=1e-6)
    assert fast_stats.approx_kl == pytest.approx(ref_stats.approx_kl, rel=1e-3, abs=1e-7)
    assert fast_stats.grad_norm == pytest.approx(ref_stats.grad_norm, rel=1e-4)


@pytest.mark.parametrize("grad", ["analytic", "autograd"])
def test_a_non_finite_loss_stops_the_update_before_any_step(grad: str):
    torch.manual_seed(0)
    agent = ActorCritic(8, 4, (16,))
    batch = off_policy_batch(agent, 64)
    returns = batch.returns.clone().index_fill_(0, torch.tensor([5]), float("inf"))
    batch = Batch(*batch[:5], returns)
    ppo = PPO(agent, ppo_settings(minibatch_size=32, grad=grad), torch.Generator())
    before = [p.detach().clone() for p in agent.parameters()]
    with pytest.raises(DivergenceError, match="non-finite loss at update 1"):
        ppo.update(batch, value_clip_range=0.2)
    assert all(torch.equal(p, q) for p, q in zip(agent.parameters(), before, strict=True))


def test_one_gate_sends_other_networks_to_torch_in_the_sampler_and_the_update():
    """A network the NumPy path does not cover (here a LayerNorm in the actor) samples in torch, drawing what
    `act` draws, and updates with autograd; a plain MLP takes the fast path in both, except where an
    auxiliary loss joins the policy's."""
    torch.manual_seed(0)
    agent = ActorCritic(4, 3, (8,))
    assert fast_path(agent)
    odd = copy.deepcopy(agent)
    odd.actor = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 3))
    assert not fast_path(odd)
    obs = torch.randn(5, 4)
    g_sampler, g_act = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    np.testing.assert_array_equal(
        odd.sampler()(obs.numpy(), g_sampler), odd.act(obs, generator=g_act)[0].numpy()
    )
    ppo = PPO(agent, ppo_settings(), torch.Generator())
    assert ppo.fast_gradient(train_policy=True) is ppo.analytic is not None

    class ZeroLoss:
        metric = "losses/zero"

        def __call__(self) -> torch.Tensor:
            return torch.zeros(())

    with_aux = PPO(copy.deepcopy(agent), ppo_settings(), torch.Generator(), aux_loss=ZeroLoss())
    assert with_aux.analytic is not None and with_aux.fast_gradient(train_policy=True) is None
    assert with_aux.fast_gradient(train_policy=False) is with_aux.analytic
    assert with_aux.aux_metrics == ["losses/zero"]
