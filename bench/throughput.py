"""Throughput of gailrun PPO against the raw env step rate and Stable-Baselines3, measured in one run.

Every measurement runs in its own subprocess (so peak memory is its own) on LunarLander-v3 with rl-zoo3's
PPO hyperparameters: 16 envs x 1024 steps, minibatch 64, 4 epochs, gamma 0.999, GAE lambda 0.98, entropy
0.01. Results are ratios measured side by side, never absolute claims across machines.

    python bench/throughput.py [--steps 65536] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ENV_ID = "LunarLander-v3"
NUM_ENVS, NUM_STEPS = 16, 1024


def _child_raw(steps: int) -> dict:
    from gailrun.envs import make_vec_env, seed_vec_env

    envs = make_vec_env(ENV_ID, NUM_ENVS)
    seed_vec_env(envs, 0)
    n = 0
    t0 = time.perf_counter()
    while n < steps:
        envs.step(envs.action_space.sample())
        n += NUM_ENVS
    return {"steps": n, "seconds": time.perf_counter() - t0}


def _child_gailrun(steps: int, algo: str) -> dict:
    from hydra import compose, initialize_config_dir

    from gailrun.trainer import Trainer

    conf = str(Path(__file__).resolve().parent.parent / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose("train", overrides=["preset=zoo", f"algo={algo}", "final_eval.episodes=0"])
    trainer = Trainer(cfg, Path("/tmp/gailrun-bench"))
    trainer.build()
    trainer.iteration.step()  # warm-up: first-call allocations are not throughput
    start = trainer.collector.total_steps
    t0 = time.perf_counter()
    while trainer.collector.total_steps - start < steps:
        trainer.iteration.step()
    return {"steps": trainer.collector.total_steps - start, "seconds": time.perf_counter() - t0}


def _child_sb3(steps: int) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    env = make_vec_env(ENV_ID, n_envs=NUM_ENVS, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=NUM_STEPS,
        batch_size=64,
        n_epochs=4,
        gamma=0.999,
        gae_lambda=0.98,
        ent_coef=0.01,
        device="cpu",
        seed=0,
        verbose=0,
    )
    model.learn(NUM_ENVS * NUM_STEPS)  # warm-up rollout and update
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return {"steps": steps, "seconds": time.perf_counter() - t0}


CHILDREN = {"raw": _child_raw, "gailrun_ppo": lambda s: _child_gailrun(s, "ppo"), "sb3_ppo": _child_sb3}


def measure(name: str, steps: int) -> dict | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, "--steps", str(steps)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"{name}: skipped ({tail[0]})", file=sys.stderr)
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["sps"] = result["steps"] / result["seconds"]
    print(f"{name}: {result['sps']:.0f} steps/s, peak RSS {result['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return result


def versions() -> str:
    import gymnasium
    import torch

    import gailrun

    out = f"gailrun {gailrun.__version__}, torch {torch.__version__}, gymnasium {gymnasium.__version__}"
    try:
        import stable_baselines3

        out += f", stable-baselines3 {stable_baselines3.__version__}"
    except ImportError:
        out += ", stable-baselines3 not installed"
    return out


def report(results: dict[str, dict | None], steps: int, command: str) -> str:
    raw, ours, sb3 = results["raw"], results["gailrun_ppo"], results["sb3_ppo"]
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()} with {_cpu_count()} cores "
        f"({platform.python_version()}; {versions()}).",
        f"Command: `{command}`; {steps} env steps per measurement after one warm-up rollout, each in its own "
        "process, one torch thread.",
        "",
        "| measurement | steps/s | peak RSS (MB) |",
        "| --- | ---: | ---: |",
    ]
    names = {
        "raw": "raw env step rate (random actions, 16 sync envs)",
        "gailrun_ppo": "gailrun PPO training",
        "sb3_ppo": "Stable-Baselines3 PPO training",
    }
    for key, label in names.items():
        r = results[key]
        lines.append(
            f"| {label} | {r['sps']:.0f} | {r['peak_rss_mb']:.0f} |" if r else f"| {label} | n/a | n/a |"
        )
    lines += ["", "| ratio | value |", "| --- | ---: |"]
    if ours and raw:
        lines.append(f"| gailrun PPO / raw env rate | {ours['sps'] / raw['sps']:.2f} |")
    if ours and sb3:
        lines.append(f"| gailrun PPO / SB3 PPO | {ours['sps'] / sb3['sps']:.2f} |")
    return "\n".join(lines)


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_section(path: Path, body: str) -> None:
    start, end = "<!-- bench:throughput:start -->", "<!-- bench:throughput:end -->"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Throughput (`make bench`)\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4 * NUM_ENVS * NUM_STEPS)
    ap.add_argument("--write", type=Path, default=None, help="update this Markdown file's throughput section")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.steps)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    results = {name: measure(name, args.steps) for name in CHILDREN}
    command = "python bench/throughput.py" + (
        f" --steps {args.steps}" if args.steps != ap.get_default("steps") else ""
    )
    body = report(results, args.steps, command)
    print(body)
    if args.write:
        write_section(args.write, body)


if __name__ == "__main__":
    main()
