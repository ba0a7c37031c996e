"""Build hooks only (metadata lives in pyproject.toml).

``build_ext`` first runs ``make -C native`` (jemalloc + libtiercache.a, and the server binary
tiercache-server when libevent is there, copied into the package as tiercache/bin/), then cffi
compiles ``tiercache._native`` from tiercache/_build_native.py and links the static library into it.
The package version is the C header's TC_VERSION_*: one version for both halves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
HEADER = ROOT / "native" / "include" / "tiercache" / "tiercache.h"
# The C files of tiercache._fastpath (scripts/build_sanitized_python.py takes the same glob).
FASTPATH_SOURCES = sorted(p.name for p in (ROOT / "tiercache").glob("_fastpath*.c"))


def header_version() -> str:
    text = HEADER.read_text()
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        match = re.search(rf"^#define TC_VERSION_{part}\s+(\d+)\s*$", text, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"TC_VERSION_{part} not found in {HEADER}")
        parts.append(match.group(1))
    return ".".join(parts)


class BuildNativeThenExt(build_ext):
    """Run native/Makefile (it is incremental), then build the cffi extension."""

    def run(self) -> None:
        jobs = os.environ.get("TIERCACHE_MAKE_JOBS") or str(os.cpu_count() or 1)
        # A parent make's jobserver does not survive pip's subprocesses: start afresh.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        cmd = [os.environ.get("MAKE", "make"), "-C", str(ROOT / "native"), f"-j{jobs}"]
        print("tiercache: building the native library:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env)
        self._copy_server()
        super().run()

    def _copy_server(self) -> None:
        """Install the server binary as package data (tiercache/bin/tiercache-server) when
        native/ built it (it needs libevent)."""
        binary = ROOT / "native" / "build" / "bin" / "tiercache-server"
        if not binary.is_file():
            print("tiercache: tiercache-server was not built (libevent missing)", flush=True)
            return
        base = ROOT if self.inplace else Path(self.build_lib)
        dest = base / "tiercache" / "bin"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, dest / binary.name)


setup(
    version=header_version(),
    # The hot path: plain CPython functions that call the cffi module's tc_cache_* through
    # addresses handed over at import (no second copy of the library; see _fastpath.c).
    ext_modules=[
        Extension(
            "tiercache._fastpath",
            [f"tiercache/{name}" for name in FASTPATH_SOURCES],
            include_dirs=[str(ROOT / "native" / "include")],
            depends=[
                str(ROOT / "native" / "include" / "tiercache" / "cache.h"),
                "tiercache/_fastpath_key.h",
            ],
        )
    ],
    cffi_modules=["tiercache/_build_native.py:ffibuilder"],
    cmdclass={"build_ext": BuildNativeThenExt},
)
