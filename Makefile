# gailrun: `make help` lists the targets. Every target creates .venv and installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GAILRUN := $(VENV)/bin/gailrun
STAMP := $(VENV)/.installed
RUN_DIR ?= outputs/make-run
# Test processes: each test runs its CLI commands one at a time, so two workers keep two cores busy.
TEST_WORKERS ?= 2
# The main job: GAIL (disc=same) on the bundled LunarLander expert data, 3 trajectories, a few minutes.
RUN_ARGS ?= algo=gail disc=same preset=gail_lunarlander train.total_steps=300000

.DEFAULT_GOAL := help
.PHONY: help setup run test test-full test-cluster lint format bench bench-startup bench-learning experts clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel; an open range with no torch installed would pull CUDA packages.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install gailrun with its test tools
	@mkdir -p outputs

run: setup ## GAIL on LunarLander-v3 from the bundled expert data (minutes), then evaluate over 100 episodes
	rm -rf $(RUN_DIR)
	$(GAILRUN) train $(RUN_ARGS) hydra.run.dir=$(RUN_DIR)
	$(GAILRUN) eval ckpt=$(RUN_DIR)/best_rf.pt episodes=100 seed=9999

test: setup ## Run the tests (without the slow and cluster ones), including a real CartPole learning check
	$(PY) -m pytest -m "not slow and not cluster" -q -n $(TEST_WORKERS) --dist loadfile

test-full: setup ## Run every test but the cluster ones, slow learning checks included
	$(PY) -m pytest -m "not cluster" -q -n $(TEST_WORKERS) --dist loadfile

test-cluster: setup ## Start local SLURM and Ray clusters (installing them if missing), run the cluster tests, stop them
	cluster/test.sh

lint: setup ## ruff check and format check
	$(VENV)/bin/ruff check gailrun tests bench hydra_plugins
	$(VENV)/bin/ruff format --check gailrun tests bench hydra_plugins

format: setup ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix gailrun tests bench hydra_plugins
	$(VENV)/bin/ruff format gailrun tests bench hydra_plugins

bench: setup ## Measure throughput vs the raw env rate and SB3; writes bench/RESULTS.md
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/throughput.py --write bench/RESULTS.md

bench-startup: setup ## Start-up of train / show-config / eval vs `import torch, gymnasium`; writes bench/RESULTS.md
	$(PY) bench/startup.py --write bench/RESULTS.md

bench-learning: setup ## Every learning check over seeds 1-8 and three CPU kernel settings (about 30 min); bench/RESULTS.md
	$(PY) bench/learning_seeds.py --seeds 1-8 --write bench/RESULTS.md

ASSETS := gailrun/assets
experts: setup ## Retrain the bundled PPO experts and re-record their demonstration datasets
	$(GAILRUN) train env=cartpole train.total_steps=50000 seed=1 hydra.run.dir=outputs/experts/cartpole
	cp outputs/experts/cartpole/best.pt $(ASSETS)/experts/cartpole-ppo.pt
	$(GAILRUN) collect-expert ckpt=$(ASSETS)/experts/cartpole-ppo.pt episodes=20 min_score=500 \
		out=$(ASSETS)/datasets/gailrun/cartpole-ppo-v0 overwrite=true
	# The CartPole study's 200-step cap: the expert, and a human-like stand-in (a random action w.p. 0.3).
	$(GAILRUN) collect-expert ckpt=$(ASSETS)/experts/cartpole-ppo.pt episodes=20 min_score=200 \
		max_episode_steps=200 out=$(ASSETS)/datasets/gailrun/cartpole-ppo200-v0 overwrite=true
	$(GAILRUN) collect-expert ckpt=$(ASSETS)/experts/cartpole-ppo.pt episodes=30 min_score=200 \
		max_episode_steps=200 epsilon=0.3 seed=100 out=$(ASSETS)/datasets/gailrun/cartpole-humanlike-v0 \
		overwrite=true
	$(GAILRUN) train preset=zoo_ppo seed=1 \
		hydra.run.dir=outputs/experts/lunarlander
	cp outputs/experts/lunarlander/best.pt $(ASSETS)/experts/lunarlander-ppo.pt
	$(GAILRUN) collect-expert ckpt=$(ASSETS)/experts/lunarlander-ppo.pt episodes=250 min_score=230 \
		out=$(ASSETS)/datasets/gailrun/lunarlander-ppo-v0 overwrite=true
	# InfoGAIL's mixed-style demonstrations: CartPole experts shaped to keep the cart left / right of centre.
	for side in left right; do \
		target=$$([ $$side = left ] && echo -1.0 || echo 1.0); \
		$(GAILRUN) train env=cartpole env.shaping.target=$$target env.shaping.weight=1.0 train.total_steps=100000 \
			seed=1 hydra.run.dir=outputs/experts/cartpole-$$side && \
		cp outputs/experts/cartpole-$$side/best.pt $(ASSETS)/experts/cartpole-$$side.pt && \
		$(GAILRUN) collect-expert ckpt=$(ASSETS)/experts/cartpole-$$side.pt episodes=12 min_score=500 \
			label=$$side out=outputs/experts/demos-$$side overwrite=true || exit 1; \
	done
	$(GAILRUN) data merge $(ASSETS)/datasets/gailrun/cartpole-styles-v0 outputs/experts/demos-left \
		outputs/experts/demos-right --overwrite

clean: ## Remove the virtual environment and generated outputs
	rm -rf $(VENV) outputs multirun wandb .pytest_cache .ruff_cache
