"""Names of the files a run writes, in a module without heavy imports (reports read them without torch)."""

from __future__ import annotations

from pathlib import Path


def eval_json_path(ckpt: Path) -> Path:
    """Where the evaluation of `ckpt` is written: eval.json beside best.pt, eval_<name>.json otherwise."""
    ckpt = Path(ckpt)
    return ckpt.with_name("eval.json" if ckpt.stem == "best" else f"eval_{ckpt.stem}.json")
