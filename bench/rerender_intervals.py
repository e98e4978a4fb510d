"""Re-render the intervals of the committed sweep summaries and reports under docs/results with the
current rule (`gailrun.report.stats`: Student-t for the mean, labelled bootstrap for the IQM and P(X > Y)).

`gailrun summarize` / `gailrun report` cannot simply be rerun: the per-job inputs (summary.json, eval.json,
metrics.csv) were never committed. So the per-run scores are recovered from what was committed, read at
`SOURCE` (the last commit with the old percentile-bootstrap outputs), which makes this script re-runnable:

- A CSV row with at most 3 runs gives every run's score at full precision: the old bootstrap interval of
  the mean was then exactly [min, max] (an extreme resample has probability >= 1/27 > 2.5%), and the
  middle run is 3 * mean - min - max. Each recovery is checked against the CSV's std and the job table.
- A summary.md without a CSV row for a configuration uses its job table's scores, rounded to 0.1, for the
  interval (its bounds may move by about 0.1), and keeps the committed (exact) mean and std cells.

Rewritten, through gailrun's own table code: summary.md's configuration table and intro (the job table is
kept), summary.csv, report/{configurations,ablation,prob_improvement}.csv, report.md's tables and the
score-bar figure eval_bar.png with its caption. The learning-curve figures need metrics.csv, so they keep
their old bootstrap band and their captions now say so.

    python bench/rerender_intervals.py [--results docs/results]
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import subprocess
from pathlib import Path

import numpy as np

from gailrun.report import figures, tables
from gailrun.report.document import Block, Figure, Table, to_markdown, write_csv
from gailrun.report.load import Run, Study
from gailrun.run.sweep import Job
from gailrun.run.sweep_summary import SUMMARY_STATS, Row, config_table_md, summary_table

SOURCE = "c79d878"  # docs/results as written by the percentile-bootstrap code
REPO = Path(__file__).resolve().parent.parent
OLD_INTRO = "mean, std and a 95% bootstrap interval over seeds"
OLD_BAND = (
    "Shaded: pointwise 95% percentile bootstrap interval of that mean (1000 resamples of the seeds; none "
    "with one seed)."
)
OLD_BAND_NOTE = (
    "Shaded: pointwise 95% percentile bootstrap interval of that mean (1000 resamples of the seeds), drawn "
    "before intervals became Student-t: with 3 seeds it spans about the seeds' range and covers the mean "
    "less often than 95%. The runs' metrics.csv are not committed, so this figure was not redrawn."
)
TABLES = {"configurations": tables.config_table, "ablation": tables.ablation_table}
TABLES["prob_improvement"] = tables.improvement_table


def committed(path: Path) -> str | None:
    """The file's text at SOURCE, or None where it did not exist then."""
    rel = path.resolve().relative_to(REPO).as_posix()
    res = subprocess.run(["git", "show", f"{SOURCE}:{rel}"], cwd=REPO, capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else None


def read_csv_text(text: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text else []


# --- per-run scores ------------------------------------------------------------------------------------


def recover(row: dict[str, str], n: int, prefix: str = "") -> list[float] | None:
    """Every run's score from an old CSV row of at most 3 runs (see the module docstring), else None."""
    try:
        mean = float(row[f"{prefix}mean"])
        lo, hi = float(row[f"{prefix}ci_low"]), float(row[f"{prefix}ci_high"])
        std = float(row[f"{prefix}std"])
    except (KeyError, ValueError):
        return None
    values = {1: [mean], 2: [lo, hi], 3: [lo, 3 * mean - lo - hi, hi]}.get(n)
    if values is None or not math.isclose(float(np.std(values)), std, rel_tol=1e-6, abs_tol=1e-9):
        return None
    return values


def matched(precise: list[float] | None, rounded: list[float]) -> list[float] | None:
    """`precise` in the order of `rounded` (the job table's seeds) if they agree to 0.1, else None."""
    if precise is None or len(precise) != len(rounded):
        return None
    left, out = sorted(precise), []
    for r in rounded:
        best = min(left, key=lambda p: abs(p - r))
        if abs(best - r) > 0.05 + 1e-9:
            return None
        left.remove(best)
        out.append(best)
    return out


# --- summary.md / summary.csv --------------------------------------------------------------------------

JOB_ROW = re.compile(
    r"^\| `(?P<job>[^`]+)` \| `(?P<config>[^`]*)` \| (?P<seed>[^|]*) \|.*\| (?P<evals>[^|]*) \|$"
)
EVAL = re.compile(r"(?P<name>[\w.]+\.pt) (?P<mean>-?\d+(?:\.\d+)?)")


def job_rows(md: str) -> list[Row]:
    """One Row per configuration, in job order, with the job table's (rounded) scores and failures."""
    rows: dict[str, Row] = {}
    in_jobs = False
    for line in md.splitlines():
        in_jobs = in_jobs or line.startswith("| job | configuration | seed |")
        m = JOB_ROW.match(line) if in_jobs else None
        if not m:
            continue
        row = rows.setdefault(m["config"], Row(m["config"]))
        evals = {e["name"]: float(e["mean"]) for e in EVAL.finditer(m["evals"])}
        if "best.pt" not in evals:
            row.failed += 1
            continue
        row.finals.append(evals["best.pt"])
        row.seeds.append(int(m["seed"]) if m["seed"].strip().lstrip("-").isdigit() else -1)
        if "best_irl.pt" in evals:
            row.finals_irl.append(evals["best_irl.pt"])
    return list(rows.values())


def sharpen(rows: list[Row], precise: dict[str, dict[str, str]]) -> list[str]:
    """Replace rounded scores by full-precision ones where a CSV row gives them; name the rows that stay."""
    rounded = []
    for row in rows:
        rec = precise.get(row.config)
        for attr, prefix in (("finals", ""), ("finals_irl", "irl_")):
            values = getattr(row, attr)
            if not values:
                continue
            exact = matched(recover(rec, len(values), prefix) if rec else None, values)
            if exact is None:
                rounded.append(f"{row.config} ({attr})")
            setattr(row, attr, exact or values)
    return rounded


def splice_table(md: str, new_lines: list[str]) -> str:
    """Replace summary.md's configuration table (its first table) by `new_lines`."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| configuration | seeds |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    tail = "\n" if md.endswith("\n") else ""
    return "\n".join([*lines[:start], *new_lines, *lines[end:]]) + tail


def rerender_summary(md_path: Path) -> list[str]:
    """Rewrite one summary.md (and its summary.csv when one was committed); return notes for the log.

    A file may hold several summaries (a `## Sweep summary:` section per sweep): each is redone alone.
    """
    old_md = committed(md_path)
    if old_md is None:
        return [f"{md_path}: not in {SOURCE}, skipped"]
    csv_path = md_path.with_suffix(".csv")
    old_csv = committed(csv_path) if md_path.name == "summary.md" else None
    precise = {r["config"]: r for r in read_csv_text(old_csv)}
    report_csv = committed(md_path.parent / "report" / "configurations.csv")
    for r in read_csv_text(report_csv):  # same scores, no irl columns: used where summary.csv is missing
        precise.setdefault(r["config"], r)
    notes, parts = [f"{md_path}"], []
    for section in re.split(r"(?m)^(?=#{1,2} Sweep summary: )", old_md):
        if "| configuration | seeds |" not in section:
            parts.append(section)
            continue
        first = not any("| configuration | seeds |" in p for p in parts)  # summary.csv is the first's
        rows = job_rows(section)
        rounded = sharpen(rows, precise if first else {})
        table = summary_table(rows)
        lines = config_table_md(table)
        if rounded:
            lines = keep_point_cells(lines, section)
            notes.append(f"  {section.splitlines()[0]}: scores rounded to 0.1 for {', '.join(rounded)}")
        parts.append(splice_table(section.replace(OLD_INTRO, SUMMARY_STATS), lines))
        if old_csv is not None and first:
            write_csv(csv_path, table)
            notes.append("  summary.csv rewritten")
    md_path.write_text("".join(parts))
    return notes


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def keep_point_cells(lines: list[str], old_section: str) -> list[str]:
    """Keep the committed mean, std and best_irl.pt mean cells (exact) over ones from rounded scores."""
    old = {c[0]: c for c in map(_cells, old_section.splitlines()) if c and c[0].startswith("`")}
    out = []
    for line in lines:
        cells = _cells(line) if line.startswith("| `") else None
        if cells and cells[0] in old and len(old[cells[0]]) == len(cells):
            for k in (2, 3, 6):
                if k < len(cells):
                    cells[k] = old[cells[0]][k]
            line = "| " + " | ".join(cells) + " |"
        out.append(line)
    return out


# --- report/ -------------------------------------------------------------------------------------------


def study_from_csvs(report_dir: Path) -> Study | None:
    """A Study with what the tables and eval_bar read: labels, runs' scores, seeds, switches, failures."""
    records = read_csv_text(committed(report_dir / "configurations.csv"))
    if not records:
        return None
    switches = switch_settings(
        read_csv_text(committed(report_dir / "ablation.csv")), [r["config"] for r in records]
    )
    in_seed_order = {r.config: r.finals for r in job_rows(committed(report_dir.parent / "summary.md") or "")}
    runs: list[Run] = []
    not_ok: list[tuple[Job, str]] = []
    labels: list[str] = []
    for rec in records:
        label, n = rec["config"], int(rec["runs"])
        not_ok += [(Job(Path(label), [], "failed", None), label)] * int(rec["failed"])
        if not n:
            continue
        scores = recover(rec, n)
        if scores is None:
            raise SystemExit(f"{report_dir}: cannot recover the {n} runs of {label} from configurations.csv")
        scores = matched(scores, in_seed_order.get(label, [])) or scores  # the bootstraps follow run order
        seeds = [int(s) for s in rec["seeds"].split()] or [-1] * n
        irl = float(rec["best_irl_mean"]) if rec.get("best_irl_mean") else None  # only its mean is shown
        per_run = int(rec["episodes"]) // n  # eval_returns are only counted by the tables
        config = {"ppo_opts": switches.get(label, {})}
        for seed, score in zip(seeds, scores, strict=True):
            job = Job(Path(label), [], "ok", seed, final=score, final_irl=irl)
            runs.append(Run(job, label, report_dir, config, {}, np.empty(0), [math.nan] * per_run))
        labels.append(label)
    by_label = {lb: [r for r in runs if r.label == lb] for lb in labels}
    jobs = [r.job for r in runs] + [j for j, _ in not_ok]
    return Study([report_dir], jobs, runs, not_ok, labels, [], by_label)


def switch_settings(ablation: list[dict[str, str]], labels: list[str]) -> dict[str, dict[str, bool]]:
    """config label -> {switch: on?} from ablation.csv's configs_on / configs_off (labels without spaces)."""
    out: dict[str, dict[str, bool]] = {}
    for rec in ablation:
        key = rec["switch"].removeprefix("ppo_opts.")
        for column, on in (("configs_on", True), ("configs_off", False)):
            for label in rec[column].split():
                if label not in labels:
                    raise SystemExit(
                        f"ablation.csv names {label!r}, not a configuration (a label with spaces?)"
                    )
                out.setdefault(label, {})[key] = on
    return out


def check_unchanged(report_dir: Path, name: str, new: list[dict]) -> None:
    """The point estimates must come out as committed: proof that the recovered scores are the runs'."""
    old = read_csv_text(committed(report_dir / f"{name}.csv"))
    assert len(old) == len(new), (report_dir, name)
    for o, n in zip(old, new, strict=True):
        for key in ("mean", "std", "iqm", "iqm_on", "iqm_off", "p_on_beats_off", "p_x_beats_y"):
            if o.get(key):
                assert math.isclose(float(o[key]), float(n[key]), rel_tol=1e-9, abs_tol=1e-9), (
                    name,
                    key,
                    o,
                    n,
                )


def replace_block(md: str, title: str, block: Block) -> str:
    """Swap the `### title` block of report.md (up to the next heading) for the re-rendered one."""
    start = md.index(f"### {title}\n")
    nxt = re.search(r"^#{1,3} ", md[start + 4 :], flags=re.M)
    end = start + 4 + nxt.start() if nxt else len(md)
    return md[:start] + to_markdown([block]) + ("\n" if nxt else "") + md[end:]


def rerender_report(report_dir: Path) -> list[str]:
    study = study_from_csvs(report_dir)
    old_md = committed(report_dir / "report.md")
    if study is None or old_md is None:
        return [f"{report_dir}: no committed report, skipped"]
    md = old_md.replace(OLD_BAND, OLD_BAND_NOTE)
    done = []
    for name, make in TABLES.items():
        table: Table | None = make(study)
        if table is None or f"CSV: [{name}.csv]" not in old_md:
            continue
        check_unchanged(report_dir, name, table.records)
        write_csv(report_dir / f"{name}.csv", table.records)
        md = replace_block(md, table.title, table)
        done.append(f"{name}.csv")
    if "](eval_bar.png)" in old_md:
        fig: Figure | None = figures.eval_bar(study, report_dir, figures.colours(study.labels))
        if fig is not None:
            md = replace_block(md, fig.title, fig)
            done.append("eval_bar.png")
    (report_dir / "report.md").write_text(md)
    return [f"{report_dir}: report.md, {', '.join(done)}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results")
    args = ap.parse_args()
    for md_path in sorted(args.results.glob("**/*summary.md")):
        print("\n".join(rerender_summary(md_path)))
    for report_dir in sorted(p.parent for p in args.results.glob("*/report/report.md")):
        print("\n".join(rerender_report(report_dir)))


if __name__ == "__main__":
    main()
