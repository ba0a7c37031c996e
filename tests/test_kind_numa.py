"""NUMA kinds from Python: Kind.numa and the 'hbw' / 'dax_kmem' cache tiers put their pages on
the node the topology names (checked with move_pages through tc_page_node). On a one-node
machine the node overrides stand in; tests marked numa need a real multi-node topology (run
them in ../shared/numa-vm, see scripts/numa-test.sh) and skip elsewhere, saying why."""

from __future__ import annotations

import json

import pytest
from helpers import run_python

from tiercache import InvalidArgumentError, Kind, KindUnavailableError, topology
from tiercache import _bindings as _b

MiB = 1 << 20

# Store a large value in a two-tier cache (DRAM over the named NUMA tier) and report the
# nodes holding the value's pages and the tier that holds it.
_PROBE = """
import json, sys
import numpy as np
from tiercache import TierCache, Tier
from tiercache import _bindings as _b
tier = sys.argv[1]
cache = TierCache.from_tiers([Tier.dram(1), Tier(tier, 16)], large_value_bytes=64 * 1024)
cache["big"] = bytes(range(256)) * 4096  # 1 MiB: goes to the capacity tier
view = cache.get("big", copy=False)
addr = np.frombuffer(view, dtype=np.uint8).ctypes.data
nodes = sorted({_b.page_node(_b.pointer(addr + off)) for off in range(0, len(view), 4096)})
used = [t["value_bytes"] for t in cache.stats()["tiers"]]
ok = bytes(view) == bytes(range(256)) * 4096
del view
cache.close()
print(json.dumps({"nodes": nodes, "tier_bytes": used, "intact": ok}))
"""


def probe(tier: str, env: dict[str, str] | None = None) -> dict:
    done = run_python("-c", _PROBE, tier, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_regular_kind_pages_land_on_a_node_with_cpus():
    kind = Kind.numa("regular")
    try:
        alloc = kind.allocate(4 * MiB)
        alloc.view[:] = b"\x01" * (4 * MiB)
        cpu_nodes = {n.id for n in topology.read().nodes if n.cpus}
        for off in range(0, 4 * MiB, 64 * 1024):
            assert _b.page_node(_b.pointer(alloc.address + off)) in cpu_nodes
        alloc.free()
    finally:
        kind.close()


def test_unknown_numa_kind_name_is_invalid():
    with pytest.raises(InvalidArgumentError, match="unknown NUMA kind 'hbm'"):
        Kind.numa("hbm")


def test_hbw_kind_without_hbw_memory_says_why():
    if any(n.is_hbw for n in topology.read().nodes):
        pytest.skip("this machine has a high-bandwidth node")
    with pytest.raises(KindUnavailableError, match="high-bandwidth"):
        Kind.numa("hbw")


@pytest.mark.parametrize("tier", ["hbw", "dax_kmem"])
def test_cache_tier_uses_the_overridden_node(tier):
    """MEMKIND_HBW_NODES=0 / MEMKIND_DAX_KMEM_NODES=0 make node 0 stand in."""
    seen = probe(tier, env={"MEMKIND_HBW_NODES": "0", "MEMKIND_DAX_KMEM_NODES": "0"})
    assert seen["intact"]
    assert seen["nodes"] == [0]
    assert seen["tier_bytes"][1] >= MiB, "the large value lives in the NUMA tier"


@pytest.mark.numa
@pytest.mark.parametrize(("tier", "attr"), [("hbw", "is_hbw"), ("dax_kmem", "is_dax_kmem")])
def test_cache_tier_lands_on_the_real_node(tier, attr):
    wanted = [n.id for n in topology.read().nodes if getattr(n, attr)]
    if not wanted:
        pytest.skip(f"no {attr[3:]} node on this machine (run in the numa VM)")
    seen = probe(tier)
    assert seen["intact"]
    assert seen["nodes"] and set(seen["nodes"]) <= set(wanted)
