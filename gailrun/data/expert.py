"""Expert data for training: checked against the env, filtered by return, and a seeded draw of trajectories.

The original GAIL study recorded ~200 plays of its PPO expert, kept those scoring >= 230 and drew 3 at
random; `expert.min_score`, `expert.n_samples` and `expert.seed` are those three steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gailrun.data.episodes import Episode, Transitions, to_transitions
from gailrun.data.minari_io import Dataset, read_dataset
from gailrun.envs.make import EnvInfo, resolve_env_id
from gailrun.errors import DataError


@dataclass
class ExpertData:
    dataset: Dataset
    episodes: list[Episode]  # the drawn trajectories
    transitions: Transitions
    # Kept by the filter but not drawn: never trained on (reward-free model selection scores against them).
    held_out: list[Episode] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        r = np.array([ep.ret for ep in self.episodes])
        return {
            "path": str(self.dataset.path),
            "trajectories": len(self.episodes),
            "transitions": len(self.transitions),
            "return_mean": float(r.mean()),
            "return_std": float(r.std()),
        }


def check_matches_env(ds: Dataset, info: EnvInfo, where: str) -> None:
    actions = range(
        min(int(ep.actions.min()) for ep in ds.episodes), max(int(ep.actions.max()) for ep in ds.episodes) + 1
    )
    info.check_fits(
        f"expert dataset {where} was recorded on",
        resolve_env_id(ds.env_id),
        int(ds.episodes[0].observations.shape[1]),
        actions,
        fix=f"point expert.path at a {info.env_id} dataset or change env=",
        error=DataError,
        dataset=True,
    )


def load_expert(cfg: Any, info: EnvInfo) -> ExpertData:
    """`cfg` is the `expert` config node: path, min_score, n_samples, seed."""
    if cfg is None or cfg.path in (None, ""):
        raise DataError(
            f"no expert dataset configured for {info.env_id}; pass expert.path=PATH to a Minari dataset"
        )
    where = str(cfg.path)
    ds = read_dataset(Path(where))
    check_matches_env(ds, info, where)
    min_score = cfg.min_score
    kept = ds.episodes if min_score is None else [ep for ep in ds.episodes if ep.ret >= float(min_score)]
    n = cfg.n_samples
    n = len(kept) if n is None else int(n)
    if n <= 0:
        raise DataError(f"expert.n_samples must be positive, got {n}")
    if len(kept) < n:
        best = float(ds.returns.max())
        raise DataError(
            f"only {len(kept)} of {len(ds.episodes)} trajectories in {where} score >= min_score {min_score} "
            f"(best return {best:.1f}) but expert.n_samples={n}; lower expert.min_score or expert.n_samples"
        )
    rng = np.random.default_rng(int(cfg.seed))
    idx = np.sort(rng.choice(len(kept), size=n, replace=False))
    chosen = [kept[i] for i in idx]
    held_out = [kept[i] for i in sorted(set(range(len(kept))) - set(idx.tolist()))]
    return ExpertData(dataset=ds, episodes=chosen, transitions=to_transitions(chosen), held_out=held_out)
