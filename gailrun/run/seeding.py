"""Process-wide seeding and threading, reset at the start of every job (the basic launcher reuses the
process for all jobs of a sweep)."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch


def seed_everything(seed: int, threads: int = 1, deterministic: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    # Small MLPs gain nothing from intra-op threads and lose a lot to contention when jobs run in parallel.
    torch.set_num_threads(max(1, int(threads)))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, int(threads))))
    use_deterministic_algorithms(bool(deterministic))


def use_deterministic_algorithms(mode: bool) -> None:
    """`torch.use_deterministic_algorithms(mode)` without importing torch's compiler when nothing uses it.

    The public function does two things: it sets ATen's global flag (`torch._C._set_deterministic_algorithms`,
    the one every eager kernel, CPU or CUDA, consults: `torch.are_deterministic_algorithms_enabled()`
    reads it back) and it sets `torch._inductor.config.deterministic`, which only matters to code that
    torch.compile generates. Importing `torch._inductor.config` imports inductor, dynamo and sympy: about
    2.5 s, a third of a short run's wall time. So when inductor is not loaded yet, only the flag is set,
    with torch's private setter; `sync_compiler_determinism()` hands the setting to inductor before
    anything is compiled (`algo.compile=true`). Once inductor is loaded (a later job of a sweep in the
    same process) or if torch ever drops the private setter, the public function does both, as before.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode)
        return
    try:
        setter(mode, warn_only=False)
    except TypeError:  # another signature in another torch version
        torch.use_deterministic_algorithms(mode)


def sync_compiler_determinism() -> None:
    """Give inductor the process's deterministic setting (what `torch.use_deterministic_algorithms` does);
    call it before `torch.compile`, since `use_deterministic_algorithms` above may have left inductor out."""
    torch.use_deterministic_algorithms(
        torch.are_deterministic_algorithms_enabled(),
        warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
    )
