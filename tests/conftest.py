from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from tests.toy_envs import register

register()
# One intra-op thread, as every gailrun job uses: OpenMP threads spin-waiting on a loaded 2-core machine
# make small-tensor ops two orders of magnitude slower.
torch.set_num_threads(1)
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@pytest.fixture
def make_cfg():
    """Compose the training config as the CLI would, for in-process tests (no Hydra run dir)."""

    def _make(*overrides: str, config_name: str = "train") -> DictConfig:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(config_name, overrides=list(overrides))

    return _make
