"""Checkpoints that are complete, atomic and safe to open.

A checkpoint is a plain dict of tensors, numbers and strings, so it loads with `weights_only=True`: a file
that needs arbitrary unpickling is refused unless the caller says it is trusted. Writes go to a temporary
file in the same directory, are fsynced, then renamed over the target, so a crash or a full disk leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import io
import os
import pickle
import platform
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gailrun import __version__
from gailrun.errors import CheckpointError

FORMAT = "gailrun-checkpoint"
FORMAT_VERSION = 1


def package_versions() -> dict[str, str]:
    import gymnasium
    import hydra
    import numpy

    return {
        "gailrun": __version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": numpy.__version__,
        "hydra": hydra.__version__,
        "python": platform.python_version(),
    }


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"could not write {path} ({exc.strerror or exc}); free disk space or choose a writable "
            "hydra.run.dir; the previous file there is unchanged"
        ) from exc
    _fsync_dir(path.parent)


def plain(obj: Any) -> Any:
    """Reduce `obj` to what `torch.load(weights_only=True)` accepts: tensors, builtins, dicts, lists.

    Subclasses of builtins (torch's version string, numpy scalars, OmegaConf containers) would otherwise
    make the whole file unloadable without trusting it.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return {plain(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Serialize `payload` (tensors, numbers, strings, nested dicts/lists) with the format header."""
    body = plain(
        {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": package_versions(), **payload}
    )
    buf = io.BytesIO()
    torch.save(body, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(path: str | Path, *, trusted: bool = False) -> dict[str, Any]:
    """Open a gailrun checkpoint; every failure is a one-line `CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory; pass ckpt={path / 'best.pt'} or another .pt file in it"
        )
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; pass ckpt= a best.pt or last.pt of a run")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise CheckpointError(
            f"{path} is not a gailrun checkpoint (not a torch zip archive); pass a .pt file "
            "written by `gailrun train`"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as exc:
        # The archive is intact (checked above), so a refusal here means objects outside the allowlist.
        if any(word in str(exc).lower() for word in ("global", "unsupported")):
            raise CheckpointError(
                f"{path} contains pickled Python objects that could run code when loaded; refusing it. "
                "Pass trust_checkpoint=true only if you trust where it came from"
            ) from exc
        raise CheckpointError(
            f"{path} is corrupt or truncated ({_first_line(exc)}); use another checkpoint"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        raise CheckpointError(
            f"{path} is corrupt or truncated ({_first_line(exc)}); use another checkpoint"
        ) from exc
    except Exception as exc:  # torch raises assorted errors on garbage input
        raise CheckpointError(f"{path} is not a readable checkpoint ({_first_line(exc)})") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a gailrun checkpoint; pass a .pt file written by `gailrun train`"
        )
    version = obj.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path} has no valid format_version; it was not written by `gailrun train`")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}, newer than this gailrun reads ({FORMAT_VERSION}); "
            "upgrade gailrun"
        )
    return obj


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message, short enough for a one-line error."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    first = text[0].split(". ")[0].rstrip(".")
    return first[:160]
