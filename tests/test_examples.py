"""Every program in examples/ builds, runs and prints what it promises, so none goes stale.

The C and C++ examples are built as their header comments say: against a private
`make -C native install` with pkg-config's tiercache-memkind. The examples run once, in the
plain pytest run (the sanitizer runs preload their runtime into every child, compilers
included).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, run_python

import tiercache.topology

EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TIERCACHE_SANITIZER")),
    reason="examples run in the plain pytest run, not under a preloaded sanitizer runtime",
)


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, f"{args} exited with {out.returncode}:\n{out.stdout}{out.stderr}"
    return out.stdout


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    out = run_python(str(EXAMPLES / name), *args, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library installed as `make -C native install` installs it, in a scratch prefix."""
    for tool in ("make", "cc", "c++", "pkg-config"):
        assert shutil.which(tool), f"{tool} is missing (make deps installs it)"
    where = tmp_path_factory.mktemp("prefix")
    run(["make", "-s", "-C", str(ROOT / "native"), "install", f"PREFIX={where}"])
    return where


def pkg_config(prefix: Path) -> list[str]:
    env = {"PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    return run(["pkg-config", "--cflags", "--libs", "tiercache-memkind"], env=env).split()


def test_web_handler_serves_pages_from_cache_then_rerenders_from_memoized_users():
    lines = run_example("web_handler.py").splitlines()
    assert lines[:4] == [
        "GET /user/1 -> 200 <h1>user-1</h1> (rendered)",
        "GET /user/1 -> 200 <h1>user-1</h1> (page cache)",
        "GET /user/2 -> 200 <h1>user-2</h1> (rendered)",
        "GET /user/1 -> 200 <h1>user-1</h1> (page cache)",
    ]
    assert re.fullmatch(r"ttl left on /user/1's page: (0\.\d|1\.0) s", lines[4])
    assert lines[5:] == [
        "after 1 s: GET /user/1 -> 200 <h1>user-1</h1> (rendered)",
        "database queries: 2; memoize hits 1, misses 2",
    ]


def tier_items(line: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r"(\w+) (\d+) items", line)}


def test_tiers_demotes_to_the_file_tier_and_falls_back_without_a_dax_kmem_node(tmp_path):
    lines = run_example("tiers.py", str(tmp_path)).splitlines()
    assert lines[0].startswith(f"DRAM + file tier in {tmp_path}: ")
    assert lines[0].endswith("every value intact: True")
    items = tier_items(lines[0])
    assert items["dram"] > 0
    assert items["file"] > 0  # DRAM's 4 MiB could not hold 8 MB: entries were demoted
    assert sum(items.values()) == 8001
    dax_kmem = {k: ok for k, ok, _ in tiercache.topology.kinds()}["MEMKIND_DAX_KMEM"]
    if dax_kmem:
        assert lines[1].startswith("DRAM + DAX-KMEM node: ")
    else:
        assert lines[1].startswith("no DAX-KMEM/CXL node on this machine (")
        assert "no DAX-KMEM node" in lines[1]
        assert lines[2] == f"falling back to DRAM + a file tier in {tmp_path}"
        assert lines[3].startswith("fallback: dram ")
    assert lines[-1].endswith("every value intact: True")


def test_tiers_uses_the_dax_kmem_layout_when_a_node_stands_in(tmp_path):
    lines = run_example("tiers.py", str(tmp_path), env={"MEMKIND_DAX_KMEM_NODES": "0"})
    last = lines.splitlines()[1]
    assert last.startswith("DRAM + DAX-KMEM node: "), lines
    assert last.endswith("every value intact: True")
    assert tier_items(last)["dax_kmem"] > 0


def test_zero_copy_numpy_arrays_share_the_cached_bytes(tmp_path):
    assert run_example("zero_copy_numpy.py", str(tmp_path)).splitlines() == [
        "shape (1024, 2048) float32, equal to the original: True",
        "two reads share memory (no copy): True",
        "read-only: True",
        "on the file tier: 1 items",
        "old view after overwrite still reads the old values: True",
    ]


def test_memkind_c_program_builds_with_pkg_config_and_runs_on_tiercache(prefix, tmp_path):
    exe = tmp_path / "memkind_pmem"
    run(
        [
            "cc",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            str(EXAMPLES / "memkind_pmem.c"),
            *pkg_config(prefix),
            "-o",
            str(exe),
        ]
    )
    assert str(prefix / "lib" / "libtiercache.so") in run(["ldd", str(exe)])
    lines = run([str(exe), str(tmp_path)]).splitlines()
    assert lines[:3] == [
        f"PMEM kind in {tmp_path} (DAX: no)",
        "'an archived record' is on the PMEM kind",
        "'a hot record' is on the DEFAULT kind",
    ]
    held = int(
        re.fullmatch(
            r"a 32 MiB PMEM kind held (\d+) blocks of 1 MiB before it was full", lines[3]
        ).group(1)
    )
    assert 16 <= held < 32
    assert lines[4:] == ["done"]


@pytest.mark.parametrize("std", ["c++11", "c++17"])
def test_cpp_pmem_allocator_puts_stl_containers_on_the_file_kind(prefix, tmp_path, std):
    exe = tmp_path / "pmem_vector"
    run(
        [
            "c++",
            f"-std={std}",
            "-Wall",
            "-Wextra",
            "-Werror",
            str(EXAMPLES / "pmem_vector.cpp"),
            *pkg_config(prefix),
            "-o",
            str(exe),
        ]
    )
    assert run([str(exe), str(tmp_path)]).splitlines() == [
        "vector of 1000000 ints on PMEM, sum 499999500000, data on the PMEM kind: yes",
        "map of 3 strings, first: a name long enough to need a block of its own #0",
        "100 MiB in a 64 MiB kind: std::bad_alloc",
    ]


def test_memtier_preload_tiers_unmodified_programs(prefix, tmp_path):
    lib = prefix / "lib" / "libtiercache_memtier.so"
    out = run(
        ["sh", str(EXAMPLES / "memtier_preload.sh"), str(lib), str(tmp_path)],
        env={"PYTHON": sys.executable},
    )
    lines = out.splitlines()
    assert lines[0] == "sort, tiered: 300000 lines, same output as untiered: yes"
    mib = [
        int(m)
        for m in re.findall(r"python, tiered: tier \d \((?:dram|file)\) holds (\d+) MiB", out)
    ]
    assert len(mib) == 2, out
    dram, pmem = mib
    assert pmem >= 2 * dram > 0, out  # 1:4 asked; 80 MB of bytearrays mostly on the file tier
    assert "expr 6 \\* 7 with a wrong MEMKIND_MEM_TIERS: 42" in lines
    assert any(
        "unknown KIND 'HBM'" in line and "running on the C library's malloc" in line
        for line in lines
    )
