"""`gailrun data ...`: inspect demonstration datasets and convert them to and from other tools' formats."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from gailrun.errors import exit_on_error

data_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def _refuse_existing(out: Path, overwrite: bool) -> None:
    """The data commands' guard, phrased for their `--overwrite` flag (collect-expert's is overwrite=true)."""
    from gailrun.errors import DataError

    if out.exists() and not overwrite:
        raise DataError(f"{out} already exists; pass --overwrite or choose another OUT")


@data_app.command("info")
def info(
    path: Annotated[
        Path, typer.Argument(help="A Minari dataset directory (or its data/ dir or main_data.hdf5).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON.")] = False,
) -> None:
    """Print a dataset's card and check its content hash."""
    from gailrun.data.episodes import content_hash, return_summary
    from gailrun.data.minari_io import read_dataset

    with exit_on_error():
        ds = read_dataset(path, verify_hash=False)
    card = dict(ds.card)
    actual = content_hash(ds.episodes)
    stored = card.get("content_sha256")
    hash_state = "no hash in card" if stored is None else ("ok" if stored == actual else "MISMATCH")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "path": str(ds.path),
                    "env_id": ds.env_id,
                    "dataset_id": ds.dataset_id,
                    "episodes": len(ds.episodes),
                    "steps": ds.total_steps,
                    "hash": hash_state,
                    "card": card,
                },
                indent=2,
            )
        )
    else:
        r = return_summary(ds.returns)
        typer.echo(f"dataset      {ds.path} ({ds.dataset_id})")
        typer.echo(f"env          {ds.env_id}")
        typer.echo(f"episodes     {len(ds.episodes)} ({ds.total_steps} steps)")
        typer.echo(
            f"returns      {r['mean']:.1f} +- {r['std']:.1f} (min {r['min']:.1f}, median {r['median']:.1f}, "
            f"max {r['max']:.1f})"
        )
        src = card.get("source") or {}
        if "episodes_played" in card and "format" not in src:  # imports are not filtered by score
            typer.echo(
                f"filter       min_score {card.get('min_score')}: kept {card['episodes_kept']}, "
                f"dropped {card['episodes_dropped']} of {card['episodes_played']} played"
            )
        if card.get("incomplete_episodes_dropped"):
            typer.echo(f"incomplete   {card['incomplete_episodes_dropped']} episode(s) dropped on import")
        for key in ("checkpoint", "algo", "format", "original"):
            if key in src:
                typer.echo(f"{'source.' + key:<12} {src[key]}")
        for path, sub in zip(src.get("sources", []), src.get("source_cards", []), strict=False):
            origin = (sub.get("source") or {}).get("checkpoint", "?")
            typer.echo(f"merged from  {path}: {sub.get('episodes_kept', '?')} episodes of {origin}")
        if card.get("styles"):
            typer.echo(f"styles       {card['styles']}")
        if card.get("seed") is not None:
            typer.echo(f"seed         {card['seed']}")
        hist = r["histogram"]
        if r["max"] > r["min"]:
            typer.echo(
                "histogram    "
                + " ".join(
                    f"[{lo:.0f},{hi:.0f}):{c}"
                    for lo, hi, c in zip(hist["edges"][:-1], hist["edges"][1:], hist["counts"], strict=True)
                )
            )
        typer.echo(f"content hash {actual[:16]}... {hash_state}")
    if hash_state == "MISMATCH":
        raise typer.Exit(1)


class ImportFormat(str, Enum):
    imitation = "imitation"
    imitation_npz = "imitation-npz"
    d3rlpy = "d3rlpy"
    sb3 = "sb3"


class ExportFormat(str, Enum):
    imitation = "imitation"
    imitation_npz = "imitation-npz"
    d3rlpy = "d3rlpy"


def _dataset_id(out: Path) -> str:
    name = out.name
    return f"gailrun/{name if '-v' in name else name + '-v0'}"


