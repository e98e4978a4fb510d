"""Every bad input gailrun was tried with: the command, the message it must give, and what must survive.

`tests/cli/test_bad_inputs.py` runs each case; `docs/bad-inputs.md` is generated from this list
(`python -m tests.bad_inputs > docs/bad-inputs.md`) and a test checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

ASSETS = Path(__file__).resolve().parent.parent / "gailrun" / "assets"
CARTPOLE_CKPT = ASSETS / "experts" / "cartpole-ppo.pt"
LUNAR_DATA = ASSETS / "datasets" / "gailrun" / "lunarlander-ppo-v0"
CARTPOLE_DATA = ASSETS / "datasets" / "gailrun" / "cartpole-ppo-v0"
TINY = [
    "env=cartpole",
    "env.num_envs=2",
    "algo.num_steps=64",
    "train.total_steps=256",
    "final_eval.episodes=0",
]


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # the bad input, in words
    args: Callable[[Path], list[str]]  # CLI arguments, given a scratch directory with the inputs
    message: str  # a fragment of the one-line error
    setup: Callable[[Path], None] = lambda d: None
    one_line: bool = True  # Hydra's own messages span several lines and are passed through unchanged
    file_size_limit: int | None = None  # RLIMIT_FSIZE of the command: writes past it fail as on a full disk
    may_change: tuple[str, ...] = ()  # files the failed command may rewrite (its status.json)


def _copy_ckpt(d: Path, mangle: Callable[[bytes], bytes]) -> None:
    (d / "bad.pt").write_bytes(mangle(CARTPOLE_CKPT.read_bytes()))


def _pickled_code(d: Path) -> None:
    import os

    torch.save({"format": "gailrun-checkpoint", "x": os.system}, d / "bad.pt")


def _nan_dataset(d: Path) -> None:
    import shutil

    shutil.copytree(CARTPOLE_DATA, d / "demos")
    with h5py.File(d / "demos" / "data" / "main_data.hdf5", "r+") as f:
        f["episode_0/observations"][3, 0] = np.nan


def _trained_run(d: Path) -> None:
    from tests.helpers import run_cli

    out = run_cli("train", *TINY, "train.checkpoint_every=1", f"hydra.run.dir={d / 'run'}")
    assert out.returncode == 0, out.stderr


def _mangled_optimizer_state(d: Path) -> None:
    _trained_run(d)
    path = sorted((d / "run" / "checkpoints").glob("state-*.pt"))[-1]
    state = torch.load(path, weights_only=True)
    state["loop"]["ppo"]["optimizer"]["exp_avg"] = torch.zeros(3)
    torch.save(state, path)


CASES: list[Case] = [
    Case(
        "unknown-key",
        "a key that does not exist",
        lambda d: ["train", "algo.lrr=0.1"],
        "Could not override 'algo.lrr'",
        one_line=False,
    ),
    Case(
        "unknown-option",
        "a config group option that does not exist",
        lambda d: ["train", "env=atari"],
        "Could not find 'env/atari'",
        one_line=False,
    ),
    Case(
        "mistyped-int",
        "a value of the wrong type",
        lambda d: ["train", "train.total_steps=abc"],
        "could not be converted to Integer",
        one_line=False,
    ),
    Case(
        "mistyped-bool",
        "a switch that is not a boolean",
        lambda d: ["train", "ppo_opts.value_clip=maybe"],
        "is not a valid bool",
        one_line=False,
    ),
    Case(
        "unknown-gradient",
        "an unknown way to compute PPO's gradient",
        lambda d: ["train", *TINY, "algo.grad=numeric", f"hydra.run.dir={d / 'run'}"],
        "algo.grad='numeric' is unknown; choose analytic or autograd",
    ),
    Case(
        "unwritable-output",
        "an output directory that cannot be written",
        lambda d: ["train", f"hydra.run.dir={d / 'file' / 'run'}"],
        "cannot write the output directory",
        setup=lambda d: (d / "file").write_text("not a directory"),
    ),
    Case(
        "missing-checkpoint",
        "a checkpoint path that does not exist",
        lambda d: ["eval", f"ckpt={d / 'no.pt'}"],
        "does not exist",
    ),
    Case(
        "truncated-checkpoint",
        "a truncated checkpoint",
        lambda d: ["eval", f"ckpt={d / 'bad.pt'}"],
        "is corrupt or truncated",
        setup=lambda d: _copy_ckpt(d, lambda b: b[: len(b) // 2]),
    ),
    Case(
        "garbage-checkpoint",
        "a file that is not a checkpoint at all",
        lambda d: ["eval", f"ckpt={d / 'bad.pt'}"],
        "not a torch zip archive",
        setup=lambda d: _copy_ckpt(d, lambda b: b"hello" * 100),
    ),
    Case(
        "foreign-checkpoint",
        "a torch file that gailrun did not write",
        lambda d: ["eval", f"ckpt={d / 'bad.pt'}"],
        "is not a gailrun checkpoint",
        setup=lambda d: torch.save({"w": torch.zeros(2)}, d / "bad.pt"),
    ),
    Case(
        "pickled-code",
        "a checkpoint carrying pickled code (refused unless trust_checkpoint=true)",
        lambda d: ["eval", f"ckpt={d / 'bad.pt'}"],
        "contains pickled Python objects",
        setup=_pickled_code,
    ),
    Case(
        "checkpoint-other-env-eval",
        "evaluating a checkpoint on another env",
        lambda d: ["eval", f"ckpt={CARTPOLE_CKPT}", "env_id=LunarLander-v3"],
        "the checkpoint is for CartPole-v1",
    ),
    Case(
        "checkpoint-other-env-init",
        "starting training from a checkpoint of another env",
        lambda d: ["train", f"init_from={CARTPOLE_CKPT}", f"hydra.run.dir={d / 'run'}"],
        "is for CartPole-v1",
    ),
    Case(
        "init-raw-into-obs-norm",
        "starting a run that normalizes observations from a policy trained on raw ones",
        lambda d: [
            "train",
            *TINY,
            f"init_from={CARTPOLE_CKPT}",
            "ppo_opts.obs_norm=true",
            f"hydra.run.dir={d / 'run'}",
        ],
        "was trained on raw observations but this run normalizes them",
    ),
    Case(
        "unknown-relabel-order",
        "an unknown choice of which discriminator rewards GAIL's rollout",
        lambda d: ["train", *TINY, "algo=gail", "algo.relabel_with=later", f"hydra.run.dir={d / 'run'}"],
        "algo.relabel_with='later' is unknown; choose one of updated, collected",
    ),
    Case(
        "unknown-selection-criterion",
        "an unknown reward-free selection criterion",
        lambda d: ["train", *TINY, "algo=gail", "select.criterion=reward", f"hydra.run.dir={d / 'run'}"],
        "select.criterion='reward' is unknown; choose one of mmd, demo_nll, final_d",
    ),
    Case(
        "selection-spacing-with-max-episodes",
        "reward-free selection in a run that train.max_episodes ends, without select.every_steps",
        lambda d: ["train", *TINY, "algo=gail", "train.max_episodes=50", f"hydra.run.dir={d / 'run'}"],
        "set select.every_steps",
    ),
    Case(
        "resume-other-config",
        "resuming a run with a different config (another algo, env or setting)",
        lambda d: ["train", *TINY, "train.checkpoint_every=1", "algo.lr=0.1", f"hydra.run.dir={d / 'run'}"],
        "different config",
        setup=_trained_run,
    ),
    Case(
        "resume-edited-state",
        "resuming from a full-state checkpoint edited by hand (optimizer state of the wrong size)",
        lambda d: ["train", *TINY, "train.checkpoint_every=1", f"hydra.run.dir={d / 'run'}"],
        "the full-state checkpoint does not fit this run (optimizer state holds 3 values",
        setup=_mangled_optimizer_state,
        may_change=("run/status.json",),
    ),
    Case(
        "expert-other-env",
        "an expert dataset recorded on another env",
        lambda d: [
            "train",
            "algo=gail",
            "env=cartpole",
            f"expert.path={LUNAR_DATA}",
            f"hydra.run.dir={d / 'run'}",
        ],
        "was recorded on LunarLander-v3",
    ),
    Case(
        "expert-missing",
        "an expert dataset that does not exist",
        lambda d: ["train", "algo=bc", f"expert.path={d / 'nowhere'}", f"hydra.run.dir={d / 'run'}"],
        "does not exist",
    ),
    Case(
        "expert-nan",
        "an expert dataset with NaN values",
        lambda d: [
            "train",
            "algo=bc",
            "env=cartpole",
            f"expert.path={d / 'demos'}",
            f"hydra.run.dir={d / 'run'}",
        ],
        "NaN or inf",
        setup=_nan_dataset,
    ),
    Case(
        "expert-too-few",
        "fewer trajectories above min_score than n_samples asks for",
        lambda d: [
            "train",
            "algo=gail",
            "expert.min_score=290",
            "expert.n_samples=30",
            f"hydra.run.dir={d / 'run'}",
        ],
        "trajectories in",
    ),
    Case(
        "import-untrusted-pickle",
        "importing a Stable-Baselines3 pickle without --trust-pickle",
        lambda d: [
            "data",
            "import",
            "--from",
            "sb3",
            str(d / "buffer.pkl"),
            str(d / "out"),
            "--env",
            "CartPole-v1",
        ],
        "--trust-pickle",
        setup=lambda d: (d / "buffer.pkl").write_bytes(b"\x80\x04N."),
    ),
    Case(
        "disk-full",
        "the disk fills while a resumed run writes its checkpoint (a 20 kB file-size limit on the process)",
        lambda d: ["train", *TINY, "train.checkpoint_every=1", "resume=auto", f"hydra.run.dir={d / 'run'}"],
        "the previous file there is unchanged",
        setup=_trained_run,
        file_size_limit=20_000,
        may_change=("run/status.json",),
    ),
    Case(
        "diverged",
        "a run whose observations become NaN (a test env that breaks after 300 steps)",
        lambda d: [
            "train",
            *TINY,
            "env.id=tests.toy_envs:GailrunTest/NaNAfter-v0",
            "train.total_steps=4096",
            "train.save_every=1",
            f"hydra.run.dir={d / 'run'}",
        ],
        "non-finite observation from the environment",
    ),
]


def markdown() -> str:
    lines = [
        "# Bad input",
        "",
        "Every row is a test (`tests/cli/test_bad_inputs.py`, generated from `tests/bad_inputs.py`): the",
        "command exits 1 with the message shown, and leaves nothing behind but what existed before (a",
        "diverged run keeps its last good checkpoint and a failed status.json). Hydra's own messages for",
        "unknown or mistyped config are passed through unchanged (several lines); every other error is one",
        "line.",
        "",
        "| case | bad input | gailrun says (fragment) |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{c.name}` | {c.what} | `{c.message}` |" for c in CASES]
    lines += [
        "",
        "Also tested elsewhere: a failed write (full disk) leaves no temp file and the previous checkpoint",
        "intact (`tests/run/test_checkpoint.py`), a corrupt newest full-state checkpoint is skipped by",
        "`resume=auto` (`tests/run/test_resume.py`), malformed datasets in every import format",
        "(`tests/data/test_convert.py`).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
