"""Process-wide seeding and threading, reset at the start of every job (the basic launcher reuses the
process for all jobs of a sweep)."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, threads: int = 1, deterministic: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    # Small MLPs gain nothing from intra-op threads and lose a lot to contention when jobs run in parallel.
    torch.set_num_threads(max(1, int(threads)))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, int(threads))))
    torch.use_deterministic_algorithms(bool(deterministic))
