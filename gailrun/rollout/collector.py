"""Steps a vectorized env with the current policy and fills a `Rollout`.

Policy inference is batched over the envs; observations are normalized here (statistics updated as they
arrive) and stored both raw and normalized, so a discriminator can renormalize them with frozen statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from gailrun.envs.replay import ReplayLog
from gailrun.errors import CheckpointError, DivergenceError
from gailrun.models.codes import LatentCodes
from gailrun.models.networks import ActorCritic
from gailrun.rollout.buffer import EpisodeSums, Rollout
from gailrun.rollout.normalize import ObsNormalizer


@dataclass
class Episodes:
    """Episodes that finished during one rollout: env-reward return, length, and the step they ended on."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    end_rows: list[tuple[int, int]] = field(default_factory=list)


class Collector:
    """Owns the env's current observation and per-env episode counters between rollouts."""

    def __init__(
        self,
        envs: VectorEnv,
        agent: ActorCritic,
        obs_norm: ObsNormalizer,
        first_obs: np.ndarray,
        generator: torch.Generator,
        replay: ReplayLog | None = None,
        codes: LatentCodes | None = None,
    ) -> None:
        self.envs = envs
        self.replay = replay
        self.codes = codes
        self.agent = agent
        self.obs_norm = obs_norm
        self.generator = generator
        n = envs.num_envs
        self.raw_obs = np.asarray(first_obs, dtype=np.float32)
        self.obs_norm.update(self.raw_obs)
        # True where the previous step ended an episode, so this step is an autoreset row.
        self.prev_done = np.zeros(n, dtype=bool)
        self.sums = EpisodeSums(n)
        self.total_steps = 0  # env steps that were real transitions (autoreset rows excluded)

    def collect(self, rollout: Rollout) -> Episodes:
        episodes = Episodes()
        envs = self.envs
        sample = self.agent.sampler()
        for t in range(rollout.num_steps):
            if not np.isfinite(self.raw_obs).all():
                raise DivergenceError(
                    "non-finite observation from the environment (check the env or its wrappers)"
                )
            obs = self.policy_obs(self.raw_obs)
            actions = sample(obs, self.generator)
            rollout.obs[t] = obs
            rollout.raw_obs[t] = self.raw_obs
            rollout.actions[t] = actions
            valid = ~self.prev_done
            rollout.valid[t] = valid
            if self.codes is not None:
                rollout.codes[t] = self.codes.codes

            if self.replay is not None:
                self.replay.before_step(actions, self.prev_done)
            next_obs, reward, term, trunc, _ = envs.step(actions)
            rollout.rewards[t] = reward
            rollout.terminated[t] = term
            rollout.truncated[t] = trunc

            done = term | trunc
            for i, ret, length in self.sums.step(reward, valid, done):
                episodes.returns.append(ret)
                episodes.lengths.append(length)
                episodes.end_rows.append((t, i))
            self.total_steps += int(valid.sum())
            if self.codes is not None:
                self.codes.redraw(self.prev_done)  # those envs just reset: a new episode, a new code
            self.prev_done = done
            self.raw_obs = np.asarray(next_obs, dtype=np.float32)
            self.obs_norm.update(self.raw_obs)

        rollout.next_raw_obs[:] = self.raw_obs
        rollout.next_obs[:] = self.policy_obs(self.raw_obs)
        self._evaluate(rollout)
        return episodes

    def _evaluate(self, rollout: Rollout) -> None:
        """Log-probabilities of the actions taken and values, for the whole rollout in one batched pass.

        The weights do not change during a rollout, so this equals evaluating them step by step, at a
        fraction of the per-step cost (the critic never runs inside the env loop).
        """
        t, n = rollout.num_steps, rollout.num_envs
        obs = torch.from_numpy(np.concatenate([rollout.obs.reshape(t * n, -1), rollout.next_obs]))
        with torch.no_grad():
            actions = torch.from_numpy(rollout.actions.reshape(-1))
            rollout.logprobs[:] = (
                self.agent.dist.log_prob(self.agent.logits(obs[: t * n]), actions).reshape(t, n).numpy()
            )
            values = self.agent.value(obs).numpy()
        rollout.values[:] = values[: t * n].reshape(t, n)
        rollout.next_value[:] = values[t * n :]

    def policy_obs(self, raw_obs: np.ndarray) -> np.ndarray:
        obs = self.obs_norm(raw_obs)
        return obs if self.codes is None else self.codes.augment(obs)

    def state_dict(self) -> dict:
        state = {
            "raw_obs": self.raw_obs.copy(),
            "prev_done": self.prev_done.copy(),
            "ep_return": self.sums.returns.copy(),
            "ep_length": self.sums.lengths.copy(),
            "total_steps": self.total_steps,
        }
        if self.replay is not None:
            state["replay"] = self.replay.state_dict()
        if self.codes is not None:
            state["codes"] = self.codes.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore counters and bring the envs to the saved state by replaying their current episodes."""
        self.prev_done = np.asarray(state["prev_done"], dtype=bool).copy()
        self.sums.returns = np.asarray(state["ep_return"], dtype=np.float64).copy()
        self.sums.lengths = np.asarray(state["ep_length"], dtype=np.int64).copy()
        self.total_steps = int(state["total_steps"])
        self.raw_obs = np.asarray(state["raw_obs"], dtype=np.float32).copy()
        if self.codes is not None:
            self.codes.load_state_dict(state["codes"])
        if self.replay is None or "replay" not in state:
            raise CheckpointError(
                "the checkpoint has no environment replay log (runs with env.backend=envpool or "
                "env.vectorization=async cannot be resumed); pass resume=null to start over"
            )
        replayed = self.replay.restore(state["replay"], self.prev_done).astype(np.float32)
        if not np.array_equal(replayed, self.raw_obs):
            raise CheckpointError(
                "replaying the environments did not reproduce the saved observations (another machine, "
                "gymnasium or Box2D version?); resume where the run started or start a new run"
            )
