"""`tiercache info [DIR...] [--json]`: the machine's memory as the library sees it.

Sections: versions; NUMA nodes (from tiercache.topology when this build has it); every kind,
whether it can allocate here and why not; and for each DIR its filesystem, whether it is
mounted DAX and whether it supports hole punching (asked of the library, which makes a
file kind there: tiercache/_fsprobe.py). The file kind is probed in the first DIR (default
/dev/shm).
"""

from __future__ import annotations

import json
import mmap
import os
import sys
import tempfile
from typing import Any

from tiercache import __version__, _bindings, _fsprobe
from tiercache.errors import TierCacheError
from tiercache.kinds import Kind

NO_TOPOLOGY = "topology: not available in this build"

# memkind's static kinds: built on the NUMA topology, which this build may not have.
TOPOLOGY_KINDS = (
    "hbw", "hbw_all", "hbw_preferred", "hbw_interleave", "hbw_hugetlb", "hugetlb",
    "interleave", "dax_kmem", "dax_kmem_all", "dax_kmem_preferred", "dax_kmem_interleave",
    "highest_capacity", "highest_capacity_local", "lowest_latency_local",
    "highest_bandwidth_local",
)  # fmt: skip


def _default_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def _probe(name: str, make: Any, detail: str) -> dict[str, Any]:
    """Create a kind with make(), allocate 64 bytes from it, report capacity; close it."""
    row: dict[str, Any] = {"name": name, "available": False, "capacity": None, "detail": detail}
    try:
        with make() as kind:
            kind.check_available()
            kind.allocate(64).free()
            row["available"] = True
            row["capacity"] = kind.capacity
    except TierCacheError as exc:
        row["error"] = str(exc)
        row["reason"] = str(exc)
    return row


def _topology() -> tuple[Any, str | None]:
    """(tiercache.topology module, None) or (None, why not)."""
    try:
        from tiercache import topology
    except ImportError:
        return None, NO_TOPOLOGY
    return topology, None


def _nodes(topology: Any) -> list[dict[str, Any]]:
    nodes = []
    for n in topology.read().nodes:
        nodes.append(
            {
                "id": n.id,
                "cpus": list(n.cpus),
                "capacity_bytes": n.capacity_bytes,
                "distances": list(n.distances),
                "read_bandwidth_mbps": n.read_bandwidth_mbps,
                "read_latency_ns": n.read_latency_ns,
                "is_hbw": n.is_hbw,
                "is_dax_kmem": n.is_dax_kmem,
                "hugepages_2m": n.hugepages_2m,
            }
        )
    return nodes


def kinds(file_dir: str, topology: Any) -> list[dict[str, Any]]:
    """Every kind: the three this build creates (probed), then the topology kinds."""
    fixed_area = mmap.mmap(-1, 4 << 20)
    try:
        rows = [
            _probe("dram", Kind.dram, "default DRAM kind"),
            _probe("file", lambda: Kind.file(file_dir), f"file-backed, dir={file_dir}"),
            _probe("fixed", lambda: Kind.fixed(fixed_area), "caller's memory area (4 MiB probe)"),
        ]
    finally:
        fixed_area.close()
    seen = {r["name"] for r in rows}
    if topology is not None:
        for name, available, reason in topology.kinds():
            if name in seen:
                continue
            rows.append({"name": name, "available": bool(available), "capacity": None,
                         "detail": "NUMA-topology kind", "reason": reason or None})  # fmt: skip
    else:
        for name in TOPOLOGY_KINDS:
            rows.append(
                {"name": name, "available": False, "capacity": None,
                 "detail": "NUMA-topology kind",
                 "reason": "not in this build: it has no NUMA topology support"}
            )  # fmt: skip
    return rows


_mount_of = _fsprobe.mount_of


def _dax(options: str) -> str:
    """yes (dax, dax=always), per-file (dax=inode), or no."""
    opts = options.split(",")
    if "dax" in opts or "dax=always" in opts:
        return "yes"
    if "dax=inode" in opts:
        return "per-file"
    return "no"


