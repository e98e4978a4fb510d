"""Start-up cost: what the commands import, checked by cause, not by time (bench/startup.py times them).

Each probe runs one command in a fresh interpreter (`gailrun.cli.app.main()` in-process, so the modules it
loaded can be listed afterwards) and reports `sys.modules`. The costly ones are torch's compiler stack,
which `torch.use_deterministic_algorithms` imports (about 2.5 s; gailrun/run/seeding.py avoids it), and
libraries only some commands or options use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, cli_env

# Imported only by the runs that use them: torch.compile, logger=wandb / tensorboard, `gailrun report`,
# datasets (GAIL, BC, collect-expert, data), `gailrun play`, videos, launcher and sweeper plugins.
HEAVY = (
    "torch._inductor",
    "torch._dynamo",
    "sympy",
    "wandb",
    "matplotlib",
    "tensorboard",
    "torch.utils.tensorboard",
    "h5py",
    "minari",
    "pygame",
    "imageio",
    "PIL",
    "submitit",
    "optuna",
    "joblib",
)

PROBE = """
import json, sys
import gailrun.cli.app
sys.argv = ["gailrun", *sys.argv[1:]]
try:
    gailrun.cli.app.main()
    code = 0
except SystemExit as exc:
    code = exc.code
torch = sys.modules.get("torch")
print("PROBE " + json.dumps({
    "code": code,
    "modules": sorted(sys.modules),
    "deterministic": torch.are_deterministic_algorithms_enabled() if torch else None,
}))
"""


def probe(*args: str, cwd: Path | None = None, script: str = PROBE) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=cli_env(),
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("PROBE ")]
    assert out.returncode == 0 and lines, out.stderr
    return json.loads(lines[-1][len("PROBE ") :])


def loaded(modules: list[str]) -> list[str]:
    return [name for name in HEAVY if name in modules]


def test_train_imports_no_compiler_and_seeds_deterministic(tmp_path: Path):
    result = probe(
        "train",
        "env=cartpole",
        "train.total_steps=1",
        "final_eval.episodes=0",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result["code"] == 0
    assert loaded(result["modules"]) == []
    assert result["deterministic"] is True  # torch_deterministic=true, without the public setter


def test_show_config_imports_no_torch():
    result = probe("show-config", "env=cartpole")
    assert result["code"] == 0
    assert "torch" not in result["modules"] and loaded(result["modules"]) == []


def test_eval_imports_no_compiler(tmp_path: Path):
    ckpt = tmp_path / "cartpole-ppo.pt"  # a copy: eval writes its JSON beside the checkpoint
    shutil.copyfile(REPO / "gailrun" / "assets" / "experts" / "cartpole-ppo.pt", ckpt)
    result = probe("eval", f"ckpt={ckpt}", "episodes=1", cwd=tmp_path)
    assert result["code"] == 0
    assert loaded(result["modules"]) == []


SEEDING = """
import json, sys
import torch
from gailrun.run.seeding import seed_everything, sync_compiler_determinism

states = []
def state():
    inductor = sys.modules.get("torch._inductor.config")
    states.append([
        torch.are_deterministic_algorithms_enabled(),
        None if inductor is None else inductor.deterministic,
    ])
seed_everything(1, deterministic=True)
state()
sync_compiler_determinism()  # what PPO calls before torch.compile
state()
seed_everything(2, deterministic=False)  # a later job of a sweep, inductor loaded: the public setter
state()
seed_everything(3, deterministic=True)
state()
print("PROBE " + json.dumps({"states": states}))
"""


def test_seeding_sets_the_flag_and_hands_it_to_inductor_before_compiling():
    """seed_everything sets ATen's flag without loading inductor; sync_compiler_determinism gives inductor
    the same setting, as torch.use_deterministic_algorithms would have; later calls keep both in step."""
    states = probe(script=SEEDING)["states"]
    assert states == [[True, None], [True, True], [False, False], [True, True]]
