"""The real learning checks, in one place: each one's command, what it measures and the thresholds.

`tests/test_learning.py` runs them (some seeds in `make test`, the rest with the slow marker) and
`bench/learning_seeds.py` runs every check over the seeds and CPU kernel settings below, so that a threshold
is a property that held with margin on every seed and kernel tried, not one trajectory's value. Other CPUs
round differently (torch's kernels, OpenBLAS's), and after some hundreds of updates a run follows another
trajectory: `KERNELS` emulates that on one machine (with `avx2`, the GAIL check of c79d878 failed with the
exact numbers an AMD EPYC machine gave).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.helpers import run_cli

# Environment variables that select other CPU kernels: torch's (ATEN_CPU_CAPABILITY) and OpenBLAS's, which
# NumPy's matmul (the hand-written PPO gradient, the rollout's sampler) uses. "native" is the machine's own.
KERNELS: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "Prescott"},
}
EVAL_EPISODES, EVAL_SEED = 100, 9999


def evaluate_checkpoint(path: Path, episodes: int = EVAL_EPISODES, code: int | None = None) -> dict:
    """Deterministic evaluation of a checkpoint (seed 9999), as `gailrun eval` does it."""
    from gailrun.models.policy import load_policy
    from gailrun.run.evaluate import evaluate

    result = evaluate(load_policy(path), episodes=episodes, seed=EVAL_SEED, code=code)
    return {"mean": result.mean, "std": result.std, "min": float(np.min(result.returns))}


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _last_metrics(run_dir: Path, names: tuple[str, ...], rows: int = 5) -> dict[str, float]:
    """Mean of each metric over the last `rows` rows of metrics.csv that have it."""
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    out = {}
    for name in names:
        i = header.index(name)
        values = [float(row.split(",")[i]) for row in lines[1:] if row.split(",")[i] not in ("", "nan")]
        out[name] = float(np.mean(values[-rows:])) if values else math.nan
    return out


def measure_ppo(run_dir: Path) -> dict[str, float]:
    return {"best.pt": _summary(run_dir)["final_eval"]["mean"]}


def measure_bc(run_dir: Path) -> dict[str, float]:
    return {
        "best.pt": _summary(run_dir)["final_eval"]["mean"],
        "last.pt": evaluate_checkpoint(run_dir / "last.pt")["mean"],
    }


def discriminator_gap(run_dir: Path) -> float:
    """Mean IRL return of the expert's demonstrations minus that of a policy that ignores the state (always
    pushes left), under the run's final discriminator: > 0 when D pays for imitation, not for a way of
    ending. A tendency (bench/learning_seeds.py reports it over seeds), not a guarantee of one run."""
    import torch

    from gailrun.algos.gail.discriminator import Discriminator
    from gailrun.algos.gail.reward import absorbing_mode, reward_from_logits
    from gailrun.data.collect import play_episodes
    from gailrun.data.minari_io import read_dataset

    ckpt = torch.load(run_dir / "last.pt", weights_only=True)
    cfg = ckpt["config"]
    absorbing, form, gamma = absorbing_mode(cfg["algo"]["absorbing"]), cfg["algo"]["reward_form"], 0.99
    state = ckpt["discriminator"]
    hidden = [state[k].shape[0] for k in sorted(state) if k.endswith("weight")][:-1]
    disc = Discriminator(4, 2, hidden=hidden, absorbing=absorbing)
    disc.load_state_dict(state)

    def irl_return(episodes) -> float:
        out = []
        with torch.no_grad():
            for ep in episodes:
                x = disc.inputs(torch.from_numpy(ep.observations[:-1]), torch.from_numpy(ep.actions))
                r = reward_from_logits(disc(x), form).numpy().astype(np.float64)
                if absorbing != "none" and ep.terminations[-1]:
                    final = torch.from_numpy(ep.observations[-1:])
                    x_abs = disc.inputs(final, torch.zeros(1, dtype=torch.long), torch.ones(1))
                    r[-1] += gamma * float(reward_from_logits(disc(x_abs), form)[0]) / (1 - gamma)
                out.append(r.sum())
        return float(np.mean(out))

    demos = read_dataset(cfg["expert"]["path"]).episodes[:10]
    ignoring = play_episodes(lambda obs: np.zeros(1, dtype=np.int64), "CartPole-v1", 10, seed=0)
    return irl_return(demos) - irl_return(ignoring)


def measure_gail(run_dir: Path) -> dict[str, float]:
    summary = _summary(run_dir)
    evals = summary["evaluations"]
    return {
        "best_avg100": summary["best/charts/avg100_return"],
        "last_avg100": summary["last/charts/avg100_return"],
        "best.pt": evals["best.pt"]["mean"],
        "best_irl.pt": evals["best_irl.pt"]["mean"],
        "last.pt": evaluate_checkpoint(run_dir / "last.pt")["mean"],
        "d_gap": discriminator_gap(run_dir),
    }


def measure_infogail(run_dir: Path) -> dict[str, float]:
    """Each code's deterministic return (20 episodes) and how well its episodes play one demonstrator's
    style (best code-to-style mapping), from last.pt."""
    from gailrun.algos.infogail.styles import best_mapping_accuracy, label_centres, play_code
    from gailrun.config.resolvers import ASSETS
    from gailrun.data.minari_io import read_dataset
    from gailrun.models.policy import load_policy

    centres = label_centres(read_dataset(ASSETS / "datasets" / "gailrun" / "cartpole-styles-v0").episodes)
    policy = load_policy(run_dir / "last.pt")
    reports = [play_code(policy, "CartPole-v1", c, 20, seed=10_000, centres=centres) for c in range(2)]
    codes = [r.code for r in reports for _ in r.labels]
    labels = [lab for r in reports for lab in r.labels]
    accuracy, _ = best_mapping_accuracy(codes, labels, list(centres))
    returns = [float(r.returns.mean()) for r in reports]
    return {
        "mean_code_return": float(np.mean(returns)),
        "min_code_return": min(returns),
        "max_code_return": max(returns),
        "style_accuracy": accuracy,
        **_last_metrics(run_dir, ("infogail/posterior_acc",)),
    }


@dataclass(frozen=True)
class Check:
    """A training command, a measurement of its run, and the minimum each measured value must reach."""

    name: str
    args: tuple[str, ...]
    measure: Callable[[Path], dict[str, float]]
    minimums: dict[str, float]
    seeds: tuple[int, ...]  # run by `make test`
    slow_seeds: tuple[int, ...] = ()  # run by `make test-full` only
    reported: tuple[str, ...] = ()  # measured and reported, not asserted (tendencies)

    def run(self, seed: int, run_dir: Path, env: dict | None = None) -> dict[str, float]:
        out = run_cli("train", *self.args, f"seed={seed}", f"hydra.run.dir={run_dir}", env=env)
        if out.returncode != 0:
            raise AssertionError(f"{self.name} seed {seed} failed: {out.stderr[-2000:]}")
        return self.measure(run_dir)

    def failures(self, values: dict[str, float]) -> list[str]:
        return [f"{k} = {values[k]:.3f} < {m}" for k, m in self.minimums.items() if not values[k] >= m]


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check(
            "ppo_cartpole",
            ("env=cartpole", "train.total_steps=50000"),
            measure_ppo,
            {"best.pt": 475.0},
            seeds=(1,),
            slow_seeds=(2, 3, 4, 5, 6, 7, 8),
        ),
        Check(
            "gail_cartpole",
            ("algo=gail", "env=cartpole", "train.total_steps=100000"),
            measure_gail,
            {"best_avg100": 300.0},
            seeds=(1,),
            slow_seeds=(2, 3, 4, 5, 6, 7, 8),
            reported=("last_avg100", "best.pt", "last.pt", "best_irl.pt", "d_gap"),
        ),
        Check(
            "bc_cartpole",
            ("algo=bc", "env=cartpole", "algo.epochs=20"),
            measure_bc,
            {"best.pt": 475.0, "last.pt": 475.0},
            seeds=(1,),
            slow_seeds=(2, 3, 4, 5, 6, 7, 8),
        ),
        Check(
            "infogail_styles",
            ("experiment=infogail_styles", "algo=infogail", "budget=full"),
            measure_infogail,
            {"max_code_return": 475.0, "mean_code_return": 250.0},
            seeds=(1,),
            slow_seeds=(2, 3, 4, 5, 6, 7, 8),
            reported=("min_code_return", "style_accuracy", "infogail/posterior_acc"),
        ),
    )
}
