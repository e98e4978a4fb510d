"""What every converter shares: env shape checks, end-of-episode flags, the import card and atomic output.

Other tools mark the end of an episode once per episode (imitation's `terminal`, d3rlpy's `terminated`,
SB3's `dones` and `timeouts`); Minari marks it per step. `end_flags` turns the first into the second, and
`episode_meta` records both flags (plus seed and attrs) so that an export made by gailrun comes back exactly.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gailrun.data.episodes import Episode
from gailrun.data.minari_io import Dataset
from gailrun.envs.make import EnvInfo
from gailrun.errors import DataError
from gailrun.models.distributions import make_distribution


def end_flags(steps: int, terminated: bool, truncated: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-step terminations and truncations for an episode whose end is described once."""
    terms, truncs = np.zeros(steps, bool), np.zeros(steps, bool)
    if steps:
        terms[-1], truncs[-1] = terminated, truncated
    return terms, truncs


def episode_meta(ep: Episode) -> dict[str, Any]:
    """What a foreign format cannot hold per step, kept in a place its readers ignore."""
    return {
        "terminated": bool(ep.terminations[-1]),
        "truncated": bool(ep.truncations[-1]),
        "seed": ep.seed,
        "attrs": _jsonable(ep.attrs),
    }


def parse_meta(value: str | bytes | dict[str, Any] | None) -> dict[str, Any] | None:
    """The `episode_meta` (a dict or its JSON) written by a gailrun export, or None for foreign files."""
    meta: Any = value
    if isinstance(value, str | bytes):
        try:
            meta = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    if isinstance(meta, dict) and isinstance(meta.get("terminated"), bool):
        return meta
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def make_episode(
    where: str,
    info: EnvInfo,
    observations: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    terminated: bool,
    truncated: bool,
    meta: dict[str, Any] | None = None,
) -> Episode:
    """Build one episode (T + 1 observations for T actions) and check it against the convention and env.

    `meta`: the `episode_meta` a gailrun export left (see `parse_meta`); its end flags replace the format's
    own, which cannot tell every ending apart, and its seed and attrs come back with the episode.
    """
    seed, attrs = None, None
    if meta is not None:
        terminated, truncated = meta["terminated"], bool(meta.get("truncated"))
        seed, attrs = meta.get("seed"), meta.get("attrs")
    observations = np.asarray(observations)
    if observations.ndim >= 1 and observations.shape[1:] != (info.obs_dim,):
        raise DataError(
            f"{where}: observations have shape {tuple(observations.shape[1:])} per step but {info.env_id} "
            f"expects ({info.obs_dim},); pass the --env the data was recorded on"
        )
    acts = make_distribution(info.n_actions).dataset_actions(actions, where, info.env_id)
    terms, truncs = end_flags(acts.shape[0], terminated, truncated)
    ep = Episode(observations, acts, np.asarray(rewards), terms, truncs, seed=seed, attrs=dict(attrs or {}))
    ep.check(where)
    return ep


def imported_dataset(
    info: EnvInfo, episodes: list[Episode], fmt: str, src: Path, extra: dict[str, Any] | None = None
) -> Dataset:
    """Wrap imported episodes with a card that names the source format and file."""
    from gailrun.data.collect import build_card  # imports torch: only once there is something to record

    if not episodes:
        raise DataError(f"{src}: no complete episode found; nothing to import")
    source = {"format": fmt, "original": str(Path(src).resolve()), "algo": "unknown"}
    ends = {
        "terminated": int(sum(bool(ep.terminations[-1]) for ep in episodes)),
        "truncated": int(sum(bool(ep.truncations[-1]) for ep in episodes)),
    }
    card = build_card(
        info.env_id,
        episodes,
        episodes,
        None,
        0,
        source,
        {
            "seed": None,  # imported data carries no collection seed
            "description": f"{len(episodes)} episodes imported from {fmt} file {Path(src).name}.",
            "episode_ends": ends,
            **(extra or {}),
        },
    )
    return Dataset(env_id=info.env_id, episodes=episodes, card=card)


def require_source(src: Path, kind: str) -> None:
    """Refuse a missing source, or a file where a directory is expected and vice versa."""
    if not src.exists():
        raise DataError(f"{src} does not exist; check the SRC path")
    if kind == "dir" and not src.is_dir():
        raise DataError(f"{src} is a file; this format is a directory")
    if kind == "file" and not src.is_file():
        raise DataError(f"{src} is a directory; this format is a single file")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


@contextmanager
def atomic_output(dst: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of `dst` to write into; it replaces `dst` only if the block succeeds.

    A failed export therefore leaves nothing behind, and an existing `dst` survives until its replacement is
    complete.
    """
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise DataError(f"{dst} already exists; pass --overwrite or choose another output path")
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    _remove(tmp)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if dst.exists():
            old = dst.with_name(f".{dst.name}.{os.getpid()}.old")
            _remove(old)
            os.replace(dst, old)
            os.replace(tmp, dst)
            _remove(old)
        else:
            os.replace(tmp, dst)
    except OSError as exc:
        raise DataError(
            f"could not write {dst} ({exc.strerror or exc}); check free space and permissions"
        ) from exc
    finally:
        _remove(tmp)
