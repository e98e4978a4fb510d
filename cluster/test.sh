#!/usr/bin/env bash
# make test-cluster: install what is missing, start a local SLURM cluster and a two-node Ray cluster on
# loopback addresses, run the tests marked `cluster`, and stop every daemon started here by its PID, also
# when a test fails or the run is interrupted.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export GAILRUN_CLUSTER_DIR=${GAILRUN_CLUSTER_DIR:-$ROOT/outputs/cluster}
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0

cluster/install.sh
teardown() {
  local rc=$?
  cluster/ray.sh down || true
  cluster/slurm.sh down || true
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM
# A fresh state: a controller that finds old jobs in its state directory would run them again.
cluster/slurm.sh down
cluster/ray.sh down
rm -rf "$GAILRUN_CLUSTER_DIR"
cluster/slurm.sh up
cluster/ray.sh up
eval "$(cluster/slurm.sh env)"
export GAILRUN_RAY_ADDRESS=$(cluster/ray.sh address)
.venv/bin/python -m pytest -m cluster tests/cluster -q -p no:cacheprovider "$@"
