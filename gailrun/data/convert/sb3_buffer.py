"""Stable-Baselines3 replay buffers, as `model.save_replay_buffer(path)` pickles them (import only).

Unpickling runs whatever code the file names, so nothing is loaded without `trust_pickle`.

A `ReplayBuffer` holds arrays of [buffer_size, n_envs, ...]: `observations`, `next_observations`, `actions`,
`rewards`, `dones` (termination or time limit) and `timeouts` (time limit, when
`handle_timeout_termination`). Each env column is its own stream of episodes; rows run from `pos` round to
`pos - 1` once the buffer is `full`. An episode's final observation is the `next_observations` of its last
row (SB3 stores the true terminal observation there, not the reset one). A timeout is a truncation, any
other done a termination. Fragments are dropped and counted in the card: the unfinished episode at the end
of each column, and, in a wrapped buffer, the oldest episode of each column, whose start was overwritten.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gailrun.data.convert.common import imported_dataset, make_episode
from gailrun.data.episodes import Episode
from gailrun.data.minari_io import Dataset
from gailrun.envs.make import EnvInfo, env_info
from gailrun.errors import DataError

FORMAT = "sb3"
FLAG = "--trust-pickle"
FIELDS = ("observations", "actions", "rewards", "dones", "pos", "full", "buffer_size", "n_envs")


def _resolve(src: Path) -> Path:
    """SB3 appends `.pkl` to a path without a suffix, so accept the path the user passed to SB3."""
    if not src.exists() and src.suffix == "" and src.with_suffix(".pkl").is_file():
        return src.with_suffix(".pkl")
    if not src.exists():
        raise DataError(f"{src} does not exist; check the SRC path")
    if not src.is_file():
        raise DataError(f"{src} is a directory; expected the file written by model.save_replay_buffer")
    return src


def _unpickle(src: Path) -> Any:
    try:
        with open(src, "rb") as fh:
            return pickle.load(fh)
    except ModuleNotFoundError as exc:
        raise DataError(
            f"{src} needs the module {exc.name!r} to load; install stable-baselines3 "
            "(`pip install 'gailrun[convert]'`)"
        ) from exc
    except Exception as exc:  # a foreign pickle can raise anything while it is rebuilt
        detail = (str(exc).splitlines() or [""])[0][:100]
        raise DataError(
            f"cannot unpickle {src} ({type(exc).__name__}: {detail}); expected the file written by "
            "model.save_replay_buffer"
        ) from exc


def _check_buffer(buf: Any, src: Path) -> None:
    name = type(buf).__name__
    if name in ("DictReplayBuffer", "HerReplayBuffer"):
        raise DataError(f"{src} is an SB3 {name} (dict observations); gailrun imports flat observations only")
    missing = [f for f in FIELDS if not hasattr(buf, f)]
    if missing:
        raise DataError(
            f"{src} holds a {name}, not an SB3 ReplayBuffer (lacks {', '.join(missing)}); expected the file "
            "written by model.save_replay_buffer of an off-policy model"
        )
    if getattr(buf, "optimize_memory_usage", False) or getattr(buf, "next_observations", None) is None:
        raise DataError(
            f"{src} was saved with optimize_memory_usage=True, which overwrites each episode's final "
            "observation with the next reset; it cannot be converted to episodes"
        )


def _column_episodes(
    buf: Any, order: np.ndarray, j: int, info: EnvInfo, src: Path
) -> tuple[list[tuple[int, Episode]], int, int]:
    """Complete episodes of env column j as (chronological end, episode); also leading/trailing fragments."""
    dones = np.asarray(buf.dones)[order, j] > 0
    if getattr(buf, "handle_timeout_termination", False):
        timeouts = np.asarray(buf.timeouts)[order, j] > 0
    else:
        timeouts = np.zeros_like(dones)  # every done counts as a termination; the card says so
    ends = np.flatnonzero(dones)
    out: list[tuple[int, Episode]] = []
    leading = int(bool(buf.full) and ends.size > 0)  # its start was overwritten: unknown
    trailing = int(order.size > (ends[-1] + 1 if ends.size else 0))
    start = 0
    for k, end in enumerate(ends):
        rows = order[start : end + 1]
        first = start
        start = int(end) + 1
        if k == 0 and leading:
            continue
        where = f"{src}: env {j}, episode ending at buffer row {rows[-1]}"
        obs = buf.observations[rows, j]
        nxt = buf.next_observations[rows, j]
        if not np.array_equal(obs[1:], nxt[:-1]):
            raise DataError(
                f"{where}: next_observations of a step differs from the observation of the step after it "
                f"(rows {first}..{end} in time order); the buffer is not in SB3's layout"
            )
        out.append(
            (
                int(end),
                make_episode(
                    where,
                    info,
                    np.concatenate([obs, nxt[-1:]]),
                    buf.actions[rows, j],
                    buf.rewards[rows, j].astype(np.float64),
                    not bool(timeouts[end]),
                    bool(timeouts[end]),
                ),
            )
        )
    return out, leading, trailing


def import_sb3(src: str | Path, env_id: str, trust_pickle: bool = False) -> Dataset:
    """Read an SB3 replay buffer pickle; refuses unless `trust_pickle`, because unpickling runs code."""
    src = Path(src)
    if not trust_pickle:
        raise DataError(
            f"refusing to load {src}: SB3 replay buffers are pickles, and loading a pickle runs any code "
            f"in it; pass {FLAG} only if you trust where the file came from"
        )
    info = env_info(env_id)
    path = _resolve(src)
    buf = _unpickle(path)
    _check_buffer(buf, path)
    size, n_envs, pos = int(buf.buffer_size), int(buf.n_envs), int(buf.pos)
    order = np.r_[pos:size, 0:pos] if buf.full else np.arange(pos)
    found: list[tuple[int, int, Episode]] = []
    leading = trailing = 0
    for j in range(n_envs):
        eps, lead, trail = _column_episodes(buf, order, j, info, path)
        found += [(end, j, ep) for end, ep in eps]
        leading, trailing = leading + lead, trailing + trail
    episodes = [ep for _, _, ep in sorted(found, key=lambda x: (x[0], x[1]))]
    if not episodes:
        raise DataError(
            f"{path}: no complete episode in the buffer ({order.size} steps per env, {leading + trailing} "
            "fragments); collect more steps or use a larger buffer"
        )
    extra = {
        "incomplete_episodes_dropped": leading + trailing,
        "sb3_buffer": {
            "class": type(buf).__name__,
            "buffer_size": size,
            "n_envs": n_envs,
            "full": bool(buf.full),
            "pos": pos,
            "timeouts_recorded": bool(getattr(buf, "handle_timeout_termination", False)),
            "leading_fragments_dropped": leading,
            "trailing_fragments_dropped": trailing,
        },
    }
    return imported_dataset(info, episodes, FORMAT, path, extra)
