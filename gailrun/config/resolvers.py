"""OmegaConf resolvers used by conf/: `${gailrun.asset:PATH}` is PATH inside the package's bundled assets
(expert datasets and checkpoints), so configs find them from any working directory; `${gailrun.seeds:N}`
is the seed list of a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

ASSETS = Path(__file__).resolve().parents[1] / "assets"


# How a resolved path names a bundled asset, whichever checkout or cluster node resolved it.
ASSET_MARK = "gailrun/assets/"


def asset(relative: str) -> str:
    return str(ASSETS / relative)


def portable(value: Any) -> Any:
    """`value` (a resolved config or part of one) with bundled assets named by their place in the package:
    the same dataset resolved from two checkouts, or two cluster nodes, is the same configuration."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, str) and ASSET_MARK in value:
        return "asset:" + value.split(ASSET_MARK, 1)[1]
    return value


def seed_list(n: int | str) -> str:
    """`${gailrun.seeds:3}` -> "1,2,3": the seed axis of a sweep, so `seeds=N` sets how many."""
    count = int(n)
    if count < 1:
        raise ValueError(f"seeds must be at least 1, got {count}")
    return ",".join(str(i) for i in range(1, count + 1))


def n_samples(algo_choice: object, env_default: object) -> object:
    """`algo.expert_n_samples` is "env" (use the env's default draw) or a number / null (all)."""
    return env_default if algo_choice == "env" else algo_choice


def register_resolvers() -> None:
    resolvers = {"gailrun.asset": asset, "gailrun.seeds": seed_list, "gailrun.n_samples": n_samples}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    from gailrun.config.schema import register_schemas

    register_schemas()
