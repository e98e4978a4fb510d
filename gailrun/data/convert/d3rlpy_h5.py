"""d3rlpy's MDPDataset HDF5 files: v2 (`ReplayBuffer.dump` / `MDPDataset.dump`) and, for import, v1.

d3rlpy stores T aligned rows per episode (observation t, action t, reward t) and no final observation: after a
terminated episode it assumes a zero observation, and of a timed-out episode it uses the last row only as the
next observation of the row before. v2 layout: `columns` (observations, actions, rewards, terminated),
`num_episodes`, `version` ("2.1") and per episode i `observations_i` [T, D], `actions_i` [T, 1],
`rewards_i` [T, 1] float32, `terminated_i` (bool). v1 layout: flat `observations`, `actions`, `rewards`,
`terminals` and `episode_terminals` (episode ends), plus `discrete_action` and `version` ("1.0").

Exports keep what d3rlpy's rows cannot hold in datasets d3rlpy ignores (they are not in `columns`):
`gailrun_final_observation_i`, `gailrun_rewards_i` (float64) and `gailrun_episode_i` (JSON: both end flags,
seed, attrs). Importing a foreign file without them: a timed-out episode's last row becomes its final
observation (its action and reward are dropped, as d3rlpy itself never uses them); a terminated episode's
final observation is unknown, so the import stops unless `zero_final_obs` accepts d3rlpy's zero observation.
Both are counted in the card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gailrun.data.convert import common
from gailrun.data.episodes import Episode
from gailrun.data.minari_io import Dataset
from gailrun.envs.make import EnvInfo, env_info
from gailrun.errors import DataError

FORMAT = "d3rlpy"
VERSION = "2.1"
COLUMNS = ("observations", "actions", "rewards", "terminated")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class _Foreign:
    """Turns d3rlpy rows without gailrun's extras into episodes, counting what had to be dropped or filled."""

    def __init__(self, info: EnvInfo, zero_final_obs: bool) -> None:
        self.info, self.zero_final_obs = info, zero_final_obs
        self.last_rows_dropped = 0
        self.zero_filled = 0
        self.too_short = 0

    def episode(
        self, where: str, obs: np.ndarray, acts: np.ndarray, rews: np.ndarray, terminated: bool
    ) -> Episode | None:
        if terminated:
            if not self.zero_final_obs:
                raise DataError(
                    f"{where} ends in termination, and d3rlpy stores T aligned rows with no final "
                    "observation, so it is unknown; pass --zero-final-obs to use d3rlpy's own zero "
                    "observation for it"
                )
            self.zero_filled += 1
            final = np.zeros((1, *obs.shape[1:]), dtype=obs.dtype)
            return common.make_episode(
                where, self.info, np.concatenate([obs, final]), acts, rews, True, False
            )
        if len(acts) < 2:
            self.too_short += 1
            return None
        self.last_rows_dropped += 1
        return common.make_episode(where, self.info, obs, acts[:-1], rews[:-1], False, True)

    def card(self) -> dict[str, Any]:
        return {
            "d3rlpy_final_observation": {
                "timed_out_last_row_used_as_final_observation": self.last_rows_dropped,
                "terminated_final_observation_zeros": self.zero_filled,
                "single_row_timed_out_episodes_dropped": self.too_short,
            }
        }


