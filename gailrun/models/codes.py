"""InfoGAIL's latent code: one discrete code per episode, drawn uniformly when the episode starts, shown to
the policy (and critic) as a one-hot vector appended to the observation.

Because the code is part of what the policy observes, PPO needs no change; the discriminator never sees it
(it judges (s, a) only) and the posterior Q(c | s, a) must recover it (gailrun/algos/infogail/hook.py).
"""

from __future__ import annotations

import numpy as np
import torch

from gailrun.run.rng import generator_state, set_generator_state


def with_code(obs: np.ndarray, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """[obs, one_hot(code)] row by row, float32."""
    one_hot = np.zeros((len(codes), n_codes), dtype=np.float32)
    one_hot[np.arange(len(codes)), codes] = 1.0
    return np.concatenate([obs.astype(np.float32), one_hot], axis=1)


def with_random_codes(obs: np.ndarray, n_codes: int, generator: torch.Generator) -> np.ndarray:
    """`obs` with a uniformly drawn code per row (unchanged without codes, `n_codes` 0): how expert states,
    which carry no codes, are shown to an InfoGAIL policy in BC pretraining and in the BC term."""
    if not n_codes:
        return obs
    codes = torch.randint(0, n_codes, (len(obs),), generator=generator).numpy()
    return with_code(obs, codes, n_codes)


class LatentCodes:
    def __init__(
        self, n_codes: int, num_envs: int, rng: np.random.Generator, fixed: int | None = None
    ) -> None:
        self.n_codes, self.rng, self.fixed = int(n_codes), rng, fixed
        self.codes = np.zeros(num_envs, dtype=np.int64)
        self.redraw(np.ones(num_envs, dtype=bool))

    def redraw(self, mask: np.ndarray) -> None:
        """New codes for the envs whose episode starts now."""
        k = int(np.count_nonzero(mask))
        if k:
            self.codes[mask] = self.fixed if self.fixed is not None else self.rng.integers(0, self.n_codes, k)

    def augment(self, obs: np.ndarray) -> np.ndarray:
        return with_code(obs, self.codes, self.n_codes)

    def state_dict(self) -> dict:
        return {"codes": torch.from_numpy(self.codes.copy()), "rng": generator_state(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        self.codes = state["codes"].numpy().astype(np.int64).copy()
        set_generator_state(self.rng, state["rng"])
