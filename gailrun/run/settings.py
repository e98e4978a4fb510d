"""Which config nodes each algorithm's settings come from; `settings_from` reads the fields by name."""

from __future__ import annotations

from omegaconf import DictConfig

from gailrun.algos.bc.cloning import BCSettings
from gailrun.algos.gail.hook import GailSettings
from gailrun.algos.ppo.update import PPOSettings
from gailrun.config.settings import settings_from


def ppo_settings(cfg: DictConfig) -> PPOSettings:
    return settings_from(PPOSettings, cfg.algo, cfg.ppo_opts)


def gail_settings(cfg: DictConfig) -> GailSettings:
    """The discriminator's optimizer (`disc.lr`, `disc.betas`) before the policy's keys of the same name."""
    return settings_from(GailSettings, cfg.disc, cfg.algo.d_early_stop, cfg.algo)


def bc_settings(cfg: DictConfig) -> BCSettings:
    """algo=bc's own epochs, batch size, learning rate and validation share."""
    return settings_from(BCSettings, cfg.algo)


def bc_pretrain_settings(cfg: DictConfig) -> BCSettings:
    """BC before RL (`algo.bc_pretrain_epochs`, `algo.bc_pretrain.*`)."""
    return settings_from(BCSettings, {"epochs": cfg.algo.bc_pretrain_epochs}, cfg.algo.bc_pretrain)
