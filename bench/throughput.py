"""Speed of gailrun against the raw env step rate and Stable-Baselines3, measured in one run.

Every measurement runs in its own subprocess (so its peak memory is its own) on LunarLander-v3 with
rl-zoo3's PPO hyperparameters: 16 envs x 1024 steps, minibatch 64, 4 epochs, gamma 0.999, GAE lambda
0.98, entropy 0.01 (`preset=zoo`, which also turns on SB3's orthogonal init and gradient clipping).
Throughputs are ratios measured side by side, never absolute claims across machines. This machine's
speed drifts by up to a third within minutes, so the throughput measurements run in `--rounds` interleaved
rounds (every measurement once per round, one after another); each ratio is the median over rounds of the
ratio within a round, and each steps/s the median over rounds. Time to threshold
trains until the average of the last 100 episodes reaches it (CartPole 475 with the default PPO,
LunarLander 200 with preset=zoo_ppo) and reports env steps and wall time.

    python bench/throughput.py [--steps 32768] [--rounds 3] [--skip-threshold] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import results_md

ENV_ID = "LunarLander-v3"
NUM_ENVS, NUM_STEPS = 16, 1024
CONF = str(Path(__file__).resolve().parent.parent / "conf")


def _raw(steps: int, vectorization: str, backend: str = "gymnasium") -> dict:
    from gailrun.envs.make import make_vec_env, seed_vec_env

    envs = make_vec_env(ENV_ID, NUM_ENVS, vectorization=vectorization, backend=backend)
    seed_vec_env(envs, 0)
    n = 0
    t0 = time.perf_counter()
    while n < steps:
        envs.step(envs.action_space.sample())
        n += NUM_ENVS
    seconds = time.perf_counter() - t0
    envs.close()
    return {"steps": n, "seconds": seconds}


def _gailrun(steps: int, overrides: list[str]) -> dict:
    from hydra import compose, initialize_config_dir

    from gailrun.run.trainer import Trainer

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=["preset=zoo", "final_eval.episodes=0", *overrides])
    trainer = Trainer(cfg, Path("/tmp/gailrun-bench"))
    trainer.build()
    loop = trainer.loop
    iteration = loop.iteration
    env_timer = iteration.collector.envs.step = _Timed(iteration.collector.envs.step)
    hook_timer = None
    if iteration.reward_hook is not None:
        hook_timer = iteration.reward_hook = _Timed(iteration.reward_hook)
    t_warm = time.perf_counter()
    loop.step()  # warm-up: first-call allocations (and compilation) are not throughput
    warmup = time.perf_counter() - t_warm
    for timer in (env_timer, hook_timer):
        if timer is not None:
            timer.seconds = 0.0
    start = loop.progress
    t0 = time.perf_counter()
    while loop.progress - start < steps:
        loop.step()
    seconds = time.perf_counter() - t0
    loop.close()
    out = {"steps": loop.progress - start, "seconds": seconds, "warmup_s": warmup, "env_s": env_timer.seconds}
    if hook_timer is not None:
        out["hook_s"] = hook_timer.seconds
    return out


class _Timed:
    """Wraps a callable of a training run and adds up the wall time spent in it, so that a part's cost is
    measured against the rest of the same run, immune to the machine's drift between processes: the env's
    step (its share of the run is the training rate over the env's own rate in the same seconds), and
    GAIL's reward hook (discriminator update + relabelling, against the PPO work of identical rollouts)."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds = inner, 0.0

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _sb3(steps: int) -> dict:
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


def _threshold(env: str) -> dict:
    """Train until avg100 reaches the threshold; report the env steps and wall time it took."""
    import tempfile

    from hydra import compose, initialize_config_dir

    from gailrun.run.trainer import Trainer

    overrides = {
        "cartpole": ["env=cartpole", "train.target_return=475", "train.total_steps=300000"],
        "lunarlander": [
            "preset=zoo_ppo",
            "train.target_return=200",
            "train.total_steps=3000000",
        ],
    }[env]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                *overrides,
                "final_eval.episodes=0",
                "train.progress=false",
                "train.checkpoint_every=0",
                "seed=1",
            ],
        )
    with tempfile.TemporaryDirectory() as d:
        summary = Trainer(cfg, Path(d)).run()
    return {
        "steps": summary["env_steps"],
        "seconds": summary["wall_time_s"],
        "reached": summary["stop_reason"] == "target_return",
    }


