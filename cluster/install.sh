#!/usr/bin/env bash
# What the cluster tests need, installed when missing: Debian's SLURM, munge, slurmdbd and MariaDB (apt,
# as root; nothing is started, as there is no systemd here), and Ray into gailrun's .venv (the `ray` extra).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=$ROOT/.venv/bin/python
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "install.sh: missing ${missing[*]}; install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "install.sh: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # A policy-rc.d answering 101: no package starts its daemon; cluster/slurm.sh starts what it needs.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$PY" -c "import ray, hydra_plugins.hydra_ray_launcher" 2>/dev/null; then
  echo "install.sh: pip install -e '.[ray]'" >&2
  "$PY" -m pip install -q -e "$ROOT[ray]"
fi
