"""Real learning checks: every algorithm learns CartPole (PPO, GAIL, BC, InfoGAIL's styles).

Each check is defined once in tests/learning_checks.py; `make test` runs its first seeds, `make test-full`
the rest. Its thresholds held with margin on every seed and CPU kernel setting tried
(`python bench/learning_seeds.py`, bench/RESULTS.md section 7); a tendency (the shape of GAIL's final reward,
whether every InfoGAIL code keeps the expert's score) is reported there over seeds, not asserted on one run.
Plain GAIL "reproducing at most one style" is not a test: with one policy and no code, at most one style can
take 90% of its episodes by construction, so it would assert nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import read_json
from tests.learning_checks import CHECKS


def _cases(slow: bool) -> list:
    return [
        pytest.param(name, seed, id=f"{name}-seed{seed}", marks=[pytest.mark.slow] if slow else [])
        for name, check in CHECKS.items()
        for seed in (check.slow_seeds if slow else check.seeds)
    ]


@pytest.mark.parametrize("name, seed", _cases(slow=False) + _cases(slow=True))
def test_each_algorithm_learns_cartpole(tmp_path: Path, name: str, seed: int):
    """Each check of tests/learning_checks.py: train, measure, compare with thresholds that every run of
    seeds 1-8 under the native (AVX-512), avx2 and default kernel settings cleared (24 runs per check,
    bench/RESULTS.md section 7, `python bench/learning_seeds.py --seeds 1-8`):

    - ppo_cartpole (PPO, 50k steps): best.pt >= 475 over 100 deterministic episodes; all 24 at 500.0.
    - gail_cartpole (GAIL from 10 demonstrations, 100k steps, the env reward never learned from): the best
      100-episode training average >= 300; lowest 346.8 (margin 46.8). Deterministic best.pt reached >= 475
      on 20 of 24 runs but fell to 168.3 on one: reported, not asserted.
    - bc_cartpole (BC, 20 epochs): best.pt (lowest validation loss) and last.pt >= 475; all 24 at 500.0.
    - infogail_styles (the experiment's recipe, 300k steps, 20 deterministic episodes per code): some code
      keeps the expert's score (>= 475; all 24 at 500.0) and the codes' mean return >= 250 (lowest 317.4,
      margin 67.4). Separating the styles (23 of 24 runs at 100% style accuracy) with every code at 500 (22
      of 24 both) is a tendency, reported by the bench.
    """
    check = CHECKS[name]
    values = check.run(seed, tmp_path)
    assert not check.failures(values), (check.failures(values), values)
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert "charts/episodic_return" in header
    if name == "gail_cartpole":
        summary = read_json(tmp_path / "summary.json")
        assert summary["evaluations"]["best.pt"]["episodes"] == 100 and "best_vs_best_irl" in summary
        for metric in ("gail/expert_acc", "gail/learner_acc", "gail/loss", "gail/irl_score"):
            assert metric in header


@pytest.mark.slow
def test_infogail_separates_the_styles_on_most_seeds(tmp_path: Path):
    """The tendency the InfoGAIL check above does not assert per run: its codes separate the hidden styles
    (>= 90% style accuracy, best code-to-style mapping). Asserted over seeds 1-5 with a threshold every kernel
    setting cleared: 5 of 5 separate under native and avx2, 4 of 5 under default (seed 2: 50%); 23 of 24
    runs of seeds 1-8 in bench/RESULTS.md section 7. Here: at least 4 of 5."""
    check = CHECKS["infogail_styles"]
    accuracies = [check.run(seed, tmp_path / str(seed))["style_accuracy"] for seed in range(1, 6)]
    assert sum(a >= 0.9 for a in accuracies) >= 4, accuracies