CHILDREN = {
    "raw_sync": lambda s: _raw(s, "sync"),
    "raw_subproc": lambda s: _raw(s, "subproc"),
    "raw_envpool": lambda s: _raw(s, "sync", "envpool"),
    "ppo_sync": lambda s: _gailrun(s, ["env.vectorization=sync"]),
    "ppo_sync_autograd": lambda s: _gailrun(s, ["env.vectorization=sync", "algo.grad=autograd"]),
    "ppo_subproc": lambda s: _gailrun(s, ["env.vectorization=subproc"]),
    "ppo_subproc_compiled": lambda s: _gailrun(s, ["env.vectorization=subproc", "algo.compile=true"]),
    "ppo_envpool": lambda s: _gailrun(s, ["env.backend=envpool"]),
    "ppo_envpool_compiled": lambda s: _gailrun(s, ["env.backend=envpool", "algo.compile=true"]),
    "gail_sync": lambda s: _gailrun(s, ["env.vectorization=sync", "algo=gail", "env=lunarlander"]),
    "sb3": _sb3,
    "threshold_cartpole": lambda s: _threshold("cartpole"),
    "threshold_lunarlander": lambda s: _threshold("lunarlander"),
}
LABELS = {
    "raw_sync": "raw env step rate, random actions, 16 sync envs",
    "raw_subproc": "raw env step rate, random actions, 16 envs in 2 worker processes (subproc)",
    "raw_envpool": "raw EnvPool step rate, random actions, 16 envs in 2 threads (env.backend=envpool)",
    "ppo_sync": "gailrun PPO training, sync envs (default)",
    "ppo_sync_autograd": "gailrun PPO training, sync envs, algo.grad=autograd (torch's gradient)",
    "ppo_subproc": "gailrun PPO training, env.vectorization=subproc",
    "ppo_subproc_compiled": "gailrun PPO training, subproc + algo.compile=true",
    "ppo_envpool": "gailrun PPO training, env.backend=envpool",
    "ppo_envpool_compiled": "gailrun PPO training, env.backend=envpool + algo.compile=true",
    "gail_sync": "gailrun GAIL training (same PPO settings, disc=base), sync envs",
    "sb3": "Stable-Baselines3 PPO training (same hyperparameters)",
}


def measure(name: str, steps: int) -> dict | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, "--steps", str(steps)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
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


def _ratio(a: dict | None, b: dict | None) -> str:
    """The median over rounds of a's rate over b's in the same round (drift between rounds cancels)."""
    if not (a and b):
        return "n/a"
    per_round = [x / y for x, y in zip(a["rounds"], b["rounds"], strict=False)]
    return f"{statistics.median(per_round):.2f}"


def combine(rounds: list[dict]) -> dict:
    """One measurement's rounds as one: median rate, largest peak memory, all rates kept."""
    out = dict(rounds[0])
    out["rounds"] = [r["sps"] for r in rounds]
    out["sps"] = statistics.median(out["rounds"])
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rounds)
    out["warmup_s"] = max(r.get("warmup_s", 0.0) for r in rounds)
    if all(r.get("env_s") is not None for r in rounds):
        out["env_share"] = statistics.median(r["env_s"] / r["seconds"] for r in rounds)
    if all(r.get("hook_s") is not None for r in rounds):
        # GAIL's reward hook's share, as extra time over the rest of the same run's work
        out["hook_extra"] = statistics.median(r["hook_s"] / (r["seconds"] - r["hook_s"]) for r in rounds)
    return out


