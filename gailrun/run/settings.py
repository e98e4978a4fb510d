"""Each algorithm's settings, built once from the composed config: the config's keys (`algo.*`,
`ppo_opts.*`, `disc.*`) become the typed, frozen settings the algorithms take."""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import DictConfig

from gailrun.algos.bc.cloning import BCSettings
from gailrun.algos.gail.hook import GailSettings
from gailrun.algos.ppo.update import PPOSettings


def as_float_tuple(x: object) -> tuple[float, float]:
    arr = np.asarray(x, dtype=float).reshape(-1)
    return (float(arr[0]), float(arr[1]))


def ppo_settings(cfg: DictConfig) -> PPOSettings:
    a, o = cfg.algo, cfg.ppo_opts
    return PPOSettings(
        lr=float(a.lr),
        betas=as_float_tuple(a.betas),
        adam_eps=float(a.adam_eps),
        num_epochs=int(a.num_epochs),
        minibatch_size=int(a.minibatch_size),
        clip_eps=float(a.clip_eps),
        ent_coef=float(a.ent_coef),
        vf_coef=float(a.vf_coef),
        norm_adv=bool(a.norm_adv),
        target_kl=None if a.target_kl is None else float(a.target_kl),
        max_grad_norm=float(a.max_grad_norm),
        value_clip_eps=float(a.value_clip_eps),
        policy_noclip=bool(o.policy_noclip),
        value_clip=bool(o.value_clip),
        grad_clip=bool(o.grad_clip),
        compile=bool(a.get("compile", False)),
        anneal_lr=bool(a.anneal_lr),
        warmup_updates=int(a.warmup_updates),
        grad=str(a.get("grad", "analytic")),
    )


def gail_settings(cfg: DictConfig) -> GailSettings:
    a, d = cfg.algo, cfg.disc
    return GailSettings(
        reward_form=str(a.reward_form),
        absorbing=a.absorbing,  # GailSettings checks it (booleans allowed)
        dstep=int(a.dstep),
        epochs=int(a.d_epochs),
        lr=float(d.lr),
        betas=as_float_tuple(d.betas),
        expert_sampler=str(a.expert_sampler),
        grad_penalty=float(a.grad_penalty),
        early_stop_expert_acc=None if a.d_early_stop.expert_acc is None else float(a.d_early_stop.expert_acc),
        early_stop_learner_acc=None
        if a.d_early_stop.learner_acc is None
        else float(a.d_early_stop.learner_acc),
        gamma=float(a.gamma),
        relabel_with=str(a.relabel_with),
    )


def bc_settings(node: Any, epochs: int) -> BCSettings:
    return BCSettings(
        epochs=epochs,
        batch_size=int(node.batch_size),
        lr=float(node.lr),
        val_fraction=float(node.val_fraction),
    )
