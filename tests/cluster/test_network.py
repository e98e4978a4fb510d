"""The clusters of `make test-cluster` cannot be reached from the machine's network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cluster.conftest import ray_address, slurm_conf

pytestmark = pytest.mark.cluster


def listening_ports() -> set[int]:
    """TCP ports something listens on in this network namespace (state 0A in /proc/net/tcp{,6})."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_daemons_listen_in_a_namespace_that_leads_nowhere():
    """slurmdbd and Ray bind every address; the namespace cluster/test.sh runs them in has loopback and a
    veth pair whose two ends are both in it (slurmdbd needs a non-loopback address to bind "any"), so no
    interface leads out of it."""
    slurm_conf(), ray_address()
    if not os.environ.get("GAILRUN_CLUSTER_NETNS"):
        pytest.skip("cluster/test.sh could not make a network namespace here (it warned): no check")
    # /proc/net is this namespace's (/sys/class/net would show the namespace sysfs was mounted in).
    names = sorted(line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:])
    assert names == ["gailrun0", "gailrun1", "lo"]
    # `ip -o link` names a veth's peer when it is in the same namespace (`gailrun0@gailrun1`), else `@ifN`.
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "gailrun0@gailrun1:" in links and "gailrun1@gailrun0:" in links, links
    ports = listening_ports()
    assert {6817, 6818, 6819, 6379} <= ports, f"SLURM or Ray is not listening here: {sorted(ports)}"
