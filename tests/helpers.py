"""Run the real `gailrun` console script as a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def gailrun_exe() -> list[str]:
    exe = shutil.which("gailrun", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "gailrun"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """`env` values of None remove a variable."""
    # PYTHONPATH: test-only envs are reachable from the CLI as `tests.toy_envs:<id>`.
    full_env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "PYTHONPATH": str(REPO),
        **(env or {}),
    }
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run(
        [*gailrun_exe(), *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
