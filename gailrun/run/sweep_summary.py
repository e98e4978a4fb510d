"""Sweep summaries: one row per configuration (the job's overrides minus its seed) with the mean, std and a
95% Student-t interval over seeds of the final evaluation return, as CSV and Markdown.

The jobs are read by `gailrun.run.sweep`. Failed jobs are counted, never silently dropped. When boolean
overrides vary across jobs (the Optuna switch search), a marginal table gives each switch's mean
objective on vs off. The interval's rule lives in `gailrun.report.stats.mean_ci` (shared with `gailrun
report`), imported where it is used: `gailrun.report` itself imports this module.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gailrun.run.sweep import Job, find_jobs

if TYPE_CHECKING:
    from gailrun.report.stats import Interval

SUMMARY_STATS = "mean, std (ddof=0) and a 95% Student-t interval of the mean over seeds"  # summary.md's intro


@dataclass
class Row:
    config: str
    finals: list[float] = field(default_factory=list)
    finals_irl: list[float] = field(default_factory=list)
    finals_oracle: list[float] = field(default_factory=list)
    finals_both: list[tuple[float, float]] = field(default_factory=list)  # (headline, oracle) of each run
    headlines: set[str] = field(default_factory=set)
    seeds: list[int] = field(default_factory=list)
    failed: int = 0

    def entry(self) -> dict[str, Any]:
        """The row's summary.csv record: its counts, then `stats` of the headline checkpoint and (GAIL) of
        the oracle best.pt with the mean gap oracle - headline, and of best_irl.pt."""
        entry = {"config": self.config, "seeds_ok": len(self.finals), "failed": self.failed}
        entry["checkpoint"] = "/".join(sorted(self.headlines)) or "best.pt"
        entry.update(stats(self.finals))
        if self.finals_oracle:
            entry.update({"oracle_seeds_ok": len(self.finals_oracle), **stats(self.finals_oracle, "oracle_")})
            entry["oracle_gap"] = oracle_gap(self.finals_both)
        if self.finals_irl:
            entry.update({"irl_seeds_ok": len(self.finals_irl), **stats(self.finals_irl, "irl_")})
        return entry


def oracle_gap(both: list[tuple[float, float]]) -> float | None:
    """Mean over runs of oracle - headline, each run against itself (None without such runs)."""
    return float(np.mean([o - h for h, o in both])) if both else None


def stats(values: list[float], prefix: str = "") -> dict[str, Any]:
    """Mean, std (population, ddof=0) and the mean's 95% interval; None where there is none (n < 2)."""
    from gailrun.report.stats import mean_ci

    ci = mean_ci(values)
    out = {
        "mean": float(np.mean(values)) if values else None,
        "std": float(np.std(values)) if values else None,
        "ci_low": ci.low if ci.exists else None,
        "ci_high": ci.high if ci.exists else None,
        "ci_method": ci.method,
    }
    return {f"{prefix}{k}": v for k, v in out.items()}


def summarize(sweep_dirs: Path | Sequence[Path], out: Path | None = None) -> dict[str, Any]:
    """Write summary.csv / summary.md (and marginals.* when switches vary) into `out` (default: the first
    sweep directory). Several sweep directories are one study: a study run in parts (an agent at a time,
    or seeds 1-4 then seed 5) is summarized as if it had been one sweep."""
    dirs = [Path(sweep_dirs)] if isinstance(sweep_dirs, str | Path) else [Path(d) for d in sweep_dirs]
    sweep_dir = Path(out) if out is not None else dirs[0]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    jobs = [job for d in dirs for job in find_jobs(d)]
    common = set.intersection(*(set(j.overrides) for j in jobs)) if len(jobs) > 1 else set()
    rows: dict[str, Row] = {}
    for job in jobs:
        label = job.config(common)
        row = rows.setdefault(label, Row(label))
        if job.status != "ok" or job.final is None:
            row.failed += 1
            continue
        row.finals.append(float(job.final))
        row.headlines.add(job.headline)
        if job.final_oracle is not None:
            row.finals_oracle.append(float(job.final_oracle))
            row.finals_both.append((float(job.final), float(job.final_oracle)))
        row.seeds.append(job.seed if job.seed is not None else -1)
        if job.final_irl is not None:
            row.finals_irl.append(float(job.final_irl))
    table = summary_table(list(rows.values()))
    failed = [j for j in jobs if j.status != "ok"]
    text = _summary_md(table, jobs, failed, sweep_dir, several=len(dirs) > 1)
    _write_table(sweep_dir / "summary", table, text)
    result = {"jobs": len(jobs), "failed": len(failed), "rows": table}
    marg = marginals(jobs)
    if marg:
        _write_table(sweep_dir / "marginals", marg, _marginals_md(marg))
        result["marginals"] = marg
    return result


