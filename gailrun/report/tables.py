"""The report's tables: final evaluation return per configuration, per-switch ablations, and the pairwise
probability-of-improvement matrix.

A run's score is its final evaluation return (the mean over the evaluation episodes of its headline
checkpoint, as in summary.json); every statistic below treats runs (seeds), not episodes, as the samples.
Each interval's method and run count is in its column's header and its CSV record (`*ci_method`); see
`stats` for why the mean gets Student-t and the IQM and P(X > Y) a labelled bootstrap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gailrun.report.document import Table, fmt, fmt_ci
from gailrun.report.load import Study
from gailrun.report.stats import (
    BOOTSTRAP_NOTE,
    MEAN_CI_NOTE,
    Interval,
    bootstrap_iqm_ci,
    bootstrap_poi_ci,
    ci_header,
    iqm,
    mean_ci,
    prob_improvement,
)
from gailrun.run.sweep_summary import oracle_gap


def scores(study: Study, label: str) -> list[float]:
    return [r.score for r in study.by_label.get(label, []) if math.isfinite(r.score)]


def config_records(study: Study) -> list[dict[str, Any]]:
    """One record per configuration, including those whose every job failed."""
    failed: dict[str, int] = {}
    for _, label in study.not_ok:
        failed[label] = failed.get(label, 0) + 1
    labels = study.labels + [lb for lb in failed if lb not in study.labels]
    out = []
    for label in labels:
        runs = study.by_label.get(label, [])
        x = scores(study, label)
        ci, iqm_ci = mean_ci(x), bootstrap_iqm_ci(x)
        irl = [float(r.job.final_irl) for r in runs if r.job.final_irl is not None]
        both = [
            (r.score, float(r.job.final_oracle))
            for r in runs
            if r.job.final_oracle is not None and math.isfinite(r.score)
        ]
        rec: dict[str, Any] = {
            "config": label,
            "runs": len(x),
            "failed": failed.get(label, 0),
            "seeds": sorted(r.job.seed for r in runs if r.job.seed is not None),
            "episodes": sum(len(r.eval_returns) for r in runs),
            "mean": float(np.mean(x)) if x else math.nan,
            "std": float(np.std(x)) if x else math.nan,
            **ci.fields(),
            "iqm": iqm(x),
            **iqm_ci.fields("iqm_"),
        }
        if both:
            rec["oracle_mean"] = float(np.mean([o for _, o in both]))
            rec["oracle_gap"] = oracle_gap(both)
        if irl:
            rec["best_irl_mean"] = float(np.mean(irl))
        out.append(rec)
    return out


def config_table(study: Study) -> Table:
    records = config_records(study)
    has_irl = any("best_irl_mean" in r for r in records)
    cis = [Interval.from_fields(r, r["runs"]) for r in records]
    iqm_cis = [Interval.from_fields(r, r["runs"], "iqm_") for r in records]
    columns = ["configuration", "runs", "failed", "seeds"]
    columns += [f"mean [{ci_header(cis)}]", "std", f"IQM [{ci_header(iqm_cis)}]"]
    has_oracle = any("oracle_mean" in r for r in records)
    columns += ["oracle best.pt mean", "gap oracle - headline"] if has_oracle else []
    columns += ["best_irl.pt mean"] if has_irl else []
    rows = []
    for r, ci, iqm_ci in zip(records, cis, iqm_cis, strict=True):
        row = [
            f"`{r['config']}`",
            str(r["runs"]),
            str(r["failed"]),
            " ".join(str(s) for s in r["seeds"]) or "-",
            fmt_ci(r["mean"], ci),
            fmt(r["std"]),
            fmt_ci(r["iqm"], iqm_ci),
        ]
        if has_oracle:
            row += [fmt(r.get("oracle_mean", math.nan)), fmt(r.get("oracle_gap", math.nan))]
        if has_irl:
            row.append(fmt(r.get("best_irl_mean")))
        rows.append(row)
    caption = (
        "Final evaluation return of each run's headline checkpoint (best.pt; for GAIL and InfoGAIL "
        "best_rf.pt, chosen without the true reward, with the oracle best.pt beside it), summarized over "
        "runs: mean and std (population, ddof=0) over runs; IQM = interquartile mean (mean of the runs left "
        "after dropping the lowest and highest quarter, rounded down; with fewer than 4 runs it equals the "
        f"mean). {MEAN_CI_NOTE} {BOOTSTRAP_NOTE}"
    )
    return Table(
        "configurations", "Final evaluation return per configuration", caption, columns, rows, records
    )


def switch_groups(study: Study) -> dict[str, dict[bool, list[Any]]]:
    """For each `ppo_opts` switch that is on in some runs and off in others: the runs of each side."""
    groups: dict[str, dict[bool, list[Any]]] = {}
    for run in study.runs:
        if not math.isfinite(run.score):
            continue
        for key, value in run.switches.items():
            groups.setdefault(key, {True: [], False: []})[value].append(run)
    return {k: g for k, g in sorted(groups.items()) if g[True] and g[False]}


def ablation_table(study: Study) -> Table | None:
    groups = switch_groups(study)
    if not groups:
        return None
    records, rows = [], []
    cis: dict[str, list[Interval]] = {"on": [], "off": [], "p": []}
    for key, g in groups.items():
        on = [r.score for r in g[True]]
        off = [r.score for r in g[False]]
        on_ci, off_ci, p_ci = bootstrap_iqm_ci(on), bootstrap_iqm_ci(off), bootstrap_poi_ci(on, off)
        cis["on"].append(on_ci)
        cis["off"].append(off_ci)
        cis["p"].append(p_ci)
        rec = {
            "switch": f"ppo_opts.{key}",
            "runs_on": len(on),
            "runs_off": len(off),
            "iqm_on": iqm(on),
            **on_ci.fields("iqm_on_"),
            "iqm_off": iqm(off),
            **off_ci.fields("iqm_off_"),
            "p_on_beats_off": prob_improvement(on, off),
            **p_ci.fields("p_"),
            "configs_on": sorted({r.label for r in g[True]}),
            "configs_off": sorted({r.label for r in g[False]}),
        }
        records.append(rec)
        rows.append(
            [
                f"`{rec['switch']}`",
                f"{rec['runs_on']} / {rec['runs_off']}",
                fmt_ci(rec["iqm_on"], on_ci),
                fmt_ci(rec["iqm_off"], off_ci),
                fmt_ci(rec["p_on_beats_off"], p_ci, digits=2),
                ", ".join(f"`{lb}`" for lb in rec["configs_on"]),
            ]
        )
    caption = (
        "Each `ppo_opts` switch that is on in some runs and off in others (read from each job's resolved "
        "config.yaml): IQM of the final evaluation return of the runs with it on vs off, and P(on > off), "
        "the probability that a run with the switch on scores higher than one with it off, estimated over "
        "all pairs of runs (ties count one half), as in rliable. The intervals resample runs with "
        f"replacement (each side separately for P). {BOOTSTRAP_NOTE} The other switches are not held "
        "fixed: when configurations differ in several switches at once, their rows split the runs alike."
    )
    columns = [
        "switch",
        "runs on / off",
        f"IQM on [{ci_header(cis['on'])}]",
        f"IQM off [{ci_header(cis['off'])}]",
        f"P(on > off) [{ci_header(cis['p'], ' in the smaller arm')}]",
        "configurations with it on",
    ]
    return Table("ablation", "Ablation per switch", caption, columns, rows, records)


def improvement_table(study: Study) -> Table | None:
    labels = [lb for lb in study.labels if scores(study, lb)]
    if len(labels) < 2:
        return None
    records, rows, cis = [], [], []
    for a in labels:
        row = [f"`{a}`"]
        for b in labels:
            if a == b:
                row.append("-")
                continue
            p = prob_improvement(scores(study, a), scores(study, b))
            ci = bootstrap_poi_ci(scores(study, a), scores(study, b))
            cis.append(ci)
            records.append({"config_x": a, "config_y": b, "p_x_beats_y": p, **ci.fields()})
            row.append(fmt_ci(p, ci, digits=2))
        rows.append(row)
    caption = (
        "P(row > column): the probability that a run of the row's configuration has a higher final "
        "evaluation return than a run of the column's, over all pairs of runs (ties count one half), with "
        f"its interval, resampling each configuration's runs: {ci_header(cis, ' in the smaller arm')}. "
        f"{BOOTSTRAP_NOTE} 0.5 means no difference; P(a > b) + P(b > a) = 1."
    )
    columns = ["P(row > column)", *(f"`{b}`" for b in labels)]
    return Table(
        "prob_improvement",
        "Probability of improvement between configurations",
        caption,
        columns,
        rows,
        records,
    )
