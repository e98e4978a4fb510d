"""Typed schema of the training config, registered with Hydra's ConfigStore.

conf/train.yaml starts from it, so Hydra itself rejects a mistyped value (`train.total_steps=abc`,
`ppo_opts.value_clip=maybe`) or an unknown key while composing, with its own message and exit code 1,
before a run directory exists. YAML files stay the place where defaults are written; this only says what
type each key has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# OmegaConf evaluates these annotations at runtime; keep them in the typing-module spelling it supports.
List = list
Dict = dict


@dataclass
class Demos:
    dataset: Optional[str] = None
    min_score: Optional[float] = None
    n_samples: Optional[int] = None


@dataclass
class Shaping:
    target: float = 0.0
    weight: float = 0.0


@dataclass
class Env:
    id: str = MISSING
    num_envs: int = 8
    backend: str = "gymnasium"
    vectorization: str = "sync"
    workers: int = 2
    max_episode_steps: Optional[int] = None
    solved_return: Optional[float] = None
    demos: Demos = field(default_factory=Demos)
    shaping: Shaping = field(default_factory=Shaping)  # weight 0: off


@dataclass
class BCPretrain:
    batch_size: int = 64
    lr: float = 0.001
    val_fraction: float = 0.1


@dataclass
class EarlyStop:
    expert_acc: Optional[float] = None
    learner_acc: Optional[float] = None


@dataclass
class Algo:
    name: str = MISSING
    hidden: List[int] = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    num_steps: int = 256
    num_epochs: int = 4
    minibatch_size: int = 32
    lr: float = 0.002
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1e-8
    anneal_lr: bool = False
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.001
    vf_coef: float = 0.5
    norm_adv: bool = True
    target_kl: Optional[float] = None
    max_grad_norm: float = 0.5
    value_clip_eps: float = 0.2
    reward_clip: float = 5.0
    obs_clip: float = 10.0
    bc_pretrain_epochs: int = 0
    warmup_updates: int = 0
    bc_weight: float = 0.0
    compile: bool = False
    grad: str = "analytic"
    bc_pretrain: BCPretrain = field(default_factory=BCPretrain)
    # "env": draw the env's default number of expert trajectories; null: all of them (algo=bc).
    expert_n_samples: Any = "env"
    # GAIL (algo=gail)
    reward_form: Optional[str] = None
    absorbing: Any = None
    dstep: Optional[int] = None
    d_epochs: Optional[int] = None
    expert_sampler: Optional[str] = None
    grad_penalty: Optional[float] = None
    relabel_with: Optional[str] = None
    d_early_stop: EarlyStop = field(default_factory=EarlyStop)
    # InfoGAIL (algo=infogail)
    n_codes: Optional[int] = None
    info_weight: Optional[float] = None
    posterior: Optional[Dict[str, Any]] = None
    # BC (algo=bc)
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    val_fraction: Optional[float] = None


@dataclass
class PPOOpts:
    value_clip: bool = False
    reward_clip: bool = False
    reward_std: bool = False
    obs_norm: bool = False
    ortho_init: bool = False
    grad_clip: bool = False
    policy_noclip: bool = False


@dataclass
class Expert:
    path: Optional[str] = None
    min_score: Optional[float] = None
    n_samples: Optional[int] = None
    seed: int = 0


@dataclass
class Disc:
    hidden: List[int] = field(default_factory=lambda: [100, 100])
    activation: str = "tanh"
    lr: float = 0.002
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class Wandb:
    mode: str = "auto"
    project: str = "gailrun"
    entity: Optional[str] = None
    group: Optional[str] = None
    name: Optional[str] = None
    tags: List[str] = field(default_factory=list)


@dataclass
class Logger:
    csv: Optional[Dict[str, Any]] = None
    tensorboard: Optional[Dict[str, Any]] = None
    wandb: Optional[Wandb] = None


@dataclass
class TrainLoop:
    total_steps: int = 1_000_000
    max_episodes: Optional[int] = None
    target_return: Optional[float] = None
    avg_window: int = 100
    min_episodes_for_best: int = 10
    save_every: int = 10
    checkpoint_every: int = 10
    checkpoint_every_steps: Optional[int] = None
    keep_checkpoints: int = 3
    progress: bool = True
    eval_every_steps: Optional[int] = None
    eval_episodes: int = 10
    eval_seed: int = 4242


@dataclass
class Select:
    candidates: int = 20
    every_steps: Optional[int] = None
    episodes: int = 10
    seed: int = 4343
    criterion: str = "mmd"
    max_pairs: int = 1000


@dataclass
class FinalEval:
    episodes: int = 100
    seed: int = 9999
    stochastic: bool = False
    num_envs: int = 10


@dataclass
class TrainConfig:
    env: Env = field(default_factory=Env)
    algo: Algo = field(default_factory=Algo)
    ppo_opts: PPOOpts = field(default_factory=PPOOpts)
    expert: Expert = field(default_factory=Expert)
    disc: Disc = field(default_factory=Disc)
    logger: Logger = field(default_factory=Logger)
    seed: Optional[int] = 1
    seeds: int = 3
    budget: str = "full"
    budgets: Dict[str, Any] = field(default_factory=dict)
    torch_threads: int = 1
    torch_deterministic: bool = True
    init_from: Optional[str] = None
    resume: Optional[str] = "auto"
    train: TrainLoop = field(default_factory=TrainLoop)
    select: Select = field(default_factory=Select)
    final_eval: FinalEval = field(default_factory=FinalEval)


def register_schemas() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
