"""The policy a run starts from: actor-critic networks and observation normalizer built from the config,
optionally initialized from a trained checkpoint (`init_from`)."""

from __future__ import annotations

from omegaconf import DictConfig

from gailrun.envs.make import EnvInfo
from gailrun.errors import CheckpointError
from gailrun.models.networks import ActorCritic
from gailrun.models.policy import load_policy
from gailrun.rollout.normalize import ObsNormalizer
from gailrun.run.loops import n_codes_of


def build_agent(cfg: DictConfig, info: EnvInfo) -> tuple[ActorCritic, ObsNormalizer]:
    agent = ActorCritic(
        info.obs_dim + n_codes_of(cfg),
        info.n_actions,
        hidden=tuple(int(h) for h in cfg.algo.hidden),
        activation=str(cfg.algo.activation),
        ortho_init=bool(cfg.ppo_opts.ortho_init),
    )
    obs_norm = ObsNormalizer(info.obs_dim, enabled=bool(cfg.ppo_opts.obs_norm), clip=float(cfg.algo.obs_clip))
    if cfg.init_from:
        init_from_checkpoint(str(cfg.init_from), agent, obs_norm, info)
    return agent, obs_norm


def init_from_checkpoint(path: str, agent: ActorCritic, obs_norm: ObsNormalizer, info: EnvInfo) -> None:
    """Start from a trained policy (e.g. BC, as in the original study's PPO-from-BC run)."""
    src = load_policy(path)
    info.check_fits(
        f"init_from={path} is for",
        src.env_id,
        src.agent.obs_dim,
        range(src.agent.n_actions),
        fix="pick a checkpoint of this env",
        error=CheckpointError,
    )
    try:
        agent.actor.load_state_dict(src.agent.actor.state_dict())
        agent.critic.load_state_dict(src.agent.critic.state_dict())
    except RuntimeError as exc:
        raise CheckpointError(
            f"init_from={path} has different network sizes; "
            f"set algo.hidden to {src.checkpoint['network']['hidden']}"
        ) from exc
    if obs_norm.enabled and not src.obs_norm.enabled:
        raise CheckpointError(
            f"init_from={path} was trained on raw observations but this run normalizes them "
            "(ppo_opts.obs_norm=true): the policy would see inputs it never saw; set ppo_opts.obs_norm=false"
        )
    if src.obs_norm.enabled:
        obs_norm.enabled = True
        obs_norm.rms.load_state_dict(src.obs_norm.rms.state_dict())


def network_cfg(cfg: DictConfig) -> dict:
    return {"hidden": [int(h) for h in cfg.algo.hidden], "activation": str(cfg.algo.activation)}
