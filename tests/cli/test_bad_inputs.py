"""Each bad input of docs/bad-inputs.md: exit 1, the documented message, and nothing lost or left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.bad_inputs import CASES, Case, markdown
from tests.helpers import REPO, run_cli


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path):
    case.setup(tmp_path)
    before = snapshot(tmp_path)
    out = run_cli(*case.args(tmp_path), cwd=tmp_path, file_size_limit=case.file_size_limit)
    assert out.returncode == 1, out.stdout[-500:] + out.stderr[-1500:]
    assert case.message in out.stderr, out.stderr[-1500:]
    if case.one_line:
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("gailrun: error:")]
        assert len(errors) == 1, out.stderr
    after = snapshot(tmp_path)
    if case.name == "diverged":
        run = tmp_path / "run"
        assert (
            '"failed"' in (run / "status.json").read_text()
            and "non-finite" in (run / "status.json").read_text()
        )
        last = torch.load(run / "last.pt", weights_only=True)  # the last good checkpoint survives
        assert all(torch.isfinite(v).all() for v in last["agent"].values())
        return
    for name, data in before.items():
        if name in case.may_change:
            continue
        if name.endswith(".log"):  # the attempt's log lines are appended: nothing is lost
            assert after.get(name, b"").startswith(data), f"{name} was truncated"
            continue
        assert after.get(name) == data, f"{name} was changed or lost"
    assert set(after) == set(before), f"left behind: {sorted(set(after) - set(before))}"


def test_the_documented_table_is_the_tested_one():
    assert (REPO / "docs" / "bad-inputs.md").read_text() == markdown()