def summary_table(rows: list[Row]) -> list[dict[str, Any]]:
    """summary.csv's records, best mean first (configurations without a successful job last)."""
    table = [row.entry() for row in rows]
    table.sort(key=lambda e: -math.inf if e["mean"] is None else e["mean"], reverse=True)
    return table


def marginals(jobs: list[Job]) -> list[dict[str, Any]]:
    """Mean objective with each boolean override on vs off, over successful jobs (the study's table)."""
    by_key: dict[str, dict[bool, list[float]]] = defaultdict(lambda: {True: [], False: []})
    for job in jobs:
        if job.status != "ok" or job.objective is None:
            continue
        for o in job.overrides:
            key, _, value = o.partition("=")
            if value.lower() in ("true", "false") and not key.startswith("hydra"):
                by_key[key][value.lower() == "true"].append(float(job.objective))
    from gailrun.report.stats import diff_ci, mean_ci

    out = []
    for key, groups in sorted(by_key.items()):
        on, off = groups[True], groups[False]
        if on and off:
            ci_on, ci_off, ci_diff = mean_ci(on), mean_ci(off), diff_ci(on, off)
            out.append(
                {
                    "switch": key,
                    "on_mean": float(np.mean(on)),
                    "off_mean": float(np.mean(off)),
                    "on_trials": len(on),
                    "off_trials": len(off),
                    "on_ci_low": ci_on.low if ci_on.exists else None,
                    "on_ci_high": ci_on.high if ci_on.exists else None,
                    "off_ci_low": ci_off.low if ci_off.exists else None,
                    "off_ci_high": ci_off.high if ci_off.exists else None,
                    "diff": float(np.mean(on) - np.mean(off)),
                    "diff_ci_low": ci_diff.low if ci_diff.exists else None,
                    "diff_ci_high": ci_diff.high if ci_diff.exists else None,
                }
            )
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def _summary_md(
    table: list[dict[str, Any]], jobs: list[Job], failed: list[Job], sweep_dir: Path, several: bool = False
) -> str:
    lines = [
        f"# Sweep summary: {sweep_dir.name}",
        "",
        f"{len(jobs)} jobs, {len(failed)} failed. Final evaluation return of each job's headline checkpoint "
        f"(100 deterministic episodes unless the job set final_eval otherwise): best.pt for PPO (chosen by "
        f"the true return), best_rf.pt for GAIL and InfoGAIL (chosen without it; their best.pt is shown "
        f"beside it as an oracle, with the gap oracle - headline); {SUMMARY_STATS}.",
        "",
        *config_table_md(table),
    ]
    if failed:
        lines += ["", "Failed jobs:", ""]
        lines += [f"- `{_job_name(j, several)}` (`{' '.join(j.overrides)}`): {j.error}" for j in failed]
    common = set.intersection(*(set(j.overrides) for j in jobs)) if jobs else set()
    lines += _jobs_md(jobs, common, several)
    return "\n".join(lines) + "\n"


def config_table_md(table: list[dict[str, Any]]) -> list[str]:
    """The per-configuration table of summary.md, headers naming the interval's method and n, and a note."""
    from gailrun.report.stats import MEAN_CI_NOTE, Interval, ci_header

    cis = [Interval.from_fields(e, e["seeds_ok"]) for e in table]
    has_irl = any("irl_mean" in e for e in table)
    irl_cis = [Interval.from_fields(e, e.get("irl_seeds_ok", 0), "irl_") for e in table]
    has_oracle = any("oracle_mean" in e for e in table)
    oracle_cis = [Interval.from_fields(e, e.get("oracle_seeds_ok", 0), "oracle_") for e in table]
    head = f"| configuration | checkpoint | seeds | mean | std | {ci_header(cis)} | failed |"
    sep = "| --- | --- | ---: | ---: | ---: | --- | ---: |"
    if has_oracle:
        head += f" oracle best.pt mean | oracle {ci_header(oracle_cis)} | gap oracle - headline |"
        sep += " ---: | --- | ---: |"
    if has_irl:
        head += f" best_irl.pt mean | best_irl.pt {ci_header(irl_cis)} |"
        sep += " ---: | --- |"
    lines = [head, sep]
    for e, ci, irl_ci, oracle_ci in zip(table, cis, irl_cis, oracle_cis, strict=True):
        line = (
            f"| `{e['config']}` | {e.get('checkpoint', 'best.pt')} | {e['seeds_ok']} | {_fmt(e['mean'])} | "
        )
        line += f"{_fmt(e['std'])} | {_fmt_ci(ci)} | {e['failed']} |"
        if has_oracle:
            line += f" {_fmt(e.get('oracle_mean'))} | {_fmt_ci(oracle_ci)} | {_fmt(e.get('oracle_gap'))} |"
        if has_irl:
            line += f" {_fmt(e.get('irl_mean'))} | {_fmt_ci(irl_ci)} |"
        lines.append(line)
    return [*lines, "", MEAN_CI_NOTE]


