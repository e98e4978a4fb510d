"""bench/RESULTS.md's generated blocks: each bench script owns one block between two markers and replaces
it in place, so a rerun rewrites its own numbers and leaves the hand-written text around them alone."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: Path, name: str, body: str, heading: str) -> None:
    """Replace the block `<!-- bench:NAME:start -->...end` in `path`, or append it under `heading`."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n{heading}\n\n" + block + "\n"
    path.write_text(text)
