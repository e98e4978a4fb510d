"""`env.vectorization=subproc`: the envs split over a few worker processes, each stepping its share with
Gymnasium's own SyncVectorEnv.

On two cores, one process per env (Gymnasium's AsyncVectorEnv) spends more on pipes and context switches
than it saves; two workers of eight envs halve the stepping time. Env i is seeded exactly as in a single
SyncVectorEnv (seed + i), so every env's trajectory is bit-identical to `sync` mode: only the wall time
differs. Workers also answer the replay log's calls (RNG snapshots, episode replay) so runs stay resumable.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from gailrun.envs.replay import replay_episodes
from gailrun.errors import GailrunError
from gailrun.run.rng import generator_state


def _worker(conn: Connection, fns: Sequence[Callable[[], gym.Env]]) -> None:
    envs = SyncVectorEnv(list(fns), autoreset_mode=AutoresetMode.NEXT_STEP)
    try:
        while True:
            cmd, arg = conn.recv()
            if cmd == "step":
                obs, rew, term, trunc, _ = envs.step(arg)
                conn.send((obs, rew, term, trunc))
            elif cmd == "reset":
                obs, _ = envs.reset(seed=arg)
                conn.send(obs)
            elif cmd == "rng":
                conn.send([generator_state(envs.envs[i].np_random) for i in arg])
            elif cmd == "replay":
                conn.send(replay_episodes(envs, *arg))
            elif cmd == "close":
                break
    finally:
        envs.close()
        conn.close()


class SubprocVectorEnv(VectorEnv):
    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], workers: int = 2) -> None:
        n = len(env_fns)
        workers = max(1, min(int(workers), n))
        probe = env_fns[0]()
        self.single_observation_space, self.single_action_space = probe.observation_space, probe.action_space
        self.metadata = {**probe.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        probe.close()
        self.num_envs = n
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n)
        bounds = np.linspace(0, n, workers + 1).round().astype(int)
        self.slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        ctx = mp.get_context("fork")
        self.conns: list[Connection] = []
        self.procs = []
        for sl in self.slices:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, env_fns[sl]), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.closed = False

    def _all(self, msgs: Sequence[tuple[str, Any]]) -> list[Any]:
        for conn, msg in zip(self.conns, msgs, strict=True):
            conn.send(msg)
        try:
            return [conn.recv() for conn in self.conns]
        except EOFError as exc:
            raise GailrunError("an env worker process died; see its error above") from exc

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        parts = self._all([("reset", None if seed is None else seed + sl.start) for sl in self.slices])
        return np.concatenate(parts), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions)
        parts = self._all([("step", actions[sl]) for sl in self.slices])
        obs, rew, term, trunc = (np.concatenate(x) for x in zip(*parts, strict=True))
        return obs, rew, term, trunc, {}

    # ----- what the replay log needs (see gailrun/envs/replay.py) -------------------------------------------
    def rng_states(self, indices: Sequence[int]) -> dict[int, dict]:
        by_worker: list[list[int]] = [
            [i - sl.start for i in indices if sl.start <= i < sl.stop] for sl in self.slices
        ]
        answers = self._all([("rng", local) for local in by_worker])
        out = {}
        for sl, local, states in zip(self.slices, by_worker, answers, strict=True):
            out.update({sl.start + j: s for j, s in zip(local, states, strict=True)})
        return out

    def replay(self, starts: list[dict], actions: list[list[int]], autoreset: np.ndarray) -> np.ndarray:
        parts = self._all([("replay", (starts[sl], actions[sl], autoreset[sl])) for sl in self.slices])
        return np.concatenate(parts)

    def close_extras(self, **kwargs: Any) -> None:
        if self.closed:
            return
        self.closed = True
        for conn in self.conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(("close", None))
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
