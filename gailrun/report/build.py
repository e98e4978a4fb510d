"""`gailrun report`: read runs, draw the figures, compute the tables, write report.md/.html and CSVs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gailrun.errors import GailrunError
from gailrun.report import figures, tables
from gailrun.report.document import Block, Bullets, Figure, Heading, Para, Table, to_markdown, write_csv
from gailrun.report.html import to_html
from gailrun.report.load import Study, load_study, require_dirs


@dataclass
class Report:
    folder: Path
    markdown: Path
    html: Path
    figures: list[Path]
    tables: list[Path]
    study: Study


def header(study: Study) -> list[Block]:
    envs = sorted({r.env_id for r in study.runs})
    algos = sorted({r.algo for r in study.runs})
    seeds = study.seeds
    runs_per = {lb: len(rs) for lb, rs in study.by_label.items()}
    blocks: list[Block] = [
        Heading("Report: " + ", ".join(d.name or str(d) for d in study.sources), 1),
        Bullets(
            [
                "read: " + ", ".join(f"`{d}`" for d in study.sources),
                f"jobs: {len(study.jobs)} ({len(study.runs)} succeeded, {len(study.not_ok)} failed or "
                "unfinished)",
                f"configurations: {len(study.labels)}"
                + (
                    " (" + ", ".join(f"`{lb}`: {n} runs" for lb, n in runs_per.items()) + ")"
                    if runs_per
                    else ""
                ),
                f"seeds: {len(seeds)} ({' '.join(map(str, seeds)) or '-'})",
                "env: " + (", ".join(f"`{e}`" for e in envs) or "-"),
                "algo: " + (", ".join(f"`{a}`" for a in algos) or "-"),
                "overrides shared by every job: "
                + (" ".join(f"`{o}`" for o in study.shared if not o.startswith("hydra")) or "none"),
            ]
        ),
    ]
    if study.not_ok:
        blocks += [
            Para("Jobs that failed or did not finish (left out of every figure and table):"),
            Bullets(
                [
                    f"`{job.path}` (`{label}`, seed {job.seed}): {job.status}"
                    + (f": {job.error}" if job.error else "")
                    for job, label in study.not_ok
                ]
            ),
        ]
    return blocks


def build_report(dirs: list[Path], out: Path | None = None) -> Report:
    """Write the report of the runs under `dirs` into `out` (default: `<first dir>/report`)."""
    if not dirs:
        raise GailrunError("no directory given; pass a run directory or one or more sweep directories")
    dirs = [Path(d) for d in dirs]
    require_dirs(dirs)
    study = load_study(dirs)
    folder = Path(out) if out is not None else dirs[0] / "report"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GailrunError(f"cannot create the report folder {folder}: {exc.strerror}") from exc
    colour = figures.colours(study.labels)
    blocks = header(study)
    figs: list[Figure] = []
    if study.runs:
        figs += figures.return_curves(study, folder, colour)
        for make in (figures.loss_curves, figures.gail_curves, figures.bc_curves):
            fig = make(study, folder, colour)
            if fig is not None:
                figs.append(fig)
        for make in (figures.eval_box, figures.eval_bar):
            fig = make(study, folder, colour)
            if fig is not None:
                figs.append(fig)
    tabs: list[Table] = [tables.config_table(study)]
    for make_table in (tables.ablation_table, tables.improvement_table):
        tab = make_table(study)
        if tab is not None:
            tabs.append(tab)
    curves = [f for f in figs if not f.file.startswith("eval_")]
    scores = [f for f in figs if f.file.startswith("eval_")]
    if curves:
        blocks += [Heading("Training curves"), *curves]
    blocks += [Heading("Final evaluation"), *scores, *tabs]
    for tab in tabs:
        write_csv(folder / f"{tab.name}.csv", tab.records)
    md = folder / "report.md"
    md.write_text(to_markdown(blocks))
    html_file = folder / "report.html"
    html_file.write_text(to_html(blocks, folder, title=f"gailrun report: {dirs[0].name}"))
    return Report(
        folder,
        md,
        html_file,
        [folder / f.file for f in figs],
        [folder / f"{t.name}.csv" for t in tabs],
        study,
    )
