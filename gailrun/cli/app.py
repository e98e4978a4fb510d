"""The `gailrun` command line: Typer commands that forward Hydra overrides to one composed pipeline.

`hydra.main` parses `sys.argv` itself, so each command rebuilds `sys.argv` from its extra arguments and
calls the Hydra-decorated task. Hydra's own errors (unknown groups or keys) reach the user unchanged.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
HYDRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["--help"]}

app = typer.Typer(
    name="gailrun",
    help="Experiment runner for PPO, GAIL and behaviour cloning on Gymnasium environments.\n\n"
    "Every command takes Hydra overrides (key=value, group=option); add -m for a multirun.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def config_dir() -> str:
    if not (CONF_DIR / "train.yaml").exists():
        raise SystemExit(
            f"gailrun: error: config directory {CONF_DIR} is missing; install gailrun with pip -e"
        )
    return str(CONF_DIR)


def complete_overrides(incomplete: str) -> list[str]:
    """Complete `group=option` from the files under conf/ (Typer shell completion)."""
    out = []
    for group in sorted(
        p for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "hydra"))
    ):
        for opt in sorted(group.glob("*.yaml")):
            item = f"{group.name}={opt.stem}"
            if item.startswith(incomplete):
                out.append(item)
    return out


def check_writable(args: list[str]) -> None:
    """Refuse an output directory that cannot be written before Hydra tries (its error is a traceback):
    the given hydra.run.dir / hydra.sweep.dir, else the working directory, where outputs/ goes."""
    given = [a.split("=", 1)[1] for a in args if a.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    target = Path(given[-1]) if given else Path.cwd()
    ancestor = target
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    try:  # permissions alone do not tell (root, read-only mounts, /proc): try it, leaving nothing behind
        os.rmdir(tempfile.mkdtemp(prefix=".gailrun-probe-", dir=ancestor))
    except OSError as exc:
        raise SystemExit(
            f"gailrun: error: cannot write the output directory {target} ({exc.strerror or exc} in "
            f"{ancestor}); pass hydra.run.dir= (or hydra.sweep.dir=) a writable path"
        ) from exc


class HydraRecord:
    """The `.hydra/` files of an existing run directory, kept so a failed run into it can put them back:
    Hydra rewrites them before the task can decide the run is refused."""

    def __init__(self, args: list[str]) -> None:
        given = [a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir=")]
        self.dir = Path(given[-1]) / ".hydra" if given else None
        self.files = (
            {p.name: p.read_bytes() for p in self.dir.iterdir() if p.is_file()}
            if self.dir is not None and self.dir.is_dir()
            else {}
        )

    def restore(self) -> None:
        for name, data in self.files.items():
            (self.dir / name).write_bytes(data)  # type: ignore[operator]


def run_hydra(config_name: str, task: Callable, args: list[str], multirun: bool = False) -> None:
    import hydra

    if config_name == "train" and "--cfg" not in args:
        check_writable(args)
    argv = [f"gailrun {config_name}", *(["--multirun"] if multirun else []), *args]
    saved = sys.argv
    sys.argv = argv
    record = HydraRecord(args) if config_name == "train" and not multirun else None
    try:
        hydra.main(config_path=config_dir(), config_name=config_name, version_base="1.3")(task)()
    except SystemExit:
        if record is not None:
            record.restore()  # a refused run (e.g. resume with another config) must not rewrite the old one
        raise
    finally:
        sys.argv = saved


Overrides = typer.Argument(
    None, help="Hydra overrides, e.g. env=cartpole seed=3", autocompletion=complete_overrides
)
MultirunOpt = typer.Option(
    False, "-m", "--multirun", help="Run a Hydra multirun over comma-separated values."
)


@app.command(context_settings=HYDRA_ARGS)
def train(ctx: typer.Context, overrides: list[str] = Overrides, multirun: bool = MultirunOpt) -> None:
    """Train a policy (PPO by default) and evaluate its best checkpoint."""
    from gailrun.cli.tasks import train_task

    run_hydra("train", train_task, [*(overrides or []), *ctx.args], multirun)


@app.command(context_settings=HYDRA_ARGS)
def sweep(ctx: typer.Context, overrides: list[str] = Overrides) -> None:
    """Run a multirun such as experiment=ppo_agents, then summarize it; exit 1 if any job failed."""
    from gailrun.cli.tasks import train_task
    from gailrun.run.sweep import SweepMonitor
    from gailrun.run.sweep_summary import summarize

    args = [*(overrides or []), *ctx.args]
    given = [a.split("=", 1)[1] for a in args if a.startswith("hydra.sweep.dir=")]
    if given:
        sweep_dir = Path(given[-1])
    else:
        name = next((a.split("=", 1)[1] for a in reversed(args) if a.startswith("experiment=")), "sweep")
        sweep_dir = Path("outputs/multirun") / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{name}"
    # Absolute: cluster jobs (Ray tasks, SLURM jobs) run in other working directories.
    sweep_dir = sweep_dir.absolute()
    args = [a for a in args if not a.startswith("hydra.sweep.dir=")] + [f"hydra.sweep.dir={sweep_dir}"]
    code = 0
    monitor = SweepMonitor(sweep_dir)
    monitor.start()
    try:
        run_hydra("train", train_task, args, multirun=True)
    except SystemExit as exc:  # Hydra exits 1 when a job failed; the others have run, so summarize them
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        monitor.stop()
        monitor.report()
    if not sweep_dir.is_dir():
        raise typer.Exit(code or 1)
    result = summarize(sweep_dir)
    summary_md = sweep_dir / "summary.md"
    print(f"sweep {sweep_dir}: {result['jobs']} jobs, {result['failed']} failed; summary in {summary_md}")
    raise typer.Exit(1 if result["failed"] else code)


@app.command()
def summarize(
    sweep_dirs: Annotated[
        list[Path], typer.Argument(help="Sweep directories of multiruns; several are one study.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where summary.md goes (default: the first DIR).")
    ] = None,
) -> None:
    """Summarize sweeps: mean, std and 95% Student-t CI over seeds per configuration (CSV, Markdown)."""
    from gailrun.errors import exit_on_error
    from gailrun.run.sweep_summary import summarize as write_summary

    target = out if out is not None else sweep_dirs[0]
    with exit_on_error():
        result = write_summary(sweep_dirs, target)
    typer.echo((target / "summary.md").read_text())
    if "marginals" in result:
        typer.echo((target / "marginals.md").read_text())


@app.command()
def report(
    dirs: Annotated[list[Path], typer.Argument(help="Run or sweep directories; several are compared.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder (default: <first DIR>/report).")
    ] = None,
) -> None:
    """Report runs or sweeps: curves, losses, GAIL/BC diagnostics, score plots, IQM and P(improvement)."""
    from gailrun.errors import exit_on_error
    from gailrun.report import build_report

    with exit_on_error():
        result = build_report(dirs, out)
    study = result.study
    typer.echo(
        f"report of {len(study.jobs)} jobs ({len(study.not_ok)} failed or unfinished), "
        f"{len(study.labels)} configurations: {len(result.figures)} figures, {len(result.tables)} tables"
    )
    typer.echo(f"wrote {result.markdown}")
    typer.echo(f"wrote {result.html}")


@app.command("eval", context_settings=HYDRA_ARGS)
def eval_(ctx: typer.Context, overrides: list[str] = Overrides) -> None:
    """Evaluate a checkpoint: gailrun eval ckpt=PATH episodes=100 [seed=9999]."""
    from gailrun.cli.tasks import eval_task

    run_hydra("eval", eval_task, [*(overrides or []), *ctx.args])


@app.command("show-config", context_settings=HYDRA_ARGS)
def show_config(ctx: typer.Context, overrides: list[str] = Overrides) -> None:
    """Print the composed, resolved training config for the given overrides."""
    from gailrun.cli.tasks import train_task

    run_hydra("train", train_task, [*(overrides or []), *ctx.args, "--cfg", "job", "--resolve"])


@app.command("collect-expert", context_settings=HYDRA_ARGS)
def collect_expert(ctx: typer.Context, overrides: list[str] = Overrides) -> None:
    """Record a checkpoint's episodes as a Minari dataset: ckpt=PATH episodes=200 min_score=230 [out=PATH]."""
    from gailrun.cli.tasks import collect_expert_task

    run_hydra("collect_expert", collect_expert_task, [*(overrides or []), *ctx.args])


@app.command("play", context_settings=HYDRA_ARGS)
def play(ctx: typer.Context, overrides: list[str] = Overrides) -> None:
    """Record human demonstrations with the keyboard: env=cartpole episodes=10 [fps=30] [out=PATH]."""
    from gailrun.cli.play import play_task

    run_hydra("play", play_task, [*(overrides or []), *ctx.args])


from gailrun.data.cli import data_app  # noqa: E402

app.add_typer(data_app, name="data", help="Inspect and convert demonstration datasets.")


def main() -> None:
    # Before torch is imported: one intra-op thread unless the user says otherwise. Small MLPs gain nothing
    # from more, and parallel jobs on few cores slow down by orders of magnitude when threads spin-wait.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    app()


if __name__ == "__main__":
    main()
