"""Copy the small outputs of a sweep (or run) directory into docs/results/, leaving checkpoints behind.

Per job: metrics.csv, timing.csv, eval*.json, summary.json, status.json, config.yaml, rf_selection.json,
bc_pretrain.csv and .hydra/*.yaml;
per sweep: summary.md, summary.csv, marginals.md and multirun.yaml. Only finished jobs (summary.json
present) are kept, so a sweep stopped with the machine can be kept part by part.

    python bench/keep_results.py outputs/repro/ppo_agents_full_plus docs/results/ppo_agents_full/plus
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

JOB_FILES = (
    "metrics.csv",
    "timing.csv",
    "summary.json",
    "status.json",
    "config.yaml",
    "rf_selection.json",
    "bc_pretrain.csv",
)
SWEEP_FILES = ("summary.md", "summary.csv", "marginals.md", "multirun.yaml")


def keep(src: Path, dst: Path) -> list[Path]:
    kept = []
    for job in sorted(p.parent for p in src.rglob("summary.json")):
        out = dst / job.relative_to(src)
        (out / ".hydra").mkdir(parents=True, exist_ok=True)
        for f in [*(job / n for n in JOB_FILES), *job.glob("eval*.json"), *(job / ".hydra").glob("*.yaml")]:
            if f.is_file():
                shutil.copy2(f, out / f.relative_to(job))
        kept.append(out)
    for name in SWEEP_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    args = ap.parse_args()
    kept = keep(args.src, args.dst)
    print(f"kept {len(kept)} finished jobs of {args.src} in {args.dst}")


if __name__ == "__main__":
    main()