def _rows(where: str, obs: np.ndarray, acts: np.ndarray, rews: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rews = np.asarray(rews)
    if rews.ndim == 2 and rews.shape[1] == 1:
        rews = rews[:, 0]
    if not (len(obs) == len(acts) == len(rews)):
        raise DataError(
            f"{where}: {len(obs)} observations, {len(acts)} actions and {len(rews)} rewards; d3rlpy stores "
            "T aligned rows (one observation, action and reward per step)"
        )
    return acts, rews


def _read_v2(h5: h5py.File, src: Path, info: EnvInfo, foreign: _Foreign) -> tuple[list[Episode], bool]:
    version = _text(h5["version"][()]) if "version" in h5 else "?"
    if version == "2.0":
        raise DataError(f"{src} is a d3rlpy version 2.0 file, which d3rlpy itself declares obsolete")
    columns = [_text(c) for c in np.atleast_1d(h5["columns"][()])]
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{src}: columns lack {', '.join(missing)}; expected d3rlpy's {', '.join(COLUMNS)}")
    episodes: list[Episode] = []
    exact = True
    for i in range(int(h5["num_episodes"][()])):
        where = f"{src}: episode {i}"
        if f"observations_{i}" not in h5:
            if f"observations_{i}_0" in h5:
                raise DataError(f"{where} has tuple observations; gailrun needs one flat observation array")
            raise DataError(f"{where} is missing (no observations_{i}); the file is truncated or malformed")
        obs = h5[f"observations_{i}"][()]
        acts, rews = _rows(where, obs, h5[f"actions_{i}"][()], h5[f"rewards_{i}"][()])
        terminated = bool(h5[f"terminated_{i}"][()])
        final_key = f"gailrun_final_observation_{i}"
        if final_key not in h5:
            exact = False
            ep = foreign.episode(where, obs, acts, rews, terminated)
            if ep is not None:
                episodes.append(ep)
            continue
        meta = common.parse_meta(h5[f"gailrun_episode_{i}"][()]) if f"gailrun_episode_{i}" in h5 else None
        if f"gailrun_rewards_{i}" in h5:
            rews = h5[f"gailrun_rewards_{i}"][()]
        episodes.append(
            common.make_episode(
                where,
                info,
                np.concatenate([obs, h5[final_key][()][None]]),
                acts,
                rews,
                terminated,
                not terminated,
                meta,
            )
        )
    return episodes, exact


def _read_v1(h5: h5py.File, src: Path, foreign: _Foreign) -> tuple[list[Episode], int]:
    missing = [k for k in ("observations", "actions", "rewards", "terminals") if k not in h5]
    if missing:
        raise DataError(f"{src}: lacks {', '.join(missing)}; expected d3rlpy v1's MDPDataset layout")
    obs = h5["observations"][()]
    acts, rews = _rows(str(src), obs, h5["actions"][()], h5["rewards"][()])
    terminals = np.asarray(h5["terminals"][()]).reshape(-1) > 0
    ends = np.asarray(h5["episode_terminals"][()]).reshape(-1) > 0 if "episode_terminals" in h5 else terminals
    if len(terminals) != len(obs) or len(ends) != len(obs):
        raise DataError(
            f"{src}: terminals or episode_terminals do not have one entry per row; d3rlpy stores T "
            "aligned rows"
        )
    episodes: list[Episode] = []
    start = 0
    for k, end in enumerate(np.flatnonzero(ends)):
        rows = slice(start, int(end) + 1)
        ep = foreign.episode(f"{src}: episode {k}", obs[rows], acts[rows], rews[rows], bool(terminals[end]))
        if ep is not None:
            episodes.append(ep)
        start = int(end) + 1
    return episodes, len(obs) - start


def import_d3rlpy(src: str | Path, env_id: str, zero_final_obs: bool = False) -> Dataset:
    """Read a d3rlpy MDPDataset HDF5 file (v2, or v1's flat layout)."""
    src = Path(src)
    info = env_info(env_id)
    common.require_source(src, "file")
    foreign = _Foreign(info, zero_final_obs)
    extra: dict[str, Any] = {}
    try:
        with h5py.File(src, "r") as h5:
            if "columns" in h5 and "num_episodes" in h5:
                episodes, exact = _read_v2(h5, src, info, foreign)
                extra["d3rlpy_version"] = _text(h5["version"][()]) if "version" in h5 else "unknown"
            elif "observations" in h5 and "actions" in h5:
                episodes, trailing = _read_v1(h5, src, foreign)
                exact = False
                extra["d3rlpy_version"] = _text(h5["version"][()]) if "version" in h5 else "1.0"
                extra["incomplete_episodes_dropped"] = int(trailing > 0)
                extra["trailing_rows_dropped"] = trailing
            else:
                raise DataError(
                    f"{src} is HDF5 but neither d3rlpy v2 (columns, num_episodes, observations_0, ...) "
                    "nor v1 (observations, actions, rewards, terminals); Minari datasets need no import"
                )
    except OSError as exc:
        raise DataError(
            f"cannot read {src} ({str(exc).splitlines()[0][:120]}); it is not HDF5 or is corrupt"
        ) from exc
    if not exact:
        extra.update(foreign.card())
    return common.imported_dataset(info, episodes, FORMAT, src, extra)


def export_d3rlpy(dataset: Dataset, dst: str | Path, overwrite: bool = False) -> Path:
    """Write `dataset` as a d3rlpy v2 file that `d3rlpy.dataset.ReplayBuffer.load` reads."""
    dst = Path(dst)
    with common.atomic_output(dst, overwrite) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("columns", data=list(COLUMNS))
        h5.create_dataset("num_episodes", data=len(dataset.episodes))
        for i, ep in enumerate(dataset.episodes):
            h5.create_dataset(f"observations_{i}", data=ep.observations[:-1])
            h5.create_dataset(f"actions_{i}", data=ep.actions.reshape(-1, 1))
            h5.create_dataset(f"rewards_{i}", data=ep.rewards.astype(np.float32).reshape(-1, 1))
            h5.create_dataset(f"terminated_{i}", data=bool(ep.terminations[-1]))
            h5.create_dataset(f"gailrun_final_observation_{i}", data=ep.observations[-1])
            h5.create_dataset(f"gailrun_rewards_{i}", data=ep.rewards)
            h5.create_dataset(f"gailrun_episode_{i}", data=json.dumps(common.episode_meta(ep)))
        h5.create_dataset("version", data=VERSION)
        h5.attrs["gailrun_env_id"] = dataset.env_id
    return dst
