"""Reward-free model selection against the oracle: every criterion's choice, best_irl.pt and last.pt beside
best.pt (chosen by the env's true return), over the runs of one study.

Reads each run's summary.json (its `selection` block, written by `gailrun train` for algo=gail|infogail):
every criterion's chosen candidate was evaluated over the run's final-evaluation episodes. Prints (and with
--out writes) a Markdown table: the mean over runs of each choice's return, its ratio to the oracle's mean,
and on how many runs it scored below last.pt.

    python bench/selection_study.py outputs/dev/gcp100k/v1 --title "GAIL CartPole" --out docs/results/x.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

OTHER = ("best_irl.pt", "last.pt")


def read_runs(dirs: list[Path], styles: int = 0) -> list[dict]:
    """Each run's choices; with `styles` > 0 (InfoGAIL) also how many hidden styles each choice reproduces,
    over `styles` deterministic episodes per code (bench/infogail_styles.py's measure)."""
    runs = []
    for d in dirs:
        for path in sorted(d.rglob("summary.json")):
            summary = json.loads(path.read_text())
            if "selection" not in summary:
                continue
            sel, evals = summary["selection"], summary.get("evaluations", {})
            row = {"run": str(path.parent), "seed": summary.get("seed"), "oracle": sel.get("oracle_mean")}
            row.update({f"rf:{c}": v["mean"] for c, v in sel["by_criterion"].items()})
            row.update({name: evals[name]["mean"] for name in OTHER if name in evals})
            row["headline"] = sel["criterion"]
            if styles:
                row["styles"] = style_counts(path.parent, summary, styles)
            runs.append(row)
    return runs


def style_counts(run: Path, summary: dict, episodes: int) -> dict[str, int]:
    import sys

    import yaml

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from infogail_styles import measure

    from gailrun.algos.infogail.styles import label_centres
    from gailrun.data.minari_io import read_dataset

    demos = read_dataset(yaml.safe_load((run / "config.yaml").read_text())["expert"]["path"])
    centres = label_centres(demos.episodes)
    chosen = json.loads((run / "rf_selection.json").read_text())["chosen"]
    paths = {"oracle": "best.pt", **{f"rf:{c}": v["checkpoint"] for c, v in chosen.items()}}
    paths.update({name: name for name in OTHER})
    return {k: len(measure(run, episodes, centres, p)["styles_reproduced"]) for k, p in paths.items()}


def table(runs: list[dict], title: str) -> str:
    columns = [c for c in runs[0] if c.startswith("rf:")] + [c for c in OTHER if c in runs[0]]
    oracle = np.array([r["oracle"] for r in runs], dtype=float)
    last = np.array([r.get("last.pt", np.nan) for r in runs], dtype=float)
    lines = [
        f"## {title}",
        "",
        f"{len(runs)} runs; headline criterion `{runs[0]['headline']}`. Each cell: mean over runs of the "
        "chosen checkpoint's final evaluation; ratio = mean / oracle mean; below last = runs where the "
        "choice scored lower than last.pt.",
        "",
        "| choice | mean return | ratio to oracle | below last.pt | per run |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| best.pt (oracle: true return) | {oracle.mean():.1f} | 1.000 | "
        f"{int((oracle < last).sum())} | {', '.join(f'{v:.1f}' for v in oracle)} |",
    ]
    for c in columns:
        v = np.array([r.get(c, np.nan) for r in runs], dtype=float)
        ratio = v.mean() / oracle.mean() if oracle.mean() else float("nan")
        lines.append(
            f"| {c} | {v.mean():.1f} | {ratio:.3f} | {int((v < last).sum())} | "
            f"{', '.join(f'{x:.1f}' for x in v)} |"
        )
    if "styles" in runs[0]:
        lines += [
            "",
            "Hidden styles reproduced (of 2) by each choice, per run: "
            + "; ".join(f"{k} {', '.join(str(r['styles'][k]) for r in runs)}" for k in runs[0]["styles"]),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--title", default="reward-free selection")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--styles", type=int, default=0, help="InfoGAIL: episodes per code to count styles")
    args = ap.parse_args()
    runs = read_runs(args.dirs, args.styles)
    if not runs:
        raise SystemExit(f"no summary.json with a selection block under {', '.join(map(str, args.dirs))}")
    text = table(runs, args.title)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
