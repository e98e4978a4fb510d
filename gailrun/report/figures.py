"""The report's PNG figures: learning curves, losses, GAIL's discriminator, BC, and evaluation scores.

Every figure colours a configuration the same way (its position in the study), so a configuration can be
followed from one figure to the next. Curves are means over seeds with a pointwise 95% Student-t band
(`curves.aggregate_curves`); the score bars carry the same interval as the tables (`stats.mean_ci`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, MaxNLocator

from gailrun.report.curves import aggregate_curves
from gailrun.report.document import Figure
from gailrun.report.load import Run, Study
from gailrun.report.stats import MEAN_CI_NOTE, STUDENT_T
from gailrun.report.tables import config_records

DPI = 110
BAND = (
    "Lines: mean over the seeds of each configuration (n in the legend). Shaded: pointwise 95% Student-t "
    "interval of that mean, mean +- t(0.975, n-1) * s / sqrt(n) (none with one seed). Each seed is "
    "linearly interpolated onto a common grid of 200 points spanning the range every seed of the "
    "configuration reached."
)
AVG100 = "average return over the last 100 training episodes"


def colours(labels: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


XAxis = Callable[[Run], np.ndarray | None]


def by_steps(run: Run) -> np.ndarray | None:
    return run.metrics.get("global_step")


def by_time(run: Run) -> np.ndarray | None:
    return run.elapsed if np.isfinite(run.elapsed).any() else None


def plot_metric(
    ax: Axes,
    study: Study,
    metric: str,
    colour: dict[str, tuple],
    x_of: XAxis = by_steps,
    linestyle: str = "-",
    legend: bool = True,
) -> bool:
    """One line (mean over seeds) and band per configuration; False when no run logged `metric`."""
    drawn = False
    for label in study.labels:
        curves = []
        for run in study.by_label[label]:
            y, x = run.column(metric), x_of(run)
            if y is not None and x is not None:
                curves.append((x, y))
        agg = aggregate_curves(curves)
        if agg["x"].size == 0:
            continue
        name = f"{label} (n={int(agg['n'])})" if legend else None
        ax.plot(agg["x"], agg["mean"], color=colour[label], lw=1.6, ls=linestyle, label=name)
        ax.fill_between(agg["x"], agg["low"], agg["high"], color=colour[label], alpha=0.2, lw=0)
        drawn = True
    if x_of is by_steps:
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1M: long step counts never collide
    ax.grid(alpha=0.3)
    return drawn


def _save(fig: plt.Figure, out: Path, name: str) -> str:
    fig.savefig(out / name, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return name


def _figure_legend(fig: plt.Figure, axes: list[Axes]) -> None:
    """One legend under all panels: labels can be long, and panels share configurations."""
    handles, names = [], []
    for ax in axes:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in names:
                handles.append(h)
                names.append(n)
    if handles:
        ncol = 1 if max(len(n) for n in names) > 45 else min(3, len(names))
        fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol)


def return_curves(study: Study, out: Path, colour: dict[str, tuple]) -> list[Figure]:
    figures = []
    periodic = (
        "deterministic evaluation of the current policy every `train.eval_every_steps` env steps "
        "(`train.eval_episodes` episodes on envs of its own seed), mean return"
    )
    for metric, x_of, xlabel, name, what, ylabel, meaning in (
        (
            "charts/avg100_return",
            by_steps,
            "environment steps",
            "return_vs_steps.png",
            "env steps",
            "average return (last 100 episodes)",
            AVG100,
        ),
        (
            "charts/avg100_return",
            by_time,
            "wall-clock time since the start of training (s)",
            "return_vs_time.png",
            "wall time",
            "average return (last 100 episodes)",
            AVG100,
        ),
        (
            "eval/return_mean",
            by_steps,
            "environment steps",
            "periodic_eval_vs_steps.png",
            "env steps",
            "evaluation return (deterministic)",
            periodic,
        ),
    ):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        if not plot_metric(ax, study, metric, colour, x_of):
            plt.close(fig)
            continue
        title = f"{'Evaluation' if metric.startswith('eval/') else 'Average'} return vs {what}"
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        _figure_legend(fig, [ax])
        caption = f"`{metric}`: {meaning}, by {what}. {BAND}"
        if x_of is by_time:
            caption += (
                " Wall time is `time/elapsed_s` from timing.csv, matched on global_step; it depends on the "
                "machine and on how many jobs shared it."
            )
        figures.append(Figure(_save(fig, out, name), title, caption))
    return figures


def loss_curves(study: Study, out: Path, colour: dict[str, tuple]) -> Figure | None:
    panels = (
        ("losses/policy", "Policy loss", "clipped surrogate loss"),
        ("losses/value", "Value loss", "value loss (squared error)"),
        ("losses/entropy", "Entropy", "policy entropy (nats)"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    drawn = False
    for ax, (metric, title, ylabel) in zip(axes, panels, strict=True):
        if plot_metric(ax, study, metric, colour):
            drawn = True
            if metric == "losses/value" and _spans_decades(ax):
                ax.set_yscale("log")
        ax.set(title=title, xlabel="environment steps", ylabel=ylabel)
    if not drawn:
        plt.close(fig)
        return None
    _figure_legend(fig, [axes[0], axes[1], axes[2]])
    caption = (
        "`losses/policy`, `losses/value` and `losses/entropy`, averaged over each update's minibatches "
        "(the value loss is on a log scale when it spans more than two decades). " + BAND
    )
    return Figure(_save(fig, out, "losses.png"), "Policy, value and entropy losses", caption)


def _spans_decades(ax: Axes) -> bool:
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines()])
    ys = ys[np.isfinite(ys)]
    return bool(ys.size and ys.min() > 0 and ys.max() / ys.min() > 100)


def gail_curves(study: Study, out: Path, colour: dict[str, tuple]) -> Figure | None:
    study = study.only(lambda r: r.column("gail/expert_acc") is not None)
    if not study.runs:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    plot_metric(axes[0], study, "gail/avg100_irl_score", colour)
    axes[0].set(title="irl_score", xlabel="environment steps", ylabel="discriminator return (last 100 ep.)")
    plot_metric(axes[1], study, "charts/avg100_return", colour, legend=False)
    axes[1].set(title="True score", xlabel="environment steps", ylabel="env return (last 100 episodes)")
    plot_metric(axes[2], study, "gail/expert_acc", colour, legend=False)
    plot_metric(axes[2], study, "gail/learner_acc", colour, linestyle="--", legend=False)
    axes[2].set(
        title="Discriminator accuracy", xlabel="environment steps", ylabel="accuracy", ylim=(-0.02, 1.02)
    )
    styles = [Line2D([], [], color="k", ls="-"), Line2D([], [], color="k", ls="--")]
    axes[2].legend(styles, ["on expert pairs", "on learner pairs"], loc="lower right", fontsize="small")
    _figure_legend(fig, [axes[0]])
    caption = (
        "GAIL runs only. irl_score: `gail/avg100_irl_score`, the episode sum of the discriminator's reward "
        "averaged over the last 100 episodes (what `best_irl.pt` is chosen by); true score: "
        "`charts/avg100_return`, the environment's return, never used for learning; discriminator "
        "accuracy on the expert batch (`gail/expert_acc`, solid) and on the learner's rollout "
        "(`gail/learner_acc`, dashed). " + BAND
    )
    return Figure(_save(fig, out, "gail.png"), "GAIL: irl_score, true score, discriminator accuracy", caption)


def bc_curves(study: Study, out: Path, colour: dict[str, tuple]) -> Figure | None:
    study = study.only(lambda r: r.column("bc/val_loss") is not None)
    if not study.runs:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, kind, ylabel in ((axes[0], "loss", "cross-entropy (nats)"), (axes[1], "acc", "accuracy")):
        plot_metric(ax, study, f"bc/train_{kind}", colour, legend=kind == "loss")
        plot_metric(ax, study, f"bc/val_{kind}", colour, linestyle="--", legend=False)
        ax.set(title=f"Behaviour cloning {'loss' if kind == 'loss' else 'accuracy'}", xlabel="epochs")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
    styles = [Line2D([], [], color="k", ls="-"), Line2D([], [], color="k", ls="--")]
    axes[1].legend(styles, ["training split", "validation split"], loc="lower right", fontsize="small")
    _figure_legend(fig, [axes[0]])
    caption = (
        "BC runs only: `bc/train_loss`, `bc/val_loss` (left) and `bc/train_acc`, `bc/val_acc` (right) per "
        "epoch; solid = training split, dashed = validation split. " + BAND
    )
    return Figure(_save(fig, out, "bc.png"), "Behaviour cloning: loss and accuracy", caption)


def eval_box(study: Study, out: Path, colour: dict[str, tuple]) -> Figure | None:
    labels = [lb for lb in study.labels if any(r.eval_returns for r in study.by_label[lb])]
    if not labels:
        return None
    data = [np.concatenate([r.eval_returns for r in study.by_label[lb]]) for lb in labels]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.6 * len(labels)))
    pos = np.arange(len(labels))[::-1]
    box = ax.boxplot(data, positions=pos, orientation="horizontal", widths=0.6, patch_artist=True)
    for patch, lb in zip(box["boxes"], labels, strict=True):
        patch.set(facecolor=colour[lb], alpha=0.45, edgecolor=colour[lb])
    for median in box["medians"]:
        median.set(color="k")
    jitter = np.random.default_rng(0)
    for p, d, lb in zip(pos, data, labels, strict=True):
        ys = p + jitter.uniform(-0.22, 0.22, d.size)
        ax.scatter(d, ys, color=colour[lb], s=7, alpha=0.5, zorder=2, lw=0)
    ax.scatter([d.mean() for d in data], pos, marker="D", color="k", s=18, zorder=3, label="mean")
    ax.set_yticks(pos, [f"{lb} ({d.size} ep.)" for lb, d in zip(labels, data, strict=True)])
    ax.set(title="Evaluation return per episode", xlabel="evaluation return (per episode)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    caption = (
        "Every evaluation episode of every seed's headline checkpoint (best.pt; best_rf.pt for GAIL and "
        "InfoGAIL, chosen without the true reward), pooled per configuration: box = "
        "quartiles, line = median, whiskers = 1.5 IQR, circles = outliers, dots = episodes (jittered "
        "vertically), diamond = mean."
    )
    return Figure(_save(fig, out, "eval_box.png"), "Evaluation returns (box plot)", caption)


def eval_bar(study: Study, out: Path, colour: dict[str, tuple]) -> Figure | None:
    records = [r for r in config_records(study) if r["runs"] and r["config"] in study.by_label]
    if not records:
        return None
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.6 * len(records)))
    pos = np.arange(len(records))[::-1]
    means = np.asarray([r["mean"] for r in records])
    err = np.abs(np.asarray([[r["ci_low"], r["ci_high"]] for r in records], dtype=float).T - means)
    has = np.isfinite(err).all(axis=0)  # one run: no interval, no bar
    ax.barh(pos, means, color=[colour[r["config"]] for r in records], alpha=0.7, height=0.6)
    ax.errorbar(
        means[has],
        pos[has],
        xerr=err[:, has],
        fmt="none",
        ecolor="k",
        capsize=4,
        lw=1.2,
        label=f"95% CI ({STUDENT_T})",
    )
    for p, r in zip(pos, records, strict=True):
        seeds = [run.score for run in study.by_label[r["config"]]]
        ax.scatter(seeds, np.full(len(seeds), p), color="k", s=12, zorder=3, alpha=0.7)
    ax.scatter([], [], color="k", s=12, label="one run")
    ax.set_yticks(pos, [f"{r['config']} (n={r['runs']})" for r in records])
    ax.set(title="Mean final evaluation return", xlabel="final evaluation return (mean over runs)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    caption = (
        "Bar: mean over runs of each run's final evaluation return (mean over its evaluation episodes); "
        f"error bar: {MEAN_CI_NOTE} Dots: the runs."
    )
    return Figure(_save(fig, out, "eval_bar.png"), "Final evaluation return (mean over runs)", caption)