def report(r: dict[str, dict | None], steps: int, rounds: int, command: str) -> str:
    sb3, raw, raw_sub = r.get("sb3"), r.get("raw_sync"), r.get("raw_subproc")
    cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {cpu} cores, Python "
        f"{platform.python_version()} ({versions()}).",
        f"Command: `{command}`. {steps} env steps per throughput measurement after one warm-up iteration,",
        f"each in its own process with one torch thread, in {rounds} interleaved rounds; steps/s is the",
        "median over rounds (each round's in the next column), each ratio the median of the rounds' ratios.",
        "",
        "| measurement | steps/s | rounds | peak RSS (MB) |",
        "| --- | ---: | --- | ---: |",
    ]
    for key, label in LABELS.items():
        m = r.get(key)
        if key.startswith("threshold"):
            continue
        extra = f" (compile/warm-up {m['warmup_s']:.0f} s)" if m and m.get("warmup_s", 0) > 5 else ""
        lines.append(
            f"| {label}{extra} | {m['sps']:.0f} | {', '.join(f'{x:.0f}' for x in m['rounds'])} "
            f"| {m['peak_rss_mb']:.0f} |"
            if m
            else f"| {label} | n/a | | n/a |"
        )
    best = max(
        (r[k] for k in ("ppo_sync", "ppo_subproc", "ppo_subproc_compiled") if r.get(k)),
        key=lambda m: m["sps"],
        default=None,
    )
    fastest = max(
        (r[k] for k in LABELS if k.startswith("ppo_") and r.get(k)),
        key=lambda m: m["sps"],
        default=None,
    )
    lines += [
        "",
        "| ratio (one run) | value | goal |",
        "| --- | ---: | --- |",
        f"| gailrun PPO (sync, default) / SB3 PPO | {_ratio(r.get('ppo_sync'), sb3)} | >= 3 |",
        f"| gailrun PPO (fastest Gymnasium setting) / SB3 PPO | {_ratio(best, sb3)} | >= 3 |",
        f"| gailrun PPO (fastest setting, EnvPool included) / SB3 PPO | {_ratio(fastest, sb3)} | >= 3 |",
        f"| gailrun PPO (sync) / raw sync env rate | {_ratio(r.get('ppo_sync'), raw)} | >= 0.40 |",
        f"| gailrun PPO (fastest Gymnasium setting) / raw sync env rate | {_ratio(best, raw)} | >= 0.40 |",
        f"| gailrun PPO (subproc) / raw subproc env rate | {_ratio(r.get('ppo_subproc'), raw_sub)} | |",
        f"| gailrun PPO (envpool) / raw EnvPool rate "
        f"| {_ratio(r.get('ppo_envpool'), r.get('raw_envpool'))} | |",
        f"| gailrun PPO (fastest setting, EnvPool included) / raw sync Gymnasium env rate "
        f"| {_ratio(fastest, raw)} | |",
        f"| gailrun PPO (sync): hand-written gradient (default) / algo.grad=autograd "
        f"| {_ratio(r.get('ppo_sync'), r.get('ppo_sync_autograd'))} | |",
    ]
    for key, label in (("ppo_sync", "sync"), ("ppo_envpool", "envpool")):
        if (m := r.get(key)) and m.get("env_share") is not None:
            lines.append(
                f"| in-run: share of gailrun PPO's ({label}) wall time inside the env's step "
                "(= its training rate / the env's rate under its policy, same seconds) "
                f"| {m['env_share']:.2f} | |"
            )
    gail = r.get("gail_sync")
    if gail and gail.get("hook_extra") is not None:
        extra = gail["hook_extra"]
        lines.append(
            f"| GAIL's extra wall time per env step (D update + relabel) over the PPO work of the same run "
            f"| {100 * extra:+.0f}% | <= +25% |"
        )
    if gail and r.get("ppo_sync"):
        extra = float(_ratio(r["ppo_sync"], gail)) - 1
        lines.append(
            f"| GAIL run vs PPO run, wall time per env step (different policies, so different env cost) "
            f"| {100 * extra:+.0f}% | |"
        )
    lines += ["", "| time to threshold | env steps | wall time (s) |", "| --- | ---: | ---: |"]
    for key, label in (
        ("threshold_cartpole", "CartPole-v1, avg100 >= 475, default PPO, seed 1"),
        ("threshold_lunarlander", "LunarLander-v3, avg100 >= 200, preset=zoo_ppo, sync envs, seed 1"),
    ):
        m = r.get(key)
        if m:
            lines.append(
                f"| {label}{'' if m['reached'] else ' (not reached)'} | {m['steps']} | {m['seconds']:.0f} |"
            )
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    results_md.write_section(path, "throughput", body, "## Speed (`make bench`)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2 * NUM_ENVS * NUM_STEPS)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the throughput measurements")
    ap.add_argument(
        "--skip-threshold", action="store_true", help="skip the (minutes-long) time-to-threshold runs"
    )
    ap.add_argument("--only", nargs="*", help="measure only these (names of the measurements)")
    ap.add_argument("--write", type=Path, default=None, help="update this Markdown file's speed section")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.steps)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    names = args.only or [n for n in CHILDREN if not (args.skip_threshold and n.startswith("threshold"))]
    throughput = [n for n in names if not n.startswith("threshold")]
    runs: dict[str, list[dict]] = {n: [] for n in throughput}
    for i in range(args.rounds):
        print(f"round {i + 1} of {args.rounds}", file=sys.stderr)
        for name in throughput:
            if (m := measure(name, args.steps)) is not None:
                runs[name].append(m)
    results: dict[str, dict | None] = {n: combine(ms) if ms else None for n, ms in runs.items()}
    results.update({n: measure(n, args.steps) for n in names if n.startswith("threshold")})
    command = (
        "python bench/throughput.py"
        + (f" --steps {args.steps}" if args.steps != ap.get_default("steps") else "")
        + (f" --rounds {args.rounds}" if args.rounds != ap.get_default("rounds") else "")
    )
    body = report(results, args.steps, args.rounds, command)
    print(body)
    if args.write:
        write_section(args.write, body)


if __name__ == "__main__":
    main()
