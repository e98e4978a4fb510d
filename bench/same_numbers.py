"""Same numbers before and after a refactoring: fixed-seed runs of one checkout, fingerprinted byte for byte.

A redesign that moves code must not change what it computes. This runs a fixed list of commands (PPO and GAIL
on CartPole and LunarLander, BC, InfoGAIL, a resumed run, a sweep) with the gailrun of a given checkout, and
writes a fingerprint: the SHA-256 of every metrics.csv, episodes.csv, eval*.json and rf_selection.json (with
the run's own directory replaced by a placeholder, since it differs between the two checkouts), and of every
tensor in every checkpoint (best*.pt, last.pt, candidates/, checkpoints/state-*.pt), read with plain
`torch.load(weights_only=True)` so that it does not depend on either checkout's code. Both checkouts must run
on the same machine (another CPU means other rounding, PITFALLS "Machines differ").

    git worktree add /tmp/before <old-commit>
    python bench/same_numbers.py record /tmp/before outputs/same/before
    python bench/same_numbers.py record . outputs/same/after
    python bench/same_numbers.py compare outputs/same/before outputs/same/after
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

QUIET = ("train.progress=false", "logger=csv")
# name -> gailrun arguments; every run is seeded and short, a few minutes in all on one core.
RUNS: dict[str, tuple[str, ...]] = {
    "ppo-cartpole": ("train", "env=cartpole", "train.total_steps=20000", "seed=3", "final_eval.episodes=10"),
    "gail-cartpole": (
        "train",
        "algo=gail",
        "env=cartpole",
        "train.total_steps=20000",
        "seed=3",
        "final_eval.episodes=10",
    ),
    "ppo-lunarlander": (
        "train",
        "env=lunarlander",
        "ppo_opts=plus",
        "train.total_steps=20000",
        "seed=3",
        "final_eval.episodes=5",
    ),
    # BC pretraining, critic-only warm-up, the BC term and `final` absorbing states.
    "gail-lunarlander": (
        "train",
        "algo=gail",
        "disc=same",
        "preset=gail_lunarlander",
        "train.total_steps=40000",
        "seed=3",
        "final_eval.episodes=5",
    ),
    "bc-lunarlander": ("train", "algo=bc", "env=lunarlander", "expert=n30", "algo.epochs=5", "seed=3"),
    "infogail-styles": (
        "train",
        "experiment=infogail_styles",
        "algo=infogail",
        "train.total_steps=20000",
        "seed=3",
        "final_eval.episodes=4",
    ),
    "sweep-cartpole": (
        "sweep",
        "algo=ppo,gail",
        "env=cartpole",
        "train.total_steps=6000",
        "seed=1,2",
        "final_eval.episodes=3",
    ),
}
# A run resumed from the state saved after its 4th update, beside the uninterrupted one above it.
RESUME_ARGS = (
    "train",
    "env=lunarlander",
    "env.num_envs=2",
    "algo.num_steps=128",
    "train.total_steps=3000",
    "seed=4",
    "final_eval.episodes=3",
    "train.checkpoint_every=1",
    "train.keep_checkpoints=100",
)
TEXT_FILES = ("metrics.csv", "episodes.csv", "rf_selection.json")


def gailrun(checkout: Path, args: tuple[str, ...], run_dir: Path) -> None:
    where = "hydra.sweep.dir" if args[0] == "sweep" else "hydra.run.dir"
    env = {**os.environ, "PYTHONPATH": str(checkout), "WANDB_MODE": "disabled"}
    cmd = [sys.executable, "-m", "gailrun", *args, *QUIET, f"{where}={run_dir}"]
    out = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {checkout}:\n{out.stderr[-2000:]}")


def record(checkout: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, args in RUNS.items():
        print(f"{name}: gailrun {' '.join(args)}", flush=True)
        gailrun(checkout, args, out / name)
    print("resume: an uninterrupted run and one resumed from its state after update 4", flush=True)
    gailrun(checkout, RESUME_ARGS, out / "resume-reference")
    state = sorted((out / "resume-reference" / "checkpoints").glob("state-*.pt"))[3]
    gailrun(checkout, (*RESUME_ARGS, f"resume={state}"), out / "resume-resumed")
    ref = (out / "resume-reference" / "metrics.csv").read_text().splitlines()
    resumed = (out / "resume-resumed" / "metrics.csv").read_text().splitlines()
    if resumed[1:] != ref[-(len(resumed) - 1) :]:
        raise SystemExit("the resumed run's metrics differ from the uninterrupted run's after update 4")
    (out / "fingerprint.json").write_text(json.dumps(fingerprint(out), indent=1, sort_keys=True))
    print(f"wrote {out / 'fingerprint.json'}")


def tensor_digests(obj: Any, prefix: str, into: dict[str, str]) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach().contiguous().cpu()
        head = f"{t.dtype}{tuple(t.shape)}".encode()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes()
        into[prefix] = hashlib.sha256(head + data).hexdigest()[:16]
    elif isinstance(obj, dict):
        for k, v in obj.items():
            tensor_digests(v, f"{prefix}/{k}", into)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            tensor_digests(v, f"{prefix}/{i}", into)


def fingerprint(root: Path) -> dict[str, str]:
    import torch

    prints: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        run_dir = next((p for p in [path.parent, *path.parents] if (p / "config.yaml").is_file()), root)
        if path.name in TEXT_FILES or (path.name.startswith("eval") and path.suffix == ".json"):
            text = path.read_text().replace(str(run_dir.resolve()), "<run>").replace(str(run_dir), "<run>")
            prints[rel] = hashlib.sha256(text.encode()).hexdigest()[:16]
        elif path.suffix == ".pt":
            tensor_digests(torch.load(path, map_location="cpu", weights_only=True), rel, prints)
    return prints


def compare(a: Path, b: Path) -> int:
    fa = json.loads((a / "fingerprint.json").read_text())
    fb = json.loads((b / "fingerprint.json").read_text())
    differ = sorted(k for k in fa.keys() & fb.keys() if fa[k] != fb[k])
    only = sorted(fa.keys() ^ fb.keys())
    files = {k.split(".pt/")[0] + (".pt" if ".pt/" in k else "") for k in fa}
    print(f"{len(fa)} fingerprints ({len(files)} files) in {a}, {len(fb)} in {b}")
    for k in differ:
        print(f"differs: {k}")
    for k in only:
        print(f"only in {'the first' if k in fa else 'the second'}: {k}")
    if not differ and not only:
        print("identical: every metrics.csv, episodes.csv, eval*.json, rf_selection.json, checkpoint tensor")
    return 1 if differ or only else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="run the fixed-seed commands with CHECKOUT's gailrun into OUT")
    rec.add_argument("checkout", type=Path)
    rec.add_argument("out", type=Path)
    cmp_ = sub.add_parser("compare", help="compare two recorded fingerprints")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "record":
        record(args.checkout.resolve(), args.out.resolve())
    else:
        raise SystemExit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
