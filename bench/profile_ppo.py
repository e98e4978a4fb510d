"""Where a PPO iteration's time goes: cProfile over a few iterations of `preset=zoo` on LunarLander-v3.

Prints the share of wall time in rollout collection (and, inside it, the envs' step and the policy's
forward passes) and in the update (and, inside it, forward, backward, gradient clipping, Adam), so that a
speed change can be aimed and checked. Extra arguments are Hydra overrides, e.g. `env.backend=envpool`.

    python bench/profile_ppo.py [--iterations 3] [overrides ...]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

CONF = str(Path(__file__).resolve().parent.parent / "conf")

# (label, [(file-name fragment, function name), ...]): the part's time is the sum of those functions'
# cumulative times
PARTS = [
    ("rollout collection", [("collector.py", "collect")]),
    ("  env step (vector env)", [("vector_env.py", "step")]),
    ("  policy: sampling actions, per step", [("networks.py", "sample")]),  # ActorCritic.sampler's closure
    ("  policy: log-probs and values, once per rollout", [("collector.py", "_evaluate")]),
    ("PPO update", [("update.py", "update")]),
    ("  loss and gradient by hand (fast_grad.py; default)", [("fast_grad.py", "__call__")]),
    ("  minibatch losses, forward (autograd path: algo.grad=autograd)", [("update.py", "_minibatch_losses")]),
    ("  backward (autograd path)", [("_tensor.py", "backward")]),
    (
        "  gradient gather, norm and clip",
        [("flat_adam.py", "gather_grad"), ("flat_adam.py", "grad_norm"), ("flat_adam.py", "clip_grad")],
    ),
    ("  Adam step", [("flat_adam.py", "step")]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()

    import torch
    from hydra import compose, initialize_config_dir

    from gailrun.run.trainer import Trainer

    torch.set_num_threads(1)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["preset=zoo", "final_eval.episodes=0", "train.progress=false", *args.overrides],
        )
    trainer = Trainer(cfg, Path("/tmp/gailrun-profile"))
    trainer.build()
    loop = trainer.loop
    loop.step()  # warm-up
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for _ in range(args.iterations):
        loop.step()
    profiler.disable()
    wall = time.perf_counter() - t0
    loop.close()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in stats.items() if k[2] == "step" and k[0].endswith("loops.py"))
    print(
        f"{args.iterations} iterations of {cfg.env.num_envs} x {cfg.algo.num_steps} steps, "
        f"{wall / args.iterations:.2f} s each under the profiler; overrides: {args.overrides or 'none'}\n"
    )
    print("| part | share of the iteration |")
    print("| --- | ---: |")
    for label, functions in PARTS:
        cum = sum(
            v[3]
            for (file, _, func), v in stats.items()
            if any(file_part in file and func == name for file_part, name in functions)
        )
        print(f"| {label} | {100 * cum / total:.0f}% |")


if __name__ == "__main__":
    main()
