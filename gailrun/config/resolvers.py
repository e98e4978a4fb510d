"""OmegaConf resolvers used by conf/: `${gailrun.asset:PATH}` is PATH inside the package's bundled assets
(expert datasets and checkpoints), so configs find them from any working directory; `${gailrun.seeds:N}`
is the seed list of a sweep."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def asset(relative: str) -> str:
    return str(ASSETS / relative)


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
