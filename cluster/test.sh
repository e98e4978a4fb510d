#!/usr/bin/env bash
# make test-cluster: install what is missing, start a local SLURM cluster and a two-node Ray cluster on
# loopback addresses, run the tests marked `cluster`, and stop every daemon started here by its PID, also
# when a test fails or the run is interrupted.
#
# The daemons and the tests run in a private network namespace (`unshare --net`) whose only interface is
# loopback: slurmdbd and Ray's GCS, raylets and agents bind every address and have no option to bind
# loopback only, so this is what keeps them off the machine's network. Installing needs the network, so it
# comes first, outside.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export GAILRUN_CLUSTER_DIR=${GAILRUN_CLUSTER_DIR:-$ROOT/outputs/cluster}
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0

if [[ ${1:-} != --in-namespace && ${1:-} != --in-host ]]; then
  if [[ $(id -u) != 0 ]]; then
    echo "test.sh: the local SLURM cluster needs root (apt installs, munged as the munge user, SlurmUser=root," \
      "a network namespace); run make test-cluster as root, e.g. in a container or VM" >&2
    exit 1
  fi
  cluster/install.sh
  # The backstop: whatever happens inside, every daemon recorded in the PID files is stopped.
  backstop() {
    local rc=$?
    cluster/ray.sh down >/dev/null 2>&1 || true
    cluster/slurm.sh down >/dev/null 2>&1 || true
    exit "$rc"
  }
  trap backstop EXIT
  trap 'exit 130' INT TERM
  # A fresh state: a controller that finds old jobs in its state directory would run them again.
  cluster/slurm.sh down
  cluster/ray.sh down
  rm -rf "${GAILRUN_CLUSTER_DIR:?}/slurm" "${GAILRUN_CLUSTER_DIR:?}/ray"  # only what slurm.sh and ray.sh made
  if unshare --net -- ip link add gailrun0 type veth peer name gailrun1 2>/dev/null; then
    unshare --net -- "$0" --in-namespace "$@"
  else
    echo "test.sh: WARNING: cannot make a network namespace with a veth pair here (unshare --net needs root" \
      "and veth): the daemons run in the machine's namespace, and some bind every address" >&2
    "$0" --in-host "$@"
  fi
  exit
fi
if [[ $1 == --in-namespace ]]; then
  ip link set lo up
  # slurmdbd listens on "any address", which glibc resolves (AI_ADDRCONFIG) only where an interface other
  # than loopback has an address: a veth pair whose both ends stay in this namespace gives it one.
  ip link add gailrun0 type veth peer name gailrun1
  ip addr add 10.254.0.1/30 dev gailrun0
  ip link set gailrun0 up
  ip link set gailrun1 up
  export GAILRUN_CLUSTER_NETNS=1
fi
shift

teardown() {  # inside the namespace, where the controller can still be reached to cancel leftover jobs
  local rc=$?
  cluster/ray.sh down || true
  cluster/slurm.sh down || true
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM
cluster/slurm.sh up
cluster/ray.sh up
eval "$(cluster/slurm.sh env)"
GAILRUN_RAY_ADDRESS=$(cluster/ray.sh address)
export GAILRUN_RAY_ADDRESS
.venv/bin/python -m pytest -m cluster tests/cluster -q -p no:cacheprovider "$@"
