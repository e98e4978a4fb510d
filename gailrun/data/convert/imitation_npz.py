"""The imitation library's older `.npz` trajectory files (imitation before 0.4, still read by its `load`).

Layout: `obs` holds every trajectory's T + 1 observations back to back, `acts`, `rews` and `infos` their T
steps, `terminal` one bool per trajectory, and `indices` the split points of `acts` (the cumulative lengths
of all trajectories but the last). `infos` is an object array, i.e. a pickle: gailrun never loads it (the
file is opened with `allow_pickle=False`) and writes only empty dicts plus a final info per trajectory.

`terminal` maps as in the datasets layout (see `imitation_hf`). Exports add `gailrun_episodes`, one JSON
string per trajectory with both end flags, seed and attrs, which imitation's loader ignores; it makes a round
trip exact.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gailrun.data.convert import common
from gailrun.data.minari_io import Dataset
from gailrun.envs.make import env_info
from gailrun.errors import DataError

FORMAT = "imitation-npz"
META_KEY = "gailrun_episodes"


def _load(src: Path) -> dict[str, np.ndarray]:
    common.require_source(src, "file")
    if not zipfile.is_zipfile(src):
        with open(src, "rb") as fh:
            pickled = fh.read(1) == b"\x80"
        if pickled:
            raise DataError(
                f"{src} is a pickle (imitation's oldest Trajectory format); gailrun does not load pickled "
                "trajectories, re-save them with imitation's serialize.save"
            )
        raise DataError(f"{src} is not an .npz file; expected imitation's .npz trajectory layout")
    try:
        with np.load(src, allow_pickle=False) as data:
            keys = set(data.files)
            missing = [k for k in ("obs", "acts", "terminal", "indices") if k not in keys]
            if missing:
                raise DataError(
                    f"{src} lacks {', '.join(missing)}; expected imitation's .npz trajectory layout "
                    "(obs, acts, infos, terminal, indices, rews)"
                )
            if "rews" not in keys:
                raise DataError(
                    f"{src} has no rews (imitation Trajectory objects without rewards); gailrun datasets "
                    "need rewards"
                )
            wanted = ("obs", "acts", "rews", "terminal", "indices", META_KEY)
            return {k: data[k] for k in wanted if k in keys}  # never `infos`: it is a pickle
    except ValueError as exc:
        raise DataError(
            f"cannot read {src} ({str(exc).splitlines()[0][:120]}); its arrays must not be pickled objects"
        ) from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot read {src} ({exc}); the .npz file is corrupt") from exc


def import_imitation_npz(src: str | Path, env_id: str) -> Dataset:
    """Read an `.npz` file written by imitation's old `types.save` (trajectories with rewards)."""
    src = Path(src)
    info = env_info(env_id)
    data = _load(src)
    obs, acts, rews = data["obs"], data["acts"], data["rews"]
    terminal = np.asarray(data["terminal"], dtype=bool).reshape(-1)
    indices = np.asarray(data["indices"]).reshape(-1).astype(np.int64)
    n = terminal.shape[0]
    if indices.shape[0] == n and n and indices[-1] == len(acts):
        indices = indices[:-1]  # tolerate a trailing split point at the very end
    if indices.shape[0] != max(n - 1, 0):
        raise DataError(
            f"{src}: {indices.shape[0]} split indices for {n} trajectories; imitation's .npz layout has one "
            "fewer index than trajectories (the cumulative lengths of all but the last)"
        )
    bounds = np.concatenate([[0], indices, [len(acts)]])
    if (np.diff(bounds) < 0).any():
        raise DataError(f"{src}: indices are not increasing split points of acts; the file is malformed")
    if len(obs) != len(acts) + n:
        raise DataError(
            f"{src}: {len(obs)} observations for {len(acts)} actions in {n} trajectories; imitation's .npz "
            f"layout expects one more observation than actions per trajectory ({len(acts) + n} observations)"
        )
    if len(rews) != len(acts):
        raise DataError(f"{src}: {len(rews)} rewards for {len(acts)} actions; expected one reward per action")
    metas: list[Any] = list(data[META_KEY]) if META_KEY in data and len(data[META_KEY]) == n else [None] * n
    episodes = []
    for i in range(n):
        start, end = int(bounds[i]), int(bounds[i + 1])
        episodes.append(
            common.make_episode(
                f"{src}: trajectory {i}",
                info,
                obs[start + i : end + i + 1],
                acts[start:end],
                rews[start:end],
                bool(terminal[i]),
                not bool(terminal[i]),
                common.parse_meta(None if metas[i] is None else str(metas[i])),
            )
        )
    return common.imported_dataset(info, episodes, FORMAT, src, {"infos_imported": False})


def export_imitation_npz(dataset: Dataset, dst: str | Path, overwrite: bool = False) -> Path:
    """Write `dataset` in the `.npz` layout that `imitation.data.serialize.load` still reads."""
    eps = dataset.episodes
    metas = [common.episode_meta(ep) for ep in eps]
    infos = np.empty(sum(ep.length for ep in eps), dtype=object)
    pos = 0
    for ep, meta in zip(eps, metas, strict=True):
        for k in range(ep.length):
            infos[pos + k] = {}
        infos[pos + ep.length - 1] = {
            "TimeLimit.truncated": meta["truncated"] and not meta["terminated"],
            "gailrun": meta,
        }
        pos += ep.length
    arrays = {
        "obs": np.concatenate([ep.observations for ep in eps]),
        "acts": np.concatenate([ep.actions for ep in eps]),
        "infos": infos,
        "terminal": np.array([m["terminated"] for m in metas], dtype=bool),
        "indices": np.cumsum([ep.length for ep in eps[:-1]], dtype=np.int64),
        "rews": np.concatenate([ep.rewards for ep in eps]),
        META_KEY: np.array([json.dumps(m) for m in metas], dtype=str),
    }
    dst = Path(dst)
    with common.atomic_output(dst, overwrite) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return dst
