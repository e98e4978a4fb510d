#!/usr/bin/env bash
# A one-host SLURM cluster for gailrun's cluster tests: munged, MariaDB (socket only), slurmdbd, slurmctld
# and slurmd, each started in the foreground in the background with its PID kept, so `down` stops exactly
# what `up` started. Usage: cluster/slurm.sh up|down|env. `env` prints the exports clients need.
# State lives in $GAILRUN_CLUSTER_DIR/slurm (default outputs/cluster/slurm); nothing under /etc is edited.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${GAILRUN_CLUSTER_DIR:-$ROOT/outputs/cluster}/slurm
PIDS=$W/pids
HOST=$(hostname -s)
PARTITION=debug  # conf/hydra/launcher/slurm.yaml's tests name it; a real cluster names its own
export SLURM_CONF=$W/etc/slurm.conf
export MYSQL_UNIX_PORT=$W/mysql/mysqld.sock  # MariaDB's client library (slurmdbd) reads it

log() { echo "slurm.sh: $*" >&2; }

start() {  # start NAME CMD...: run CMD in the background, its PID in $PIDS/NAME.pid, output in $W/log
  local name=$1
  shift
  "$@" >"$W/log/$name.out" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

wait_for() {  # wait_for SECONDS DESCRIPTION CMD...: poll CMD until it succeeds
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "timed out after ${limit}s waiting for $what; logs in $W/log"
  tail -n 20 "$W"/log/* >&2 || true
  return 1
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
  mkdir -p "$W"/{etc,state,spool,log,run} "$PIDS"
  cat >"$W/etc/slurm.conf" <<CONF
ClusterName=gailrun
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=cred_expire=10
CredType=cred/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/run/slurmctld.pid
SlurmdPidFile=$W/run/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobCompType=jobcomp/none
MpiDefault=none
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
ReturnToService=2
SchedulerParameters=bf_interval=5
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  cat >"$W/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$W/log/slurmdbd.log
PidFile=$W/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=gailrun
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$W/etc/slurmdbd.conf"
}

up() {
  if [[ -s $PIDS/slurmctld.pid ]] && kill -0 "$(cat "$PIDS/slurmctld.pid")" 2>/dev/null; then
    log "already up"
    return 0
  fi
  write_conf
  # munged runs as the munge user, as packaged, on its default socket: slurmctld's connection to slurmdbd
  # ignores AuthInfo=socket=. It refuses directories that others can write.
  mkdir -p "$W/munge" /run/munge
  chown munge:munge "$W/munge" /run/munge
  chmod 755 "$W/munge" /run/munge
  start munged setpriv --reuid=munge --regid=munge --init-groups munged -F \
    --pid-file="$W/munge/munged.pid" --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed"
  wait_for 20 munged test -S /run/munge/munge.socket.2
  # MariaDB for slurmdbd: no TCP at all (--skip-networking), a socket in the work directory.
  if [[ ! -d $W/mysql/data/mysql ]]; then
    mkdir -p "$W/mysql/data"
    mariadb-install-db --user=root --datadir="$W/mysql/data" --auth-root-authentication-method=socket \
      >"$W/log/mariadb-install.out" 2>&1
  fi
  start mariadb mariadbd --no-defaults --user=root --datadir="$W/mysql/data" --socket="$MYSQL_UNIX_PORT" \
    --skip-networking --pid-file="$W/mysql/mariadb.pid" --log-error="$W/log/mariadb.log" \
    --innodb-buffer-pool-size=32M
  wait_for 60 MariaDB mariadb --no-defaults --socket="$MYSQL_UNIX_PORT" -u root -e 'select 1'
  mariadb --no-defaults --socket="$MYSQL_UNIX_PORT" -u root -e "
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'gailrun';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  start slurmdbd slurmdbd -D  # reads slurmdbd.conf beside $SLURM_CONF
  wait_for 60 "slurmdbd on port 6819" bash -c 'exec 3<>/dev/tcp/127.0.0.1/6819'
  timeout 30 sacctmgr -i add cluster gailrun >/dev/null 2>&1 || true  # already there on a reused state dir
  start slurmctld slurmctld -D -i
  start slurmd slurmd -D -N "$HOST"
  wait_for 60 "an idle node" bash -c "timeout 5 sinfo -h -N -o %t | grep -q idle"
  log "up: $(timeout 5 sinfo -h -o '%P %D %t %c cpus')"
}

stop_pid() {  # TERM the recorded PID, wait up to $2 seconds, then KILL it
  local name=$1 grace=$2 file=$PIDS/$1.pid pid
  [[ -s $file ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((grace * 4))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) ignored TERM for ${grace}s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

down() {
  [[ -d $PIDS ]] || return 0
  if [[ -s $PIDS/slurmctld.pid ]] && kill -0 "$(cat "$PIDS/slurmctld.pid")" 2>/dev/null; then
    # Jobs still queued or running would be requeued into the next cluster that reuses this state.
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
  fi
  # slurmd first: without its controller it may ignore TERM for minutes.
  stop_pid slurmd 10
  stop_pid slurmctld 10
  stop_pid slurmdbd 10
  stop_pid mariadb 20
  stop_pid munged 5
  # Job steps outlive slurmd on a host without cgroups: stop those whose slurmstepd came from this cluster.
  local pid
  for pid in $(pgrep -x slurmstepd || true); do
    if tr '\0' ' ' <"/proc/$pid/environ" 2>/dev/null | grep -q "SLURM_CONF=$SLURM_CONF"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  log down
}

case ${1:-} in
up) up ;;
down) down ;;
env) echo "export SLURM_CONF=$SLURM_CONF" ;;
*)
  echo "usage: $0 up|down|env" >&2
  exit 2
  ;;
esac
