"""The command line, run as subprocesses: help, config printing, overrides, errors and exit codes."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import read_json, run_cli

FAST = (
    "env=cartpole",
    "env.num_envs=2",
    "algo.num_steps=64",
    "train.total_steps=512",
    "final_eval.episodes=4",
)


def test_help_lists_every_command_with_a_description():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("train", "eval", "show-config"):
        line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith(command + " "))
        assert len(line.split(maxsplit=1)) == 2, f"{command} has no description"
    assert "--install-completion" in out.stdout


def test_show_config_applies_overrides_and_agent_presets():
    out = run_cli("show-config", "env=cartpole", "ppo_opts=top1", "seed=7")
    assert out.returncode == 0, out.stderr
    assert "id: CartPole-v1" in out.stdout and "seed: 7" in out.stdout
    assert "grad_clip: true" in out.stdout and "obs_norm: false" in out.stdout


def test_unknown_key_exits_1_with_hydras_message():
    out = run_cli("train", "algo.no_such_key=3")
    assert out.returncode == 1
    assert "Could not override 'algo.no_such_key'" in out.stderr
    assert "Key 'no_such_key' not in 'Algo'" in out.stderr


def test_unknown_group_option_exits_1_with_hydras_message():
    out = run_cli("train", "env=atari")
    assert out.returncode == 1
    assert "Could not find 'env/atari'" in out.stderr and "cartpole" in out.stderr


def test_train_then_eval_round_trip(tmp_path: Path):
    run_dir = tmp_path / "run"
    out = run_cli("train", *FAST, f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr
    for name in (
        "best.pt",
        "last.pt",
        "metrics.csv",
        "timing.csv",
        "episodes.csv",
        "summary.json",
        "status.json",
        "config.yaml",
        "eval.json",
        "train.log",
    ):
        assert (run_dir / name).exists(), name
    assert read_json(run_dir / "status.json")["status"] == "ok"
    summary = read_json(run_dir / "summary.json")
    assert summary["final_eval"]["checkpoint"] == "best.pt", "PPO's headline is best.pt"
    assert set(summary["evaluations"]) == {"best.pt", "last.pt"}, "last.pt is evaluated beside it"
    assert summary["evaluations"]["last.pt"]["mean"] == read_json(run_dir / "eval_last.json")["mean"]
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    for metric in (
        "charts/episodic_return",
        "charts/avg100_return",
        "losses/policy",
        "losses/value",
        "losses/entropy",
        "losses/approx_kl",
        "losses/clipfrac",
    ):
        assert metric in header
    assert "charts/sps" in (run_dir / "timing.csv").read_text().splitlines()[0]

    out = run_cli("eval", f"ckpt={run_dir / 'last.pt'}", "episodes=5", "seed=9999", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "CartPole-v1" in out.stdout and "over 5 episodes" in out.stdout and "+-" in out.stdout
    body = read_json(run_dir / "eval_last.json")
    assert body["episodes"] == 5 and len(body["returns"]) == 5 and body["seed"] == 9999
    assert body["mean"] == sum(body["returns"]) / 5
    assert not (tmp_path / "outputs").exists(), "eval must write nothing but its json"


def test_lunarlander_v2_is_an_alias_with_a_notice(tmp_path: Path):
    out = run_cli(
        "train",
        *FAST,
        "env.id=LunarLander-v2",
        "train.total_steps=128",
        "final_eval.episodes=0",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    notices = [ln for ln in out.stderr.splitlines() if "LunarLander-v2" in ln]
    assert len(notices) == 1 and "LunarLander-v3" in notices[0]
    assert read_json(tmp_path / "summary.json")["env_id"] == "LunarLander-v3"


def test_multirun_flag_runs_each_value(tmp_path: Path):
    out = run_cli("train", "-m", *FAST, "final_eval.episodes=0", "seed=1,2", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    seeds = sorted(read_json(tmp_path / str(i) / "summary.json")["seed"] for i in (0, 1))
    assert seeds == [1, 2]


def test_eval_of_a_bundled_checkpoint_writes_outside_the_package(tmp_path: Path):
    from gailrun.config.resolvers import ASSETS

    ckpt = ASSETS / "experts" / "cartpole-ppo.pt"
    before = sorted(p.name for p in ckpt.parent.iterdir())
    out = run_cli("eval", f"ckpt={ckpt}", "episodes=2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in ckpt.parent.iterdir()) == before, "eval wrote into the package"
    body = read_json(tmp_path / "outputs" / "eval" / "cartpole-ppo" / "eval_cartpole-ppo.json")
    assert body["episodes"] == 2 and body["checkpoint"] == str(ckpt)
    out = run_cli("eval", f"ckpt={ckpt}", "episodes=2", f"out_dir={tmp_path / 'mine'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert read_json(tmp_path / "mine" / "eval_cartpole-ppo.json")["returns"] == body["returns"]
