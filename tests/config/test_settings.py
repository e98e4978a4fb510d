from __future__ import annotations

from dataclasses import dataclass

import pytest

from gailrun.config.settings import settings_from
from gailrun.errors import GailrunError
from gailrun.run.settings import bc_pretrain_settings, bc_settings, gail_settings, ppo_settings


@dataclass(frozen=True)
class Toy:
    lr: float
    betas: tuple[float, float]
    target: float | None


def test_fields_come_by_name_from_the_first_node_that_has_them():
    toy = settings_from(Toy, {"lr": 1}, {"lr": 0.5, "betas": [0.9, 0.99], "target": None})
    assert toy == Toy(lr=1.0, betas=(0.9, 0.99), target=None)
    assert isinstance(toy.lr, float)


def test_a_missing_key_or_a_null_where_a_value_is_needed_fails():
    with pytest.raises(GailrunError, match=r"Toy.target: no config key"):
        settings_from(Toy, {"lr": 1.0, "betas": [0.9, 0.99]})
    with pytest.raises(GailrunError, match=r"Toy.lr is null"):
        settings_from(Toy, {"lr": None, "betas": [0.9, 0.99], "target": None})


def test_every_algorithm_builds_its_settings_from_the_composed_config(make_cfg):
    ppo = ppo_settings(make_cfg("algo=ppo", "ppo_opts=plus", "algo.lr=1"))
    assert (ppo.lr, ppo.betas, ppo.value_clip, ppo.policy_noclip) == (1.0, (0.9, 0.999), True, False)
    gail = gail_settings(make_cfg("algo=gail", "disc.lr=0.01", "algo.d_early_stop.expert_acc=0.9"))
    assert (gail.lr, gail.d_epochs, gail.expert_acc, gail.learner_acc) == (0.01, 1, 0.9, None)
    assert gail_settings(make_cfg("algo=infogail")).reward_form == "airl"
    assert bc_settings(make_cfg("algo=bc")).epochs == 100
    pre = bc_pretrain_settings(make_cfg("algo=gail", "algo.bc_pretrain_epochs=6"))
    assert (pre.epochs, pre.lr, pre.batch_size) == (6, 0.001, 64)
    with pytest.raises(GailrunError, match=r"GailSettings.reward_form is null"):
        gail_settings(make_cfg("algo=ppo"))


def test_a_required_value_left_missing_is_an_error_not_a_fallback():
    """`???` in an earlier node must not silently take a later node's value (no second default)."""
    from omegaconf import OmegaConf

    @dataclass(frozen=True)
    class Lr:
        lr: float

    with pytest.raises(GailrunError, match="lr is required"):
        settings_from(Lr, OmegaConf.create({"lr": "???"}), {"lr": 0.5})
    assert settings_from(Lr, OmegaConf.create({"other": 1}), {"lr": 1}) == Lr(lr=1.0)
