"""tiercache.topology: the native topology unit seen from Python, overrides included."""

from __future__ import annotations

import json
import os

from helpers import run_python

from tiercache import topology


def test_read_lists_every_online_node_with_consistent_attributes():
    topo = topology.read()
    assert topo.nodes, "every Linux machine has at least node 0"
    ids = [n.id for n in topo.nodes]
    assert ids == sorted(set(ids))
    for i, node in enumerate(topo.nodes):
        assert len(node.distances) == len(topo.nodes)
        assert node.distances[i] == 10, "a node's distance to itself is the local distance"
        assert node.hugepages_2m >= 0
        assert node.read_bandwidth_mbps is None or node.read_bandwidth_mbps > 0
        assert node.read_latency_ns is None or node.read_latency_ns > 0
    assert any(n.cpus for n in topo.nodes), "some node holds this process's CPUs"
    assert sum(n.capacity_bytes for n in topo.nodes) > 0
    cpus = [c for n in topo.nodes for c in n.cpus]
    assert len(cpus) == len(set(cpus)) and os.sched_getaffinity(0) <= set(cpus)


def test_node_is_frozen():
    node = topology.read().nodes[0]
    try:
        node.id = 5  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Node must be immutable")


def test_kinds_reports_every_memkind_topology_kind_with_a_reason_when_unavailable():
    table = topology.kinds()
    names = [name for name, _, _ in table]
    assert len(names) == 22 and len(set(names)) == 22
    assert {"MEMKIND_HBW", "MEMKIND_DAX_KMEM", "MEMKIND_HUGETLB", "MEMKIND_REGULAR"} <= set(names)
    for name, available, reason in table:
        assert available == (reason == ""), name
    status = {name: ok for name, ok, _ in table}
    # any machine has a node with CPUs and memory
    assert status["MEMKIND_REGULAR"] and status["MEMKIND_INTERLEAVE"]
    assert status["MEMKIND_HIGHEST_CAPACITY"]


_PROBE = """
import json
from tiercache import topology
t = topology.read()
print(json.dumps({"hbw": [n.id for n in t.nodes if n.is_hbw],
                  "kmem": [n.id for n in t.nodes if n.is_dax_kmem],
                  "kinds": {k: ok for k, ok, _ in topology.kinds()}}))
"""


def test_overrides_make_node_0_high_bandwidth_and_dax_kmem():
    done = run_python("-c", _PROBE, env={"MEMKIND_HBW_NODES": "0", "MEMKIND_DAX_KMEM_NODES": "0"})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["hbw"] == [0] and seen["kmem"] == [0]
    assert seen["kinds"]["MEMKIND_HBW"] and seen["kinds"]["MEMKIND_DAX_KMEM_INTERLEAVE"]


def test_invalid_override_is_a_clear_error_not_a_crash():
    done = run_python(
        "-c",
        "from tiercache import topology\n"
        "try:\n    topology.read()\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n",
        env={"MEMKIND_HBW_NODES": "2-1"},
    )
    assert done.returncode == 0, done.stderr
    assert "EnvironmentOptionError" in done.stdout
    assert "MEMKIND_HBW_NODES" in done.stdout
