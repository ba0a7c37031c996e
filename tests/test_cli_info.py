"""`tiercache info`: versions, kinds, topology section and directories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from helpers import run_python

import tiercache
from tiercache.cli import info, main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "tiercache", *args)


def test_info_json_lists_the_three_built_kinds_as_available_and_every_other_with_a_reason():
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["version"] == tiercache.__version__
    kinds = {row["name"]: row for row in report["kinds"]}
    assert {"dram", "file", "fixed"} <= set(kinds)
    assert all(kinds[k]["available"] for k in ("dram", "file", "fixed")), kinds
    assert kinds["dram"]["capacity"] > 0
    assert len(kinds) > 3
    for row in kinds.values():
        if not row["available"]:
            assert row["reason"], row


def test_info_topology_section_says_when_this_build_has_none():
    report = info.info([])
    try:
        import tiercache.topology  # noqa: F401
    except ImportError:
        assert report["topology"] == {"available": False, "reason": info.NO_TOPOLOGY}
    else:
        assert report["topology"]["available"] is True
        assert report["topology"]["nodes"]


def test_info_examines_each_directory_filesystem_and_hole_punching(shm_dir, tmp_path, capsys):
    assert main(["info", "--json", str(shm_dir), str(tmp_path / "missing")]) == 0
    dirs = json.loads(capsys.readouterr().out)["dirs"]
    assert [d["path"] for d in dirs] == [str(shm_dir), str(tmp_path / "missing")]
    shm, missing = dirs
    assert shm["filesystem"] == "tmpfs"
    assert shm["hole_punching"] is True, shm
    assert shm["dax"] == "no"
    assert missing == {"path": str(tmp_path / "missing"), "exists": False,
                       "reason": "does not exist"}  # fmt: skip


def test_info_hole_punch_probe_leaves_no_file_behind(shm_dir):
    works, detail = info.punch_hole(str(shm_dir))
    assert works, detail
    assert list(shm_dir.iterdir()) == []


def test_info_dax_reads_the_mount_options():
    assert info._dax("rw,relatime,dax=always") == "yes"
    assert info._dax("rw,dax") == "yes"
    assert info._dax("rw,dax=inode") == "per-file"
    assert info._dax("rw,relatime") == "no"


def test_info_file_kind_in_an_unusable_directory_is_unavailable_with_the_error(tmp_path, capsys):
    assert main(["info", "--json", str(tmp_path / "missing")]) == 0
    file_row = next(r for r in json.loads(capsys.readouterr().out)["kinds"] if r["name"] == "file")
    assert file_row["available"] is False
    assert "does not exist" in file_row["error"] or "missing" in file_row["error"]


def test_info_text_names_the_version_kinds_and_directories(shm_dir, capsys):
    assert main(["info", str(shm_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"tiercache {tiercache.__version__}")
    assert "\ndram " in out
    assert f"{shm_dir}: tmpfs" in out


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "tiercache"
    if not script.exists():
        pytest.skip("not installed as a console script in this environment")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert out.stdout.strip() == f"tiercache {tiercache.__version__}"


def test_info_shows_the_topology_module_nodes_and_kinds_when_the_build_has_one(monkeypatch, capsys):
    """The contract of tiercache.topology (read() -> Topology(nodes), kinds()), faked."""
    node = SimpleNamespace(
        id=1, cpus=(), capacity_bytes=64 << 30, distances=(20, 10), read_bandwidth_mbps=30000,
        read_latency_ns=250, is_hbw=False, is_dax_kmem=True, hugepages_2m=0,
    )  # fmt: skip
    cpu_node = SimpleNamespace(
        id=0, cpus=(0, 1, 2, 5), capacity_bytes=16 << 30, distances=(10, 20),
        read_bandwidth_mbps=None, read_latency_ns=None, is_hbw=False, is_dax_kmem=False,
        hugepages_2m=8,
    )  # fmt: skip
    fake = ModuleType("tiercache.topology")
    fake.read = lambda: SimpleNamespace(nodes=(cpu_node, node))
    fake.kinds = lambda: [("dram", True, ""), ("dax_kmem", True, ""),
                          ("hbw", False, "no high-bandwidth node")]  # fmt: skip
    monkeypatch.setitem(sys.modules, "tiercache.topology", fake)
    monkeypatch.setattr(tiercache, "topology", fake, raising=False)
    report = info.info([])
    assert report["topology"]["available"] is True
    assert [n["id"] for n in report["topology"]["nodes"]] == [0, 1]
    assert report["topology"]["nodes"][1]["is_dax_kmem"] is True
    kinds = {k["name"]: k for k in report["kinds"]}
    assert kinds["dax_kmem"]["available"] is True
    assert kinds["hbw"] == {
        "name": "hbw",
        "available": False,
        "capacity": None,
        "detail": "NUMA-topology kind",
        "reason": "no high-bandwidth node",
    }
    assert kinds["dram"]["detail"] == "default DRAM kind"  # probed, not overridden
    info.print_info(report)
    out = capsys.readouterr().out
    assert "0     0-2,5" in out and "DAX-KMEM" in out
    assert "hbw" in out and "no high-bandwidth node" in out


def test_info_hole_punching_is_the_library_answer(shm_dir):
    """The probe is the library's own: a hole punch failing inside it (a fault injected at
    the OS seam, which a probe of its own would not see) makes `tiercache info` report the
    directory unusable."""
    import errno

    from tiercache import _bindings as _b

    _b.fault_arm("file_punch", 1, 1, errno.EOPNOTSUPP)
    try:
        works, detail = info.punch_hole(str(shm_dir))
    finally:
        _b.fault_disarm()
    assert not works
    assert "tmpfs" in detail, detail
    assert info.punch_hole(str(shm_dir))[0]
