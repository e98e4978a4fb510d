#!/usr/bin/env bash
# A two-node Ray cluster on one host for gailrun's cluster tests: a head on 127.0.0.2 and a worker node on
# 127.0.0.3, each `ray start --block` in the background with its PID kept (`ray stop` kills by name, which
# would stop other users' Ray too). Usage: cluster/ray.sh up|down|kill-worker|start-worker|address.
# Both run gailrun's .venv and start in the repository root: Ray tasks run in `ray start`'s directory
# with its environment, not the driver's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${GAILRUN_CLUSTER_DIR:-$ROOT/outputs/cluster}/ray
RAY=${RAY_BIN:-$ROOT/.venv/bin/ray}
HEAD_IP=127.0.0.2
WORKER_IP=127.0.0.3
PORT=${GAILRUN_RAY_PORT:-6379}
ADDRESS=$HEAD_IP:$PORT
export RAY_AUTH_MODE=disabled        # a stray ~/.ray/auth_token would turn token authentication on
export RAY_USAGE_STATS_ENABLED=0     # nothing may wait on the network
export OMP_NUM_THREADS=1

log() { echo "ray.sh: $*" >&2; }

nodes_alive() {  # the number of live nodes the head knows
  timeout 20 "$ROOT/.venv/bin/python" - "$ADDRESS" <<'PY' 2>/dev/null
import sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print(sum(n["Alive"] for n in ray.nodes()))
PY
}

wait_nodes() {  # wait_nodes N SECONDS
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    [[ $(nodes_alive || echo 0) == "$1" ]] && return 0
    sleep 1
  done
  log "timed out waiting for $1 live nodes; logs in $W"
  tail -n 20 "$W"/*.out >&2 || true
  return 1
}

start_worker() {
  (cd "$ROOT" && exec "$RAY" start --address="$ADDRESS" --node-ip-address=$WORKER_IP --num-cpus=1 \
    --object-store-memory=100000000 --disable-usage-stats --block) >"$W/worker.out" 2>&1 &
  echo $! >"$W/worker.pid"
}

up() {
  mkdir -p "$W"
  if [[ -s $W/head.pid ]] && kill -0 "$(cat "$W/head.pid")" 2>/dev/null; then
    log "already up"
    return 0
  fi
  (cd "$ROOT" && exec "$RAY" start --head --node-ip-address=$HEAD_IP --port="$PORT" --num-cpus=1 \
    --object-store-memory=100000000 --include-dashboard=false --disable-usage-stats \
    --temp-dir="$W/tmp" --block) >"$W/head.out" 2>&1 &
  echo $! >"$W/head.pid"
  wait_nodes 1 90
  start_worker
  wait_nodes 2 90
  log "up: head $ADDRESS, worker $WORKER_IP"
}

stop_pid() {  # stop_pid NAME: TERM the `ray start --block` (it stops its node's processes), then KILL
  local file=$W/$1.pid pid
  [[ -s $file ]] || return 0
  pid=$(cat "$file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$file"
}

kill_worker() {  # lose the worker node: KILL its raylet and every process it started, at once
  local pid
  pid=$(cat "$W/worker.pid")
  local raylets="" r
  # This cluster's worker raylet only: its address, and a session under this cluster's $W/tmp (another
  # cluster on the machine may use the same loopback addresses).
  for r in $(pgrep -f "raylet.*--node_ip_address=${WORKER_IP//./\\.}( |$)" || true); do
    if tr '\0' ' ' <"/proc/$r/cmdline" 2>/dev/null | grep -qF "$W/tmp"; then
      raylets="$raylets $r"
    fi
  done
  for r in $raylets; do
    pkill -KILL -P "$r" 2>/dev/null || true  # the node's workers (the jobs running on it)
    kill -KILL "$r" 2>/dev/null || true
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$W/worker.pid"
  log "worker node $WORKER_IP killed (raylet $raylets)"
}

down() {
  stop_pid worker
  stop_pid head
  # What `ray start --block` leaves when it is killed: processes whose session lives under $W.
  local pid
  for pid in $(pgrep -f "$W/tmp" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  log down
}

case ${1:-} in
up) up ;;
down) down ;;
kill-worker) kill_worker ;;
start-worker) start_worker && wait_nodes 2 90 ;;
address) echo "$ADDRESS" ;;
*)
  echo "usage: $0 up|down|kill-worker|start-worker|address" >&2
  exit 2
  ;;
esac
