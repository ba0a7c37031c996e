"""The machine's NUMA topology and which memkind kinds it can serve.

Everything comes from the native topology unit (native/src/topology.c) through the binding,
so the Python view and the allocator agree, overrides included (MEMKIND_HBW_NODES,
MEMKIND_DAX_KMEM_NODES, MEMKIND_HBW_THRESHOLD).
"""

from __future__ import annotations

from dataclasses import dataclass

from tiercache import _bindings as _b

__all__ = ["Node", "Topology", "kinds", "read"]


@dataclass(frozen=True)
class Node:
    """One NUMA node."""

    id: int
    cpus: tuple[int, ...]
    capacity_bytes: int
    distances: tuple[int, ...]  #: to every node of the topology, in its order
    read_bandwidth_mbps: int | None  #: HMAT access0 read bandwidth, None if absent
    read_latency_ns: int | None  #: HMAT access0 read latency, None if absent
    is_hbw: bool
    is_dax_kmem: bool
    hugepages_2m: int  #: reserved 2 MiB pages


@dataclass(frozen=True)
class Topology:
    nodes: tuple[Node, ...]


def read() -> Topology:
    """The online NUMA nodes (raises EnvironmentOptionError for an invalid override)."""
    return Topology(nodes=tuple(Node(**n) for n in _b.topology_nodes()))


def kinds() -> list[tuple[str, bool, str]]:
    """(memkind kind name such as "MEMKIND_HBW", available, reason if not) for every static
    topology kind."""
    out = []
    for name in _b.numa_preset_names():
        rc, why = _b.numa_check(name)
        out.append(
            ("MEMKIND_" + name.upper(), rc == _b.OK, "" if rc == _b.OK else why or _b.strerror(rc))
        )
    return out
