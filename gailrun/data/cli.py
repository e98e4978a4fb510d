"""`gailrun data ...`: inspect demonstration datasets and convert them to and from other tools' formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gailrun.errors import GailrunError

data_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def _fail(exc: GailrunError) -> None:
    typer.echo(f"gailrun: error: {exc}", err=True)
    raise typer.Exit(1)


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

    try:
        ds = read_dataset(path, verify_hash=False)
    except GailrunError as exc:
        _fail(exc)
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
        if "episodes_played" in card:
            typer.echo(
                f"filter       min_score {card.get('min_score')}: kept {card['episodes_kept']}, "
                f"dropped {card['episodes_dropped']} of {card['episodes_played']} played"
            )
        src = card.get("source") or {}
        for key in ("checkpoint", "algo", "format", "original"):
            if key in src:
                typer.echo(f"{'source.' + key:<13}{src[key]}")
        if "seed" in card:
            typer.echo(f"seed         {card['seed']}")
        hist = r["histogram"]
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
