"""Style separation of InfoGAIL's codes vs plain GAIL on mixed-style demonstrations.

For every run of a sweep (`gailrun sweep experiment=infogail_styles`), plays deterministic episodes with
each latent code (InfoGAIL) or without (GAIL) and measures each episode's style statistic (mean cart
position). Reports, per run: the accuracy of the best code -> hidden-label mapping, the task score per
code, and the demonstrators' own statistics; writes a table and a histogram figure.

    python bench/infogail_styles.py SWEEP_DIR [SWEEP_DIR ...] [--episodes 20] \
        [--out docs/results/infogail_styles/NAME]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gailrun.algos.infogail.styles import (
    BETWEEN,
    best_mapping_accuracy,
    label_centres,
    play_code,
    style_statistic,
    styles_reproduced,
)
from gailrun.data.minari_io import read_dataset
from gailrun.models.policy import load_policy
from gailrun.run.sweep import find_jobs


def measure(run_dir: Path, episodes: int, centres: dict[str, float], checkpoint: str) -> dict:
    policy = load_policy(run_dir / checkpoint)
    config = json.loads((run_dir / "summary.json").read_text())
    codes = list(range(policy.n_codes)) if policy.n_codes else [None]
    reports = [play_code(policy, policy.env_id, c, episodes, seed=10_000, centres=centres) for c in codes]
    out = {
        "run": str(run_dir),
        "algo": config["algo"],
        "seed": config["seed"],
        "checkpoint": checkpoint,
        "per_code": [],
    }
    for rep in reports:
        out["per_code"].append(
            {
                "code": rep.code,
                "return_mean": float(rep.returns.mean()),
                "return_std": float(rep.returns.std()),
                "style_mean": float(rep.stats.mean()),
                "style_std": float(rep.stats.std()),
                "labels": {lab: rep.labels.count(lab) for lab in [*centres, BETWEEN]},
                "stats": rep.stats.tolist(),
            }
        )
    out["styles_reproduced"] = styles_reproduced([r.labels for r in reports], list(centres))
    if policy.n_codes:
        all_codes = [r.code for r in reports for _ in r.labels]
        all_labels = [lab for r in reports for lab in r.labels]
        acc, mapping = best_mapping_accuracy(all_codes, all_labels, list(centres))
        out["accuracy"], out["mapping"] = acc, {str(k): v for k, v in mapping.items()}
    return out


def figure(results: list[dict], demo_stats: dict[str, np.ndarray], path: Path) -> None:
    """One panel per run (codes map to styles differently in every run): demonstrators' histograms shaded,
    each code's episodes (or GAIL's) as outlines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted(results, key=lambda r: (r["algo"], r["seed"]))
    algos = sorted({r["algo"] for r in runs})
    per_algo = max(sum(r["algo"] == a for r in runs) for a in algos)
    cols = min(per_algo, 5)  # at most 5 panels a row: more seeds wrap onto more rows
    rows_per_algo = -(-per_algo // cols)
    fig, axes = plt.subplots(
        len(algos) * rows_per_algo,
        cols,
        figsize=(3.6 * cols, 2.8 * len(algos) * rows_per_algo),
        squeeze=False,
        sharex=True,
    )
    bins = np.linspace(-2.4, 2.4, 73)  # the whole track: CartPole ends an episode beyond |x| = 2.4
    for a, algo in enumerate(algos):
        mine = [r for r in runs if r["algo"] == algo]
        for k in range(rows_per_algo * cols):
            row, col = a * rows_per_algo + k // cols, k % cols
            ax = axes[row][col]
            if k >= len(mine):
                ax.axis("off")
                continue
            r = mine[k]
            for label, stats in demo_stats.items():
                ax.hist(stats, bins=bins, alpha=0.3, histtype="stepfilled", label=f"demos: {label}")
            for pc in r["per_code"]:
                name = "GAIL" if pc["code"] is None else f"code {pc['code']}"
                ax.hist(pc["stats"], bins=bins, histtype="step", linewidth=2, label=name)
            acc = f", accuracy {100 * r['accuracy']:.0f}%" if "accuracy" in r else ""
            ax.set_title(f"{algo}, seed {r['seed']}{acc}", fontsize=9)
            ax.legend(fontsize=6, loc="upper center")
            if row == len(axes) - 1:
                ax.set_xlabel("episode's mean cart position")
            if col == 0:
                ax.set_ylabel("episodes")
    fig.suptitle("Style of each episode: demonstrators vs each code (InfoGAIL) or GAIL, CartPole-v1")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", type=Path, nargs="+", help="sweep directories (their ok jobs are pooled)")
    ap.add_argument("--episodes", type=int, default=20, help="deterministic episodes per code and run")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/infogail_styles/styles"),
        help="path stem of the .md, .json and .png (default under the untracked outputs/)",
    )
    ap.add_argument(
        "--checkpoint",
        default="last.pt",
        help="which checkpoint of each run (last.pt: the final policy; CartPole saturates the true score, "
        "and so best.pt, long before the codes separate)",
    )
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="OVERRIDE",
        help="drop the jobs that override this key with another value (e.g. algo.d_epochs=5); repeatable",
    )
    args = ap.parse_args()
    jobs = [
        j
        for sweep in args.sweep
        for j in find_jobs(sweep)
        if j.status == "ok" and all(_keeps(j.overrides, o) for o in args.only)
    ]
    demos = read_dataset(
        json.loads((jobs[0].path / "summary.json").read_text()).get("expert_path")
        or _expert_path(jobs[0].path)
    )
    centres = label_centres(demos.episodes)
    centres_list = list(centres)
    demo_stats = {
        lab: style_statistic([e for e in demos.episodes if e.attrs.get("style") == lab]) for lab in centres
    }
    results = [measure(j.path, args.episodes, centres, args.checkpoint) for j in jobs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure(results, demo_stats, args.out.with_suffix(".png"))
    labels = (
        [centres_list[0], BETWEEN, *centres_list[1:]] if len(centres_list) == 2 else [*centres_list, BETWEEN]
    )
    demo_text = ", ".join(f"{k} {v:+.2f} ({len(demo_stats[k])} episodes)" for k, v in centres.items())
    lines = [
        f"Demonstrations' mean cart position: {demo_text}.",
        f"Each row: {args.episodes} deterministic episodes per code of each run's {args.checkpoint},",
        "seed 10000. An episode has a demonstrator's style when its mean cart position is nearer that",
        "demonstrator's mean than the average of both (else it is *between*, never a match); accuracy uses",
        "the best code-to-label mapping. A style is reproduced when some code (or GAIL's policy) plays it in",
        ">= 90% of its episodes.",
        "",
        f"| algo | seed | code | return | mean cart position | episodes {' / '.join(labels)} "
        "| style accuracy | styles reproduced |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: | --- |",
    ]
    for r in sorted(results, key=lambda r: (r["algo"], r["seed"])):
        for pc in r["per_code"]:
            counts = " / ".join(str(pc["labels"].get(lab, 0)) for lab in labels)
            acc = f"{100 * r['accuracy']:.0f}%" if "accuracy" in r else "n/a"
            code = "-" if pc["code"] is None else f"{pc['code']} -> {r['mapping'].get(str(pc['code']))}"
            reproduced = ", ".join(r["styles_reproduced"]) or "none"
            lines.append(
                f"| {r['algo']} | {r['seed']} | {code} | {pc['return_mean']:.1f} +- {pc['return_std']:.1f} | "
                f"{pc['style_mean']:+.2f} +- {pc['style_std']:.2f} | {counts} | {acc} | {reproduced} |"
            )
    lines += ["", *verdict(results, len(centres)), "", *per_seed(results)]
    table = "\n".join(lines) + "\n"
    args.out.with_suffix(".md").write_text(
        f"# InfoGAIL style separation\n\nSweeps: {', '.join(f'`{d}`' for d in args.sweep)}"
        f"{' (jobs with ' + ', '.join(f'`{o}`' for o in args.only) + ')' if args.only else ''}\n\n{table}"
        f"\n![styles]({args.out.with_suffix('.png').name})\n"
    )
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    print(table)


def verdict(results: list[dict], n_styles: int) -> list[str]:
    """The issue's two criteria over seeds: InfoGAIL's separation at >= 90% with every code at the expert's
    level (CartPole >= 475), and whether plain GAIL sits between the styles."""
    info = [r for r in results if "accuracy" in r]
    gail = [r for r in results if "accuracy" not in r]
    out = []
    if info:
        separated = [
            r for r in info if r["accuracy"] >= 0.9 and all(pc["return_mean"] >= 475 for pc in r["per_code"])
        ]
        accs = np.array([r["accuracy"] for r in info])
        out.append(
            f"InfoGAIL: {len(separated)} of {len(info)} seeds separate the styles (accuracy >= 90% and every "
            f"code's return >= 475); accuracy {100 * accs.mean():.0f}% +- {100 * accs.std():.0f}% over seeds."
        )
    if gail:
        between = [
            r for r in gail if r["per_code"][0]["labels"].get(BETWEEN, 0) > len(r["per_code"][0]["stats"]) / 2
        ]
        one = [r for r in gail if len(r["styles_reproduced"]) == 1]
        out.append(
            f"GAIL: {len(between)} of {len(gail)} seeds play between the styles (most episodes *between*), "
            f"{len(one)} reproduce one demonstrator's style only, "
            f"{sum(len(r['styles_reproduced']) == n_styles for r in gail)} reproduce both."
        )
    for name, runs in (("InfoGAIL", info), ("GAIL", gail)):
        if runs:
            n = np.array([len(r["styles_reproduced"]) for r in runs])
            out.append(f"Styles reproduced per seed, {name}: {n.mean():.1f} of {n_styles} on average.")
    return out


def _keeps(overrides: list[str], only: str) -> bool:
    key = only.split("=", 1)[0] + "="
    return only in overrides or not any(o.startswith(key) for o in overrides)


def per_seed(results: list[dict]) -> list[str]:
    """One row per seed, both algorithms side by side: each code's style, position and return."""

    def cell(pc: dict) -> str:
        style = max(pc["labels"], key=pc["labels"].get)  # what most of its episodes play, not the mapping
        return f"{style} {pc['style_mean']:+.2f}, {pc['return_mean']:.1f} +- {pc['return_std']:.1f}"

    seeds = sorted({r["seed"] for r in results})
    lines = [
        "| seed | InfoGAIL, each code: most episodes' style, mean cart position, return | accuracy "
        "| GAIL: the same |",
        "| ---: | --- | ---: | --- |",
    ]
    for seed in seeds:
        info = [r for r in results if r["seed"] == seed and "accuracy" in r]
        gail = [r for r in results if r["seed"] == seed and "accuracy" not in r]
        codes = "; ".join(cell(pc) for r in info for pc in r["per_code"]) or "-"
        acc = " ".join(f"{100 * r['accuracy']:.0f}%" for r in info) or "-"
        plain = "; ".join(cell(r["per_code"][0]) for r in gail) or "-"
        lines.append(f"| {seed} | {codes} | {acc} | {plain} |")
    return lines


def _expert_path(run_dir: Path) -> str:
    import yaml

    return yaml.safe_load((run_dir / "config.yaml").read_text())["expert"]["path"]


if __name__ == "__main__":
    main()
