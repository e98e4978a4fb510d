"""Start-up time of the gailrun commands against `python -c "import torch, gymnasium"`, measured in one run.

Every measurement is a fresh subprocess of this virtualenv's executables, timed by its wall clock from
start to exit. The commands run in `--rounds` interleaved rounds (each command once per round, the order
rotated from round to round), after one warm-up round that is not counted (it fills the page cache). This
machine's speed drifts within minutes, so each command's cost over the baseline is the median over rounds
of the difference within a round; each wall time is the median over rounds.

The commands: `gailrun train env=cartpole train.total_steps=1` (one PPO iteration of 2048 steps and the
default final evaluation, 100 episodes), `gailrun show-config`, and `gailrun eval` of the bundled CartPole
expert for one episode (on a copy, since eval writes its JSON beside the checkpoint). Everything is written
under a temporary directory. `--compare LABEL=PATH` also times the gailrun commands with another checkout's
code (PYTHONPATH=PATH, e.g. a `git worktree` of an older commit), in the same rounds.

    python bench/startup.py [--rounds 5] [--compare LABEL=PATH] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import results_md

REPO = Path(__file__).resolve().parent.parent
CKPT = REPO / "gailrun" / "assets" / "experts" / "cartpole-ppo.pt"
GOAL_S = 2.0
BASELINE = "baseline"


def gailrun_exe() -> list[str]:
    exe = shutil.which("gailrun", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "gailrun"]


def commands(work: Path) -> dict[str, list[str]]:
    """Each measurement's argv; `{run}` is replaced by a fresh directory per run (a train run into an
    existing run directory would resume it)."""
    ckpt = work / "cartpole-ppo.pt"
    shutil.copyfile(CKPT, ckpt)
    exe = gailrun_exe()
    return {
        BASELINE: [sys.executable, "-c", "import torch, gymnasium"],
        "train": [*exe, "train", "env=cartpole", "train.total_steps=1", "hydra.run.dir={run}"],
        "show-config": [*exe, "show-config"],
        "eval": [*exe, "eval", f"ckpt={ckpt}", "episodes=1"],
    }


def display(argv: list[str]) -> str:
    """The command as a user types it (executables by name, temporary paths by their role)."""
    if argv[0] == sys.executable and argv[1] == "-c":
        return f'python -c "{argv[2]}"'
    words = ["gailrun" if w.endswith("/gailrun") else w for w in argv]
    if words[:3] == [sys.executable, "-m", "gailrun"]:
        words = ["gailrun", *words[3:]]
    words = ["hydra.run.dir=<tmp>" if w.startswith("hydra.run.dir=") else w for w in words]
    ckpt = "ckpt=gailrun/assets/experts/cartpole-ppo.pt"
    return " ".join(ckpt if w.startswith("ckpt=") else w for w in words)


def run_once(argv: list[str], work: Path, pythonpath: str | None) -> float:
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work)) / "run"
    argv = [w.replace("{run}", str(run_dir)) for w in argv]
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def measure(rounds: int, compare: dict[str, str]) -> dict[str, list[float]]:
    """{measurement: wall seconds per round}; measurements of another checkout are `name@label`."""
    with tempfile.TemporaryDirectory(prefix="gailrun-startup-") as tmp:
        work = Path(tmp)
        argvs = commands(work)
        plan: list[tuple[str, list[str], str | None]] = [(n, a, None) for n, a in argvs.items()]
        for label, path in compare.items():
            plan += [(f"{n}@{label}", a, path) for n, a in argvs.items() if n != BASELINE]
        times: dict[str, list[float]] = {name: [] for name, _, _ in plan}
        for i in range(rounds + 1):
            print("warm-up round" if i == 0 else f"round {i} of {rounds}", file=sys.stderr)
            shift = i % len(plan)
            for name, argv, pythonpath in plan[shift:] + plan[:shift]:
                seconds = run_once(argv, work, pythonpath)
                print(f"  {name}: {seconds:.2f} s", file=sys.stderr)
                if i > 0:
                    times[name].append(seconds)
    return times


def versions() -> str:
    import gymnasium
    import torch

    import gailrun

    return f"gailrun {gailrun.__version__}, torch {torch.__version__}, gymnasium {gymnasium.__version__}"


def commit() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "gailrun", "conf")
    return f"{head}{' with uncommitted changes' if dirty else ''}"


def report(times: dict[str, list[float]], argvs: dict[str, str], rounds: int, command: str) -> str:
    cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    base = times[BASELINE]
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {cpu} cores, Python "
        f"{platform.python_version()} ({versions()}), commit {commit()}.",
        f"Command: `{command}`. Each command a fresh process, timed from start to exit, in {rounds}",
        "interleaved rounds after one uncounted warm-up round; wall time is the median over rounds, the",
        "difference the median over rounds of (command - baseline) within the round.",
        "",
        "| command | wall time (s) | rounds (s) | difference to the baseline (s) | goal |",
        "| --- | ---: | --- | ---: | --- |",
    ]
    for name, secs in times.items():
        short, _, label = name.partition("@")
        shown = f"`{argvs[short]}`" + (f" ({label})" if label else "")
        rounds_s = ", ".join(f"{s:.2f}" for s in secs)
        if name == BASELINE:
            diff, goal = "", ""
        else:
            d = statistics.median(s - b for s, b in zip(secs, base, strict=True))
            diff, goal = f"{d:+.2f}", f"< {GOAL_S:.0f}: {'met' if d < GOAL_S else 'NOT met'}"
        lines.append(f"| {shown} | {statistics.median(secs):.2f} | {rounds_s} | {diff} | {goal} |")
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    heading = (
        "## 6. Start-up (issue 16)\n\n`python bench/startup.py --write bench/RESULTS.md` rewrites the block "
        "below; every number in it comes from\nthat one run."
    )
    results_md.write_section(path, "startup", body, heading)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds after the warm-up round")
    ap.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also time the gailrun commands with the code of another checkout (PYTHONPATH=PATH)",
    )
    ap.add_argument("--write", type=Path, default=None, help="update this Markdown file's start-up section")
    args = ap.parse_args()
    compare = dict(c.split("=", 1) for c in args.compare)
    times = measure(args.rounds, compare)
    with tempfile.TemporaryDirectory() as tmp:
        argvs = {name: display(argv) for name, argv in commands(Path(tmp)).items()}
    command = "python bench/startup.py" + (
        f" --rounds {args.rounds}" if args.rounds != ap.get_default("rounds") else ""
    )
    command += "".join(f" --compare {c}" for c in args.compare)
    body = report(times, argvs, args.rounds, command)
    print(body)
    if args.write:
        write_section(args.write, body)


if __name__ == "__main__":
    main()
