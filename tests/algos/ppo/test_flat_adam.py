"""FlatAdam is torch.optim.Adam over a flat buffer: same weights, per-segment step counts, old states load."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gailrun.algos.ppo.flat_adam import FlatAdam
from gailrun.algos.ppo.update import PPO
from gailrun.models.networks import ActorCritic
from tests.algos.ppo.test_speed_equivalence import make_batch
from tests.settings import ppo_settings


def _loss(agent: ActorCritic, obs: torch.Tensor, critic_only: bool) -> torch.Tensor:
    value = agent.value(obs).square().mean()
    return value if critic_only else value + agent.logits(obs).square().mean()


def _segments(agent: ActorCritic) -> list[int]:
    actor = sum(p.numel() for p in agent.actor.parameters())
    return [actor, sum(p.numel() for p in agent.parameters()) - actor]


def test_flat_adam_matches_torch_adam_with_a_critic_only_warm_up():
    """Warm-up steps move only the critic; the actor's first step then has step count 1, as in torch's
    per-parameter Adam where the actor had no gradients during the warm-up."""
    torch.manual_seed(0)
    agent = ActorCritic(8, 4)
    flat_agent, ref_agent = copy.deepcopy(agent), copy.deepcopy(agent)
    flat = FlatAdam(list(flat_agent.parameters()), _segments(flat_agent), lr=1e-2)
    ref = torch.optim.Adam(ref_agent.parameters(), lr=1e-2, foreach=False)
    g = torch.Generator().manual_seed(1)
    for i in range(8):
        obs = torch.randn(32, 8, generator=g)
        critic_only = i < 3
        flat.zero_grad()
        _loss(flat_agent, obs, critic_only).backward()
        flat.gather_grad()
        flat.step([1] if critic_only else [0, 1])
        ref.zero_grad(set_to_none=True)
        _loss(ref_agent, obs, critic_only).backward()
        ref.step()
        if critic_only:
            for p, p0 in zip(flat_agent.actor.parameters(), agent.actor.parameters(), strict=True):
                assert torch.equal(p, p0), "a critic-only step must leave the actor as it is"
    assert flat.steps == [5, 8]
    for (name, p), q in zip(flat_agent.named_parameters(), ref_agent.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=name)


def test_flat_adam_loads_torch_adam_state_from_older_checkpoints():
    torch.manual_seed(0)
    agent = ActorCritic(8, 4)
    ref_agent = copy.deepcopy(agent)
    ref = torch.optim.Adam(ref_agent.parameters(), lr=3e-3)
    obs = torch.randn(16, 8)
    for _ in range(4):
        ref.zero_grad()
        _loss(ref_agent, obs, False).backward()
        ref.step()
    flat_agent = copy.deepcopy(ref_agent)
    flat = FlatAdam(list(flat_agent.parameters()), _segments(flat_agent), lr=0.1)
    flat.load_state_dict(ref.state_dict())
    assert flat.steps == [4, 4] and flat.lr == pytest.approx(3e-3)
    for opt, model in ((flat, flat_agent), (ref, ref_agent)):
        opt.zero_grad()
        _loss(model, obs, False).backward()
        if opt is flat:
            flat.gather_grad()
            flat.step([0, 1])
        else:
            ref.step()
    for p, q in zip(flat_agent.parameters(), ref_agent.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="optimizer state is for"):
        actor = list(ActorCritic(8, 4).actor.parameters())
        FlatAdam(actor, [sum(p.numel() for p in actor)], lr=1e-3).load_state_dict(ref.state_dict())


def test_update_keeps_training_a_parameter_whose_data_was_replaced():
    """Loading weights by assigning `.data` (not copy_) must not detach the parameter from the buffer."""
    torch.manual_seed(0)
    agent = ActorCritic(8, 4)
    ppo = PPO(agent, ppo_settings(num_epochs=1, minibatch_size=50), torch.Generator().manual_seed(0))
    layer = agent.critic[0]
    layer.weight.data = torch.zeros_like(layer.weight)
    ppo.update(make_batch(agent, n=100), value_clip_range=0.2)
    assert layer.weight.abs().sum() > 0, "the replaced weight was not trained"
    assert layer.weight.data_ptr() == ppo.optimizer.flat.data_ptr() + 4 * ppo.optimizer.offsets[6]


def test_sampled_actions_follow_the_policy():
    torch.manual_seed(0)
    agent = ActorCritic(8, 4)
    obs = torch.randn(5, 8)
    probs = torch.softmax(agent.logits(obs), -1).detach()
    g = torch.Generator().manual_seed(0)
    n = 20_000
    counts = torch.zeros(5, 4)
    for _ in range(n):
        counts[torch.arange(5), agent.act(obs, generator=g)[0]] += 1
    stderr = (probs * (1 - probs) / n).sqrt()
    assert ((counts / n - probs).abs() <= 5 * stderr + 1e-4).all()


def test_the_rollouts_numpy_sampler_draws_what_stochastic_act_draws():
    """The collector's sampler (actor in NumPy) and stochastic `act` (in torch, used by evaluation) take the
    same uniform per row, so they agree except where float rounding moves a probability across a uniform
    (never, here)."""
    torch.manual_seed(0)
    agent = ActorCritic(8, 4, (64, 64), "relu")
    obs = torch.randn(16, 8)
    sampler = agent.sampler()
    g_torch, g_numpy = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(500):
        np.testing.assert_array_equal(
            sampler(obs.numpy(), g_numpy), agent.act(obs, generator=g_torch)[0].numpy()
        )
    with torch.no_grad():
        agent.actor[0].weight.mul_(2.0)  # an in-place update, as Adam's
    np.testing.assert_array_equal(sampler(obs.numpy(), g_numpy), agent.act(obs, generator=g_torch)[0].numpy())
