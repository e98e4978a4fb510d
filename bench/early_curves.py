"""The first steps of training, arm by arm: what `gailrun report`'s full-budget curves squeeze into a corner.

A study's point is sometimes in its first updates (BC pretraining then a collapse as an untrained
discriminator feeds the policy noise; a slow start) and its verdict at the end (has every curve flattened?).
This draws, for each arm (a label and the sweep or run directories of its seeds), the mean over seeds of
each metric per update (thin lines: each seed), once over the first `--until` env steps and once over the
whole budget. The per-update `charts/episodic_return` (the mean return of the episodes that ended in that
rollout) shows a collapse within one update, where the 100-episode average lags it.

    python bench/early_curves.py "0 epochs=docs/results/gail_bc_pretrain_full/e0" \\
        "100 epochs=docs/results/gail_bc_pretrain_full/e100" --until 400000 \\
        --metrics charts/episodic_return gail/expert_acc gail/learner_acc --out docs/results/x/early.png
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter


def read_runs(directory: Path, metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(env steps, values) of `metric` for each metrics.csv below `directory`; rows without it left out."""
    runs = []
    for path in sorted(directory.rglob("metrics.csv")):
        steps, values = [], []
        with path.open() as f:
            for row in csv.DictReader(f):
                v = row.get(metric, "")
                if v not in ("", None) and not math.isnan(float(v)):
                    steps.append(int(row["global_step"]))
                    values.append(float(v))
        if steps:
            runs.append((np.array(steps), np.array(values)))
    return runs


def draw(arms: dict[str, list[Path]], metrics: list[str], until: int, out: Path) -> None:
    fig, axes = plt.subplots(len(metrics), 2, figsize=(11, 3.2 * len(metrics)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, metric in enumerate(metrics):
        for col, limit in enumerate((until, None)):
            ax = axes[row][col]
            for i, (label, dirs) in enumerate(arms.items()):
                runs = [r for d in dirs for r in read_runs(d, metric)]
                if not runs:
                    continue
                c = colours[i % len(colours)]
                for steps, values in runs:
                    keep = steps <= limit if limit else slice(None)
                    ax.plot(steps[keep], values[keep], color=c, alpha=0.25, lw=0.8)
                n = min(len(s) for s, _ in runs)  # same rollout size: rows line up by update
                steps = runs[0][0][:n]
                mean = np.mean([v[:n] for _, v in runs], axis=0)
                keep = steps <= limit if limit else slice(None)
                ax.plot(steps[keep], mean[keep], color=c, lw=2, label=f"{label} (n={len(runs)})")
            ax.set_title(f"{metric}, {'first ' + format(until, ',') + ' steps' if limit else 'whole budget'}")
            ax.set_xlabel("env steps")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e3:,.0f}k"))
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arms", nargs="+", help="LABEL=DIR[,DIR...]: an arm and the directories of its runs")
    ap.add_argument("--metrics", nargs="+", default=["charts/episodic_return"])
    ap.add_argument("--until", type=int, default=400_000, help="env steps of the left column")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    arms = {}
    for spec in args.arms:
        label, _, dirs = spec.partition("=")
        arms[label] = [Path(d) for d in dirs.split(",")]
    draw(arms, args.metrics, args.until, args.out)


if __name__ == "__main__":
    main()
