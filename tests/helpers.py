"""Run the real `gailrun` console script as a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def gailrun_exe() -> list[str]:
    exe = shutil.which("gailrun", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "gailrun"]


def cli_env(env: dict | None = None) -> dict[str, str]:
    """The environment of every CLI subprocess of the tests; `env` values of None remove a variable.

    PYTHONPATH is this checkout, so the CLI runs the code under test (and test-only envs are reachable as
    `tests.toy_envs:<id>`), even when another checkout is the one installed in the virtualenv.
    """
    full = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "PYTHONPATH": str(REPO),
        **(env or {}),
    }
    return {k: v for k, v in full.items() if v is not None}


def _limit_file_size(limit: int) -> Callable[[], None]:
    """A preexec hook: the child's files may not grow past `limit` bytes (writes fail, as on a full disk)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_cli(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 600,
    env: dict | None = None,
    file_size_limit: int | None = None,
):
    return subprocess.run(
        [*gailrun_exe(), *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(env),
        preexec_fn=_limit_file_size(file_size_limit) if file_size_limit else None,
    )


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
