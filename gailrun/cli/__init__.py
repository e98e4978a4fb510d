"""The command line: the Typer app (`app`), the Hydra task functions (`tasks`) and `gailrun play`."""

from gailrun.cli.app import main

__all__ = ["main"]
