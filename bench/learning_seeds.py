"""Run the learning checks of tests/learning_checks.py over seeds and CPU kernel settings.

A learning check's verdict must hold on any machine, and another CPU means other rounding and, after some
hundreds of updates, another trajectory. This runs every check for every seed under each kernel setting
(tests/learning_checks.py's KERNELS: the machine's own, AVX2 and the plain default kernels of torch and
OpenBLAS), records what each run measured, and reports per check and value the minimum over all runs, the
threshold and the margin, plus the tendencies that are reported, not asserted.

    python bench/learning_seeds.py --seeds 1-8 --jobs 2 --write bench/RESULTS.md
    python bench/learning_seeds.py --only gail_cartpole --kernels avx2 --seeds 1-3

Results are appended to a JSON-lines file (default outputs/learning_seeds/runs.jsonl) as each run ends, so
an interrupted run continues where it stopped; --report-only rewrites the table from that file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import results_md

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.learning_checks import CHECKS, KERNELS  # noqa: E402


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def run_one(check: str, seed: int, kernel: str) -> dict:
    """One run in a child process whose environment selects the kernels (training and measurement)."""
    env = {**os.environ, **KERNELS[kernel], "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(prefix=f"{check}-{seed}-") as d:
        code = (
            "import json, sys; from pathlib import Path; from tests.learning_checks import CHECKS; "
            f"print('RESULT ' + json.dumps(CHECKS[{check!r}].run({seed}, Path({d!r}) / 'run')))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=3600
        )
    record = {"check": check, "seed": seed, "kernel": kernel}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        return {**record, "error": (out.stderr or out.stdout)[-1500:]}
    return {**record, "values": json.loads(lines[-1][len("RESULT ") :])}


def load_runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def commit() -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "gailrun", "conf"], cwd=REPO, capture_output=True, text=True
    )
    return rev.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def _fmt(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"


def report(runs: Iterable[dict], command: str) -> str:
    runs = [r for r in runs if r["check"] in CHECKS]
    lines = [
        f"`{command}` at {commit()}, {dt.date.today().isoformat()}: every run of every check, seeds x kernel "
        "settings (native = this machine's AVX-512 torch kernels and OpenBLAS SkylakeX; avx2 = "
        "ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell; default = ATEN_CPU_CAPABILITY=default "
        "OPENBLAS_CORETYPE=Prescott).",
        "",
        "| check | value | threshold | min over runs | margin | runs passing | seeds | kernels |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, check in CHECKS.items():
        mine = [r for r in runs if r["check"] == name]
        ok = [r for r in mine if "values" in r]
        errors = len(mine) - len(ok)
        seeds = sorted({r["seed"] for r in ok})
        kernels = sorted({r["kernel"] for r in ok})
        if not seeds:
            continue
        seed_text = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else seeds
        for value in [*check.minimums, *check.reported]:
            xs = [r["values"][value] for r in ok]
            if not xs:
                continue
            threshold = check.minimums.get(value)
            lo = min(xs)
            passing = sum(x >= threshold for x in xs) if threshold is not None else None
            lines.append(
                f"| {name} | {value} | {'' if threshold is None else f'>= {threshold:g}'} | {_fmt(lo)} | "
                f"{'reported' if threshold is None else _fmt(lo - threshold)} | "
                f"{'' if passing is None else f'{passing} of {len(xs)}'}"
                f"{f' ({errors} failed to run)' if errors else ''} | {seed_text} | {', '.join(kernels)} |"
            )
    lines += ["", "Per run (seed: value under each kernel setting):", ""]
    for name, check in CHECKS.items():
        ok = [r for r in runs if r["check"] == name and "values" in r]
        for value in [*check.minimums, *check.reported]:
            by_seed: dict[int, list[str]] = {}
            for r in sorted(ok, key=lambda r: (r["seed"], list(KERNELS).index(r["kernel"]))):
                by_seed.setdefault(r["seed"], []).append(f"{r['kernel']} {_fmt(r['values'][value])}")
            if by_seed:
                cells = "; ".join(f"{s}: {', '.join(v)}" for s, v in by_seed.items())
                lines.append(f"- {name} / {value}: {cells}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1-8", help="e.g. 1-8 or 1,3,5")
    ap.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    ap.add_argument("--only", nargs="*", choices=list(CHECKS), help="these checks only")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (each uses one core)")
    ap.add_argument("--runs", type=Path, default=REPO / "outputs" / "learning_seeds" / "runs.jsonl")
    ap.add_argument("--report-only", action="store_true", help="only rewrite the report from --runs")
    ap.add_argument("--write", type=Path, default=None, help="update this Markdown file's learning block")
    args = ap.parse_args()

    args.runs.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["check"], r["seed"], r["kernel"]) for r in load_runs(args.runs) if "values" in r}
    todo = [
        (c, s, k)
        for c in (args.only or list(CHECKS))
        for s in parse_seeds(args.seeds)
        for k in args.kernels
        if (c, s, k) not in done
    ]
    if not args.report_only:
        print(f"{len(todo)} runs to do ({len(done)} already in {args.runs})", flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for future in as_completed([pool.submit(run_one, *t) for t in todo]):
                record = future.result()
                with args.runs.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(json.dumps(record)[:300], flush=True)
    command = "python bench/learning_seeds.py " + " ".join(sys.argv[1:])
    text = report(load_runs(args.runs), command.strip())
    print(text)
    if args.write:
        heading = (
            "## 7. Learning checks over seeds and CPU kernels (issue 16)\n\n"
            "The thresholds of tests/test_learning.py (defined in tests/learning_checks.py) and the margins "
            "by which\nevery run cleared them; `d_gap` and the other reported values are tendencies, not "
            "asserted."
        )
        results_md.write_section(args.write, "learning", text, heading)


if __name__ == "__main__":
    main()