def punch_hole(directory: str) -> tuple[bool, str]:
    """Whether a file-backed kind can live in directory, asked of the library (it makes a file
    kind there: an unlinked file, a block allocated, a hole punched): (works, how it went)."""
    result = _fsprobe.probe(directory)
    return bool(result["usable"]), str(result["detail"])


def examine_dir(path: str) -> dict[str, Any]:
    row: dict[str, Any] = {"path": path, "exists": os.path.isdir(path)}
    if not row["exists"]:
        row["reason"] = "not a directory" if os.path.exists(path) else "does not exist"
        return row
    mount = _mount_of(path)
    if mount is not None:
        row.update(mount)
        row["dax"] = _dax(mount["options"])
    st = os.statvfs(path)
    row["free_bytes"] = st.f_bavail * st.f_frsize
    row["hole_punching"], row["hole_punching_detail"] = punch_hole(path)
    return row


def info(dirs: list[str]) -> dict[str, Any]:
    """Everything `tiercache info` shows, as one JSON-able object."""
    topology, why = _topology()
    report: dict[str, Any] = {
        "version": __version__,
        "native_version": "{}.{}.{}".format(*_bindings.version()),
        "python": sys.version.split()[0],
        "options_error": _bindings.options_error(),
    }
    if topology is not None:
        report["topology"] = {"available": True, "nodes": _nodes(topology)}
    else:
        report["topology"] = {"available": False, "reason": why}
    report["kinds"] = kinds(dirs[0] if dirs else _default_dir(), topology)
    report["dirs"] = [examine_dir(d) for d in (dirs or [_default_dir()])]
    return report


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _cpus(cpus: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    out: list[str] = []
    run: list[int] = []
    for c in sorted(cpus):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [c]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out) or "-"


def print_info(report: dict[str, Any]) -> None:
    print(f"tiercache {report['version']} (native {report['native_version']}, "
          f"python {report['python']})")  # fmt: skip
    if report["options_error"]:
        print(f"invalid environment option: {report['options_error']}")
    print()
    topo = report["topology"]
    if not topo["available"]:
        print(topo["reason"])
    else:
        print(f"{'node':<5} {'cpus':<12} {'capacity':>10} {'read MB/s':>10} {'read ns':>8} "
              f"{'HBW':<4} {'DAX-KMEM':<8} {'2M pages':>8}  distances")  # fmt: skip
        for n in topo["nodes"]:
            bw = "-" if n["read_bandwidth_mbps"] is None else str(n["read_bandwidth_mbps"])
            lat = "-" if n["read_latency_ns"] is None else str(n["read_latency_ns"])
            print(
                f"{n['id']:<5} {_cpus(n['cpus']):<12} {_human(n['capacity_bytes']):>10} "
                f"{bw:>10} {lat:>8} {'yes' if n['is_hbw'] else 'no':<4} "
                f"{'yes' if n['is_dax_kmem'] else 'no':<8} {n['hugepages_2m']:>8}  "
                f"{' '.join(str(d) for d in n['distances'])}"
            )
    print()
    width = max([len("kind")] + [len(row["name"]) for row in report["kinds"]])
    print(f"{'kind':<{width}} {'available':<9} {'capacity':>10}  detail")
    for row in report["kinds"]:
        avail = "yes" if row["available"] else "no"
        detail = row["detail"]
        if not row["available"] and row.get("reason"):
            detail += f" ({row['reason']})"
        print(f"{row['name']:<{width}} {avail:<9} {_human(row['capacity']):>10}  {detail}")
    print()
    for d in report["dirs"]:
        if not d["exists"]:
            print(f"{d['path']}: {d['reason']}")
            continue
        punch = "yes" if d["hole_punching"] else "no"
        print(
            f"{d['path']}: {d.get('filesystem', '?')} on {d.get('mount_point', '?')} "
            f"({d.get('source', '?')}), DAX {d.get('dax', '?')}, hole punching {punch} "
            f"({d['hole_punching_detail']}), {_human(d['free_bytes'])} free"
        )


def run_info(dirs: list[str], as_json: bool) -> int:
    report = info(dirs)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_info(report)
    return 0