def _fmt_ci(ci: Interval) -> str:
    """`[10.1, 14.0]`, `n=1, no interval`, or `n/a` for a configuration without a successful job."""
    if ci.exists:
        return f"[{_fmt(ci.low)}, {_fmt(ci.high)}]"
    return ci.describe() if ci.n else "n/a"


def _job_name(job: Job, several: bool) -> str:
    """The job's folder (`3`), with its sweep's (`part2/3`) when several sweeps are summarized together."""
    return f"{job.path.parent.name}/{job.path.name}" if several else job.path.name


def _jobs_md(jobs: list[Job], common: set[str], several: bool = False) -> list[str]:
    """Every job's own claim: env, steps, seed, wall time, and each evaluated checkpoint's mean +- std."""
    lines = [
        "",
        "Every job: each final evaluation as mean +- std over its episodes (deterministic, seed 9999).",
        "",
        "| job | configuration | seed | env | env steps | wall time (s) | evaluations |",
        "| --- | --- | ---: | --- | ---: | ---: | --- |",
    ]
    for j in jobs:
        name = _job_name(j, several)
        if j.status != "ok":
            lines.append(f"| `{name}` | `{j.config(common)}` | {j.seed} | | | | {j.status} |")
            continue
        evals = "; ".join(
            f"{name} {e['mean']:.1f}"
            + (f" +- {e['std']:.1f}" if e.get("std") is not None else "")
            + f" ({e.get('episodes', '?')} ep.)"
            for name, e in j.evals.items()
            if e.get("mean") is not None
        )
        steps = j.run.get("env_steps") or j.run.get("epochs")
        wall = j.run.get("wall_time_s")
        lines.append(
            f"| `{name}` | `{j.config(common)}` | {j.seed} | {j.run.get('env_id')} | {steps} | "
            f"{_fmt(float(wall)) if wall is not None else 'n/a'} | {evals} |"
        )
    return lines


def _marginals_md(marg: list[dict[str, Any]]) -> str:
    def ci(m: dict[str, Any], key: str) -> str:
        low, high = m.get(f"{key}_ci_low"), m.get(f"{key}_ci_high")
        return "n/a" if low is None or high is None else f"[{low:.1f}, {high:.1f}]"

    lines = [
        "# Switch marginals",
        "",
        "Mean objective (best average return over 100 training episodes) of the trials with each switch on "
        "vs off, each with a 95% Student-t interval over its trials, and the difference on - off with "
        "Welch's interval. A search's trials are not a random sample (TPE samples more where it scored "
        "well), so the intervals describe these trials, not a designed comparison.",
        "",
        "| switch | on | on 95% CI | off | off 95% CI | on - off | Welch 95% CI | trials on | trials off |",
        "| --- | ---: | --- | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    lines += [
        f"| `{m['switch']}` | {m['on_mean']:.1f} | {ci(m, 'on')} | {m['off_mean']:.1f} | {ci(m, 'off')} | "
        f"{m['diff']:.1f} | {ci(m, 'diff')} | {m['on_trials']} | {m['off_trials']} |"
        for m in marg
    ]
    return "\n".join(lines) + "\n"


def _write_table(stem: Path, table: list[dict[str, Any]], markdown: str) -> None:
    from gailrun.report.document import write_csv

    write_csv(stem.with_suffix(".csv"), table)
    stem.with_suffix(".md").write_text(markdown)
