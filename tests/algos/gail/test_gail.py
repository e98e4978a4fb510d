"""GAIL's parts: the discriminator, the reward forms, the relabel before GAE, the early stop, and the
termination bias of sign-fixed rewards with its absorbing-state remedy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gailrun.algos.gail.discriminator import Discriminator, ExpertSampler
from gailrun.algos.gail.hook import GailRewardHook
from gailrun.algos.gail.reward import REWARD_FORMS, reward_from_logits
from gailrun.data.episodes import Episode, to_transitions
from gailrun.data.expert import ExpertData
from gailrun.data.minari_io import Dataset
from gailrun.rollout.buffer import Rollout
from gailrun.rollout.normalize import ObsNormalizer, ReturnScaler
from gailrun.run.trainer import Trainer
from tests.settings import gail_settings

GAIL = (
    "algo=gail",
    "env=cartpole",
    "env.num_envs=2",
    "algo.num_steps=128",
    "seed=0",
    "final_eval.episodes=0",
)


def test_reward_forms_are_monotone_in_d():
    logits = torch.linspace(-6, 6, 101, dtype=torch.float64)
    for form in REWARD_FORMS:
        r = reward_from_logits(logits, form)
        assert torch.all(torch.diff(r) > 0), f"{form} must pay more the more expert-like (s, a) looks"
    d = torch.sigmoid(logits)
    # The study's -log D_learner (expert = 0) and the GAN form -log(1 - D) (expert = 1) are one function.
    torch.testing.assert_close(reward_from_logits(logits, "neg_log_learner"), -torch.log(1 - d))
    torch.testing.assert_close(reward_from_logits(logits, "gan"), -torch.log(1 - d))
    torch.testing.assert_close(reward_from_logits(logits, "prob"), d)
    torch.testing.assert_close(reward_from_logits(logits, "airl"), torch.log(d) - torch.log(1 - d))
    # Sign: the first three are never negative (survival bonus); airl is zero where D cannot tell.
    for form in ("neg_log_learner", "gan", "prob"):
        assert (reward_from_logits(logits, form) > 0).all()
    assert reward_from_logits(torch.zeros(1), "airl").item() == 0.0


def expert_data(episodes: list[Episode]) -> ExpertData:
    return ExpertData(Dataset("CartPole-v1", episodes), episodes, to_transitions(episodes))


def cartpole_expert(make_cfg) -> ExpertData:
    from gailrun.data.expert import load_expert
    from gailrun.envs.make import env_info

    return load_expert(make_cfg("env=cartpole").expert, env_info("CartPole-v1"))


def fake_rollout(obs: np.ndarray, actions: np.ndarray) -> Rollout:
    r = Rollout(len(actions), 1, obs.shape[1])
    r.raw_obs[:, 0] = obs
    r.actions[:, 0] = actions
    r.valid[:] = True
    return r


@pytest.mark.parametrize("seed", range(5))
def test_discriminator_separates_expert_from_uniform_random_pairs(make_cfg, seed):
    """Seeds 0-4 under the native, avx2 and default kernels (tests/learning_checks.py's KERNELS): expert
    accuracy >= 0.970, learner accuracy >= 0.915 (threshold 0.9), reward gap >= 7.26 (threshold 2)."""
    expert = cartpole_expert(make_cfg)
    torch.manual_seed(seed)  # D's initial weights: not whatever an earlier test left in the global RNG
    rng = np.random.default_rng(seed)
    n = 2048
    lo, hi = expert.transitions.obs.min(0), expert.transitions.obs.max(0)
    learner = fake_rollout(rng.uniform(lo, hi, size=(n, 4)).astype(np.float32), rng.integers(0, 2, n))
    disc = Discriminator(4, 2, hidden=(64, 64))
    settings = gail_settings(reward_form="airl", absorbing="none", dstep=8, d_epochs=5)
    hook = GailRewardHook(disc, settings, expert, 1, torch.Generator().manual_seed(seed), rng)
    norm = ObsNormalizer(4, enabled=False)
    for _ in range(15):
        stats = hook.update(learner, norm)
    assert stats["e_acc"] > 0.9 and stats["l_acc"] > 0.9
    rewards = hook.rewards(learner, norm)
    expert_r = hook.rewards(fake_rollout(expert.transitions.obs[:n], expert.transitions.actions[:n]), norm)
    assert expert_r.mean() > rewards.mean() + 2.0


def test_relabelled_rewards_not_env_rewards_reach_gae(make_cfg, tmp_path):
    t = Trainer(make_cfg(*GAIL), tmp_path)
    t.build()
    t.on_policy.iteration.step()
    r = t.on_policy.rollout
    hook = t.on_policy.hook
    d_rewards = hook.rewards(r, t.obs_norm)  # D has not changed since the relabel
    np.testing.assert_allclose(t.on_policy.iteration.gae_rewards, d_rewards, rtol=1e-6)
    env_rewards = np.where(r.valid, r.rewards, 0.0)
    assert not np.allclose(t.on_policy.iteration.gae_rewards, env_rewards)
    assert np.all(t.on_policy.iteration.gae_rewards[~r.valid] == 0)
    t.loop.close()


def test_reward_std_and_clip_act_on_d_rewards(make_cfg, tmp_path):
    t = Trainer(
        make_cfg(
            *GAIL,
            "algo.absorbing=none",  # absorbing states: see the test of their per-step scaling below
            "ppo_opts.reward_std=true",
            "ppo_opts.reward_clip=true",
            "algo.reward_clip=0.5",
        ),
        tmp_path,
    )
    t.build()
    t.on_policy.iteration.step()
    r = t.on_policy.rollout
    d_rewards = t.on_policy.hook.rewards(r, t.obs_norm)
    # The same processing applied independently to D's rewards gives exactly what GAE saw...
    expected = np.clip(ReturnScaler(2, 0.99, enabled=True)(d_rewards, r.dones, r.valid), -0.5, 0.5)
    np.testing.assert_allclose(t.on_policy.iteration.gae_rewards, expected, rtol=1e-5, atol=1e-7)
    # ...and differs from the same processing of the env's rewards.
    from_env = np.clip(ReturnScaler(2, 0.99, enabled=True)(r.rewards, r.dones, r.valid), -0.5, 0.5)
    assert not np.allclose(t.on_policy.iteration.gae_rewards, from_env)
    t.loop.close()


@pytest.mark.parametrize("threshold, frozen", [(0.0, True), (1.01, False)])
def test_accuracy_early_stop_triggers_at_its_thresholds(make_cfg, tmp_path, threshold, frozen):
    t = Trainer(
        make_cfg(
            *GAIL, f"algo.d_early_stop.expert_acc={threshold}", f"algo.d_early_stop.learner_acc={threshold}"
        ),
        tmp_path,
    )
    t.build()
    hook = t.on_policy.hook
    t.on_policy.iteration.step()
    assert hook.frozen is frozen
    before = [p.detach().clone() for p in hook.disc.parameters()]
    result = t.on_policy.iteration.step()
    after = list(hook.disc.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True)) is frozen
    assert result.metrics["gail/d_frozen"] == float(frozen)
    t.loop.close()


def test_expert_sampler_pointer_sees_every_sample_once_per_pass():
    s = ExpertSampler(10, "pointer", np.random.default_rng(0))
    first = np.concatenate([s.next(3) for _ in range(3)] + [s.next(1)])
    assert sorted(first.tolist()) == list(range(10))
    assert len(s.next(25)) == 25


def discounted(rewards: np.ndarray, gamma: float) -> float:
    return float(sum(r * gamma**k for k, r in enumerate(rewards)))


@pytest.mark.parametrize("mode", ["dac", "final"])
@pytest.mark.parametrize("form", REWARD_FORMS)
def test_absorbing_states_remove_the_length_bias_of_a_constant_discriminator(form, mode):
    """A D that cannot tell anything apart gives every (s, a) the same reward. Without absorbing states the
    discounted return of a terminated episode then depends on its length alone: positive forms pay for
    surviving, a negative one for dying early. With them, every length is worth the same."""
    gamma = 0.99
    disc = Discriminator(4, 2, hidden=(8,), absorbing=mode)
    with torch.no_grad():
        for p in disc.parameters():
            p.zero_()
        disc.net[-1].bias.fill_(-1.0)  # D = sigmoid(-1) everywhere
    returns = {}
    for absorbing in (False, True):
        settings = gail_settings(reward_form=form, absorbing=mode if absorbing else "none", gamma=gamma)
        ep = Episode(np.zeros((6, 4)), np.zeros(5), np.zeros(5), [0, 0, 0, 0, 1], np.zeros(5, bool))
        hook = GailRewardHook(
            disc, settings, expert_data([ep]), 1, torch.Generator(), np.random.default_rng(0)
        )
        norm = ObsNormalizer(4, enabled=False)
        for length in (10, 200):
            r = fake_rollout(np.zeros((length, 4), np.float32), np.zeros(length, np.int64))
            r.terminated[-1, 0] = True
            r.next_raw_obs[0] = 1.0  # the terminal observation
            returns[absorbing, length] = discounted(hook.rewards(r, norm)[:, 0], gamma)
    per_step = float(reward_from_logits(torch.tensor(-1.0), form))
    if per_step != 0:
        assert returns[False, 10] != pytest.approx(returns[False, 200], rel=1e-3)
        assert (returns[False, 200] > returns[False, 10]) == (per_step > 0)
    assert returns[True, 10] == pytest.approx(returns[True, 200], rel=1e-4)
    assert returns[True, 10] == pytest.approx(per_step / (1 - gamma), rel=1e-4)


def test_final_absorbing_state_judges_how_an_episode_ended():
    """With `final`, the absorbing value depends on the terminal observation: D can score a landing-like end
    differently from a crash-like one (a single DAC absorbing state cannot)."""
    disc = Discriminator(4, 2, hidden=(8,), absorbing="final")
    x_a = disc.inputs(torch.tensor([[1.0, 0, 0, 0]]), torch.zeros(1, dtype=torch.long), torch.ones(1))
    x_b = disc.inputs(torch.tensor([[-1.0, 0, 0, 0]]), torch.zeros(1, dtype=torch.long), torch.ones(1))
    assert not torch.equal(x_a, x_b) and x_a[0, 4:6].sum() == 0 and x_a[0, -1] == 1
    dac = Discriminator(4, 2, hidden=(8,), absorbing="dac")
    y_a = dac.inputs(torch.tensor([[1.0, 0, 0, 0]]), torch.zeros(1, dtype=torch.long), torch.ones(1))
    y_b = dac.inputs(torch.tensor([[-1.0, 0, 0, 0]]), torch.zeros(1, dtype=torch.long), torch.ones(1))
    assert torch.equal(y_a, y_b)


def test_terminal_rows_find_the_terminal_observation():
    r = fake_rollout(np.arange(12, dtype=np.float32).reshape(3, 4), np.zeros(3, np.int64))
    r.terminated[1, 0] = True
    r.next_raw_obs[0] = 99.0
    ts, envs, final = GailRewardHook.terminal_rows(r)
    assert ts.tolist() == [1] and envs.tolist() == [0]
    np.testing.assert_array_equal(final[0], r.raw_obs[2, 0])
    r.terminated[2, 0] = True
    _, _, final = GailRewardHook.terminal_rows(r)
    np.testing.assert_array_equal(final[1], r.next_raw_obs[0])


def _constant_discriminator(hook: GailRewardHook, logit: float) -> None:
    """D's logit is `logit` for every input (airl reward = logit per step, also for the absorbing state)."""
    with torch.no_grad():
        for p in hook.disc.parameters():
            p.zero_()
        hook.disc.net[-1].bias.fill_(logit)


@pytest.mark.parametrize("scaled", [False, True])
def test_reward_clip_and_scaling_act_on_the_absorbing_states_step_reward_not_on_its_value(
    make_cfg, tmp_path, scaled
):
    """DAC's absorbing state is a sequence of steps: scaling and clipping act on its per-step reward r_abs,
    and its discounted sum gamma * r_abs / (1 - gamma) joins the terminal row afterwards. Clipping the sum
    squashed it (a terminal reward of -16.0 became -5.0 with reward_clip 5), and the scaler's statistics
    saw the sum as one step's reward."""
    t = Trainer(
        make_cfg(
            *GAIL,
            "algo.absorbing=dac",
            "algo.reward_form=airl",
            "ppo_opts.reward_clip=true",
            f"ppo_opts.reward_std={str(scaled).lower()}",
            "algo.d_early_stop.expert_acc=0.0",
            "algo.d_early_stop.learner_acc=0.0",
        ),
        tmp_path,
    )
    t.build()
    t.on_policy.iteration.step()  # D is frozen after its first update
    hook = t.on_policy.hook
    assert hook.frozen
    _constant_discriminator(hook, -0.16)
    reference = ReturnScaler(2, 0.99, enabled=scaled)
    reference.load_state_dict(t.on_policy.scaler.state_dict())
    t.on_policy.iteration.step()
    r = t.on_policy.rollout
    ts, envs, _ = GailRewardHook.terminal_rows(r)
    assert len(ts) > 0, "a random CartPole policy terminates within 128 steps"
    if not scaled:  # -0.16 per step, -0.16 per absorbing step: -0.16 + 0.99 * -0.16 / 0.01 = -16.0
        np.testing.assert_allclose(t.on_policy.iteration.gae_rewards[ts, envs], -16.0, rtol=1e-5)
    # The reference: only the per-step rewards (-0.16 on every valid row) feed the scaler's statistics.
    step = np.where(r.valid, np.float32(-0.16), 0.0).astype(np.float32)
    scaled_step, divisors = reference.scale(step, r.dones, r.valid)
    expected_terminal = np.clip(-0.16 / divisors[ts], -5, 5) * (1 + 0.99 / 0.01)
    np.testing.assert_allclose(t.on_policy.iteration.gae_rewards[ts, envs], expected_terminal, rtol=1e-5)
    others = r.valid.copy()
    others[ts, envs] = False
    np.testing.assert_allclose(
        t.on_policy.iteration.gae_rewards[others], np.broadcast_to(scaled_step, r.valid.shape)[others]
    )
    np.testing.assert_allclose(t.on_policy.scaler.rms.var, reference.rms.var, rtol=1e-9)
    t.loop.close()


@pytest.mark.parametrize("order", ["updated", "collected"])
def test_relabel_with_says_which_discriminator_rewards_the_rollout(make_cfg, tmp_path, order):
    """`updated` rewards the rollout with D after its update on it; `collected` with D as it was when the
    rollout was collected (OpenAI baselines, imitation)."""
    import copy

    t = Trainer(make_cfg(*GAIL, "algo.absorbing=none", f"algo.relabel_with={order}"), tmp_path)
    t.build()
    hook = t.on_policy.hook
    before = copy.deepcopy(hook.disc)
    t.on_policy.iteration.step()
    after = hook.disc
    rewards = {}
    for name, disc in (("collected", before), ("updated", after)):
        hook.disc = disc
        rewards[name] = hook.rewards(t.on_policy.rollout, t.obs_norm)
    hook.disc = after
    assert not np.allclose(rewards["collected"], rewards["updated"])
    np.testing.assert_allclose(t.on_policy.iteration.gae_rewards, rewards[order], rtol=1e-6)
    t.loop.close()
