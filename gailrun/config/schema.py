"""Typed schema of the training config, registered with Hydra's ConfigStore: the one place where its
defaults are written.

conf/train.yaml starts from it, so Hydra itself rejects a mistyped value (`train.total_steps=abc`,
`ppo_opts.value_clip=maybe`) or an unknown key while composing, with its own message and exit code 1,
before a run directory exists. The YAML files of conf/ hold only what differs from these defaults: an
env's id and demonstrations, an algorithm's own keys (None here: conf/algo/gail.yaml, infogail.yaml and
bc.yaml set them), a variant's changes. `gailrun.config.settings.settings_from` turns the composed nodes
into the algorithms' frozen settings without defaults of its own.
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
    """The env's bundled demonstrations (make experts), the `expert` group's defaults."""

    dataset: Optional[str] = None
    min_score: Optional[float] = None
    n_samples: Optional[int] = None


@dataclass
class Shaping:
    """A style bonus weight * (1 - min(|x - target|, 1)) on obs[0]; weight 0: off."""

    target: float = 0.0
    weight: float = 0.0


@dataclass
class Env:
    id: str = MISSING
    num_envs: int = 8  # rollout = num_envs * algo.num_steps (LunarLander: 2048, the study's memory size)
    # gymnasium | envpool (C++ envs in `workers` threads; pip install -e '.[envpool]').
    backend: str = "gymnasium"
    vectorization: str = "sync"  # sync | subproc (envs split over `workers` processes, same results) | async
    workers: int = 2  # subproc processes / envpool threads
    # Training-time cap (the LunarLander study used 300, defect 5); evaluation uses the env's own limit.
    max_episode_steps: Optional[int] = None
    solved_return: Optional[float] = None
    demos: Demos = field(default_factory=Demos)
    shaping: Shaping = field(default_factory=Shaping)


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
    """PPO as in the original LunarLander study (EXPERIMENTS.md section 1), without its defects; GAIL,
    InfoGAIL and BC add their own keys (conf/algo/). The switches live in `PPOOpts`, their numbers here."""

    name: str = MISSING
    hidden: List[int] = field(default_factory=lambda: [64, 64])  # actor and critic, separate networks
    activation: str = "tanh"
    num_steps: int = 256  # steps per env per rollout
    num_epochs: int = 4
    minibatch_size: int = 32
    lr: float = 0.002
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1e-8
    anneal_lr: bool = False  # linear decay to 0 over train.total_steps
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.001
    vf_coef: float = 0.5
    norm_adv: bool = True  # standardize advantages per minibatch
    target_kl: Optional[float] = None  # stop the epochs of an update once approx KL exceeds this
    max_grad_norm: float = 0.5  # used when ppo_opts.grad_clip
    # Used when ppo_opts.value_clip; in units of the return's running std (defect 4).
    value_clip_eps: float = 0.2
    reward_clip: float = 5.0  # used when ppo_opts.reward_clip; applied after scaling
    obs_clip: float = 10.0  # used when ppo_opts.obs_norm
    # BC epochs on the expert data (expert group) before RL; the study tried 6 and 100.
    bc_pretrain_epochs: int = 0
    # First updates train only the critic (and GAIL's discriminator); the policy waits.
    warmup_updates: int = 0
    bc_weight: float = 0.0  # weight of a BC loss on expert minibatches added to every PPO minibatch (BC+GAIL)
    compile: bool = False  # torch.compile the minibatch loss (rounding differs; speed in bench/RESULTS.md)
    # analytic: hand-written NumPy gradient for MLPs (gailrun/algos/ppo/fast_grad.py); autograd: torch's
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
    """The seven code-level switches, all off: PPO-M (policy clipping only; the study's 278.7 +- 17.2)."""

    value_clip: bool = False  # clipped value loss
    reward_clip: bool = False  # clip rewards to +-algo.reward_clip
    reward_std: bool = False  # divide rewards by the running std of the discounted return
    obs_norm: bool = False  # running mean/std observation normalization, clipped to +-algo.obs_clip
    ortho_init: bool = False  # orthogonal init, sqrt(2) hidden, 0.01 policy head, 1.0 value head
    grad_clip: bool = False  # clip the global gradient norm to algo.max_grad_norm
    policy_noclip: bool = False  # plain surrogate, no ratio clipping


@dataclass
class Expert:
    """Demonstrations for gail and bc: a Minari dataset, a return filter and a seeded draw; by default the
    env's bundled ones (`env.demos`)."""

    # A Minari dataset directory (or its data/ dir).
    path: Optional[str] = "${oc.select:env.demos.dataset,null}"
    min_score: Optional[float] = "${oc.select:env.demos.min_score,null}"  # keep returns >= this (null: all)
    # How many trajectories to draw (null: all): algo.expert_n_samples, where "env" means env.demos.n_samples.
    n_samples: Optional[int] = (
        "${gailrun.n_samples:${algo.expert_n_samples},${oc.select:env.demos.n_samples,null}}"
    )
    seed: int = 0  # seed of the draw


@dataclass
class Disc:
    """GAIL's discriminator: OpenAI baselines' default and the study's base GAIL (227.0)."""

    hidden: List[int] = field(default_factory=lambda: [100, 100])
    activation: str = "tanh"
    lr: float = 0.002
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class Wandb:
    """Types only: conf/logger/wandb.yaml holds the values, since eval and collect-expert use it too."""

    mode: str = MISSING
    project: str = MISSING
    entity: Optional[str] = MISSING
    group: Optional[str] = MISSING
    name: Optional[str] = MISSING
    tags: List[str] = MISSING


@dataclass
class Logger:
    csv: Optional[Dict[str, Any]] = None
    tensorboard: Optional[Dict[str, Any]] = None
    wandb: Optional[Wandb] = None


@dataclass
class TrainLoop:
    total_steps: int = 1_000_000  # env steps (autoreset steps excluded)
    # Stop after this many training episodes (the study used 1000 and 5000).
    max_episodes: Optional[int] = None
    # Stop once the average of the last avg_window episodes reaches this.
    target_return: Optional[float] = None
    avg_window: int = 100
    min_episodes_for_best: int = 10
    save_every: int = 10  # updates between last.pt writes
    checkpoint_every: int = 10  # updates between full-state checkpoints (checkpoints/state-*.pt); 0: none
    checkpoint_every_steps: Optional[int] = None  # or env steps between them (also), e.g. 100000
    keep_checkpoints: int = 3  # full-state checkpoints kept
    progress: bool = True
    # Every this many env steps, evaluate the current policy (eval/return_mean, eval/return_std).
    eval_every_steps: Optional[int] = None
    eval_episodes: int = 10  # deterministic episodes of each periodic evaluation
    eval_seed: int = 4242  # its envs' seed: the same start states every time, none of the final evaluation's


@dataclass
class Select:
    """Reward-free model selection (gail, infogail): the headline best_rf.pt (gailrun/run/selection.py)."""

    # Candidate snapshots over train.total_steps (also the first and last policy); 0: off.
    candidates: int = 20
    # Or one every this many env steps (needed when train.max_episodes ends it).
    every_steps: Optional[int] = None
    episodes: int = 10  # deterministic episodes each candidate plays (their rewards are never read)
    seed: int = 4343  # their envs' seed, none of training's, the periodic or the final evaluation's
    criterion: str = "mmd"  # mmd | demo_nll | final_d: which criterion chooses best_rf.pt
    max_pairs: int = 1000  # state-action pairs per side of the MMD (seeded subsample)


@dataclass
class FinalEval:
    """Evaluation of the best checkpoints when training ends (eval.json beside best.pt, eval_<name>.json)."""

    episodes: int = 100
    seed: int = 9999
    stochastic: bool = False  # sample actions instead of taking the argmax
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
    seeds: int = 3  # sweeps (conf/experiment) run seeds 1..seeds for every configuration
    budget: str = "full"  # sweeps: full | reduced (finishes on two cores) | smoke (seconds, for tests)
    budgets: Dict[str, Any] = field(default_factory=dict)
    torch_threads: int = 1  # one thread per process: small MLPs only lose to thread contention
    torch_deterministic: bool = True  # torch.use_deterministic_algorithms (README: what is reproducible)
    init_from: Optional[str] = None  # start the policy from a checkpoint (e.g. a BC run); the env must match
    # auto: continue from the newest valid checkpoints/state-*.pt of the run dir | PATH | null
    resume: Optional[str] = "auto"
    train: TrainLoop = field(default_factory=TrainLoop)
    select: Select = field(default_factory=Select)
    final_eval: FinalEval = field(default_factory=FinalEval)


def register_schemas() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
