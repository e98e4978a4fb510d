"""OmegaConf resolvers used by conf/: `${gailrun.asset:PATH}` is PATH inside the package's bundled assets
(expert datasets and checkpoints), so configs find them from any working directory."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

ASSETS = Path(__file__).resolve().parent / "assets"


def asset(relative: str) -> str:
    return str(ASSETS / relative)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("gailrun.asset"):
        OmegaConf.register_new_resolver("gailrun.asset", asset)
