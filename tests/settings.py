"""Settings objects for unit tests, with the config's own defaults: the schema's, and the algorithm's
conf/algo/ file for the keys only it sets. `given` overrides fields by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gailrun.algos.bc.cloning import BCSettings
from gailrun.algos.gail.hook import GailSettings
from gailrun.algos.ppo.update import PPOSettings
from gailrun.config.schema import Algo, Disc, EarlyStop, PPOOpts
from gailrun.config.settings import settings_from

ALGO_CONF = Path(__file__).resolve().parent.parent / "conf" / "algo"


def algo_file(name: str) -> DictConfig:
    node = OmegaConf.load(ALGO_CONF / f"{name}.yaml")
    assert isinstance(node, DictConfig)
    return node


def ppo_settings(**given: Any) -> PPOSettings:
    return settings_from(PPOSettings, given, Algo(), PPOOpts())


def gail_settings(**given: Any) -> GailSettings:
    return settings_from(GailSettings, given, Disc(), EarlyStop(), algo_file("gail"), Algo())


def bc_settings(**given: Any) -> BCSettings:
    return settings_from(BCSettings, given, algo_file("bc"))