@data_app.command("import")
def import_(
    src: Annotated[
        Path,
        typer.Argument(
            help="imitation: the save_to_disk directory; imitation-npz: the .npz file; d3rlpy: the .h5 "
            "file; sb3: the replay-buffer .pkl."
        ),
    ],
    out: Annotated[Path, typer.Argument(help="The Minari dataset directory to write.")],
    source_format: Annotated[ImportFormat, typer.Option("--from", help="Format of SRC.", show_choices=True)],
    env: Annotated[str, typer.Option("--env", help="Gymnasium id the data was recorded on.")],
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle", help="sb3 only: load the pickle (it can run code; only for trusted files)."
        ),
    ] = False,
    zero_final_obs: Annotated[
        bool,
        typer.Option(
            "--zero-final-obs",
            help="d3rlpy only: files not written by gailrun lack the final observation of terminated "
            "episodes; use d3rlpy's zero observation for it instead of stopping.",
        ),
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
) -> None:
    """Convert another tool's demonstrations into a gailrun (Minari) dataset."""
    from gailrun.data.convert import import_dataset
    from gailrun.data.minari_io import write_dataset

    with exit_on_error():
        _refuse_existing(out, overwrite)
        ds = import_dataset(
            source_format.value, src, env, trust_pickle=trust_pickle, zero_final_obs=zero_final_obs
        )
        ds.dataset_id = _dataset_id(out)
        write_dataset(out, ds, overwrite=overwrite)
    typer.echo(
        f"imported {len(ds.episodes)} episodes ({ds.total_steps} steps) of {ds.env_id} from "
        f"{source_format.value} {src} -> {out}"
    )
    dropped = ds.card.get("incomplete_episodes_dropped")
    if dropped:
        typer.echo(f"dropped {dropped} incomplete episode(s); see the card (`gailrun data info {out}`)")


@data_app.command("export")
def export(
    src: Annotated[Path, typer.Argument(help="A gailrun (Minari) dataset directory.")],
    out: Annotated[Path, typer.Argument(help="Where to write: a directory (imitation) or a file.")],
    target_format: Annotated[ExportFormat, typer.Option("--to", help="Format to write.", show_choices=True)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
) -> None:
    """Convert a gailrun (Minari) dataset into another tool's format."""
    from gailrun.data.convert import export_dataset
    from gailrun.data.minari_io import read_dataset

    with exit_on_error():
        _refuse_existing(out, overwrite)
        ds = read_dataset(src)
        export_dataset(target_format.value, ds, out, overwrite=overwrite)
    typer.echo(
        f"exported {len(ds.episodes)} episodes ({ds.total_steps} steps) of {ds.env_id} from {src} -> "
        f"{target_format.value} {out}"
    )


@data_app.command("merge")
def merge(
    out: Annotated[Path, typer.Argument(help="The merged dataset's directory.")],
    sources: Annotated[list[Path], typer.Argument(help="Datasets of the same env, merged in this order.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
) -> None:
    """Merge datasets of one env into one (episodes keep their style labels; the card lists the sources)."""
    from gailrun.data.collect import build_card
    from gailrun.data.minari_io import Dataset, read_dataset, write_dataset
    from gailrun.errors import DataError

    with exit_on_error():
        _refuse_existing(out, overwrite)
        parts = [read_dataset(src) for src in sources]
        env_ids = {p.env_id for p in parts}
        if len(env_ids) != 1:
            raise DataError(f"cannot merge datasets of different envs ({', '.join(sorted(env_ids))})")
        episodes = [ep for p in parts for ep in p.episodes]
        styles: dict[str, int] = {}
        for ep in episodes:
            key = str(ep.attrs.get("style", "none"))
            styles[key] = styles.get(key, 0) + 1
        # Each part's own card (checkpoint, seed, filter, hash) travels with the merge: provenance survives.
        source = {
            "format": "merge",
            "algo": "merge",
            "sources": [str(s) for s in sources],
            "source_cards": [p.card for p in parts],
        }
        card = build_card(
            parts[0].env_id,
            episodes,
            episodes,
            None,
            0,
            source,
            {"styles": styles, "description": f"{len(episodes)} episodes merged from {len(parts)} datasets."},
        )
        ds = Dataset(
            env_id=parts[0].env_id,
            episodes=episodes,
            card=card,
            dataset_id=_dataset_id(out),
        )
        write_dataset(out, ds, overwrite=overwrite)
    typer.echo(f"wrote {out}: {len(episodes)} episodes, styles {styles}")
