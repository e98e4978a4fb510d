"""Conversion of demonstration datasets between gailrun's Minari format and other tools' formats.

One module per format, each with `import_<format>(src, env_id) -> Dataset` and, where the format can be
written, `export_<format>(dataset, dst)`. Every converter states the observation convention it expects in its
errors, checks episodes with `Episode.check` and the env's shapes, and writes atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gailrun.data.convert.d3rlpy_h5 import export_d3rlpy, import_d3rlpy
from gailrun.data.convert.imitation_hf import export_imitation, import_imitation
from gailrun.data.convert.imitation_npz import export_imitation_npz, import_imitation_npz
from gailrun.data.convert.sb3_buffer import import_sb3
from gailrun.data.minari_io import Dataset
from gailrun.errors import DataError

IMPORT_FORMATS = ("imitation", "imitation-npz", "d3rlpy", "sb3")
EXPORTERS: dict[str, Callable[..., Path]] = {
    "imitation": export_imitation,
    "imitation-npz": export_imitation_npz,
    "d3rlpy": export_d3rlpy,
}


def import_dataset(
    fmt: str, src: str | Path, env_id: str, *, trust_pickle: bool = False, zero_final_obs: bool = False
) -> Dataset:
    """Dispatch to the importer of `fmt`; options that do not apply to it are refused, not ignored."""
    if trust_pickle and fmt != "sb3":
        raise DataError(f"--trust-pickle applies to --from sb3 only, not --from {fmt}")
    if zero_final_obs and fmt != "d3rlpy":
        raise DataError(f"--zero-final-obs applies to --from d3rlpy only, not --from {fmt}")
    if fmt == "imitation":
        return import_imitation(src, env_id)
    if fmt == "imitation-npz":
        return import_imitation_npz(src, env_id)
    if fmt == "d3rlpy":
        return import_d3rlpy(src, env_id, zero_final_obs=zero_final_obs)
    if fmt == "sb3":
        return import_sb3(src, env_id, trust_pickle=trust_pickle)
    raise DataError(f"unknown import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")


def export_dataset(fmt: str, dataset: Dataset, dst: str | Path, overwrite: bool = False) -> Path:
    if fmt not in EXPORTERS:
        raise DataError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORTERS)}")
    return EXPORTERS[fmt](dataset, dst, overwrite=overwrite)


__all__ = [
    "EXPORTERS",
    "IMPORT_FORMATS",
    "export_d3rlpy",
    "export_dataset",
    "export_imitation",
    "export_imitation_npz",
    "import_d3rlpy",
    "import_dataset",
    "import_imitation",
    "import_imitation_npz",
    "import_sb3",
]
