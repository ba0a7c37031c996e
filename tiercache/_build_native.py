"""cffi build script for the ``tiercache._native`` extension (API out-of-line mode).

setup.py hands ``ffibuilder`` to cffi (``cffi_modules``) after running ``make -C native``;
the extension links native/build/lib/libtiercache.a statically, so the wheel holds one
self-contained module. Declarations come from ``_cdef.h`` only.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from cffi import FFI

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
NATIVE = ROOT / "native"
CDEF = PACKAGE_DIR / "_cdef.h"
HEADERS = [
    NATIVE / "include" / "tiercache" / name for name in ("tiercache.h", "cache.h", "testing.h")
]
STATIC_LIB = NATIVE / "build" / "lib" / "libtiercache.a"
# Used only when native/Makefile cannot be asked (kept equal to its LDLIBS).
FALLBACK_LDLIBS = "-lpthread -ldl -lm"


def native_ldlibs() -> list[str]:
    """The link flags libtiercache.a needs, read from native/Makefile's LDLIBS variable."""
    cmd = [
        os.environ.get("MAKE", "make"),
        "-s",
        "--no-print-directory",
        "-C",
        str(NATIVE),
        "--eval",
        "tc-print-ldlibs: ; @echo $(LDLIBS)",
        "tc-print-ldlibs",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    except (OSError, subprocess.CalledProcessError):
        out = FALLBACK_LDLIBS
    return shlex.split(out.strip() or FALLBACK_LDLIBS)


def make_ffibuilder() -> FFI:
    flags = native_ldlibs()
    builder = FFI()
    builder.cdef(CDEF.read_text())
    builder.set_source(
        "tiercache._native",
        '#include "tiercache/tiercache.h"\n#include "tiercache/cache.h"\n'
        '#include "tiercache/testing.h"\n',
        include_dirs=[str(NATIVE / "include")],
        extra_objects=[str(STATIC_LIB)],
        libraries=[f[2:] for f in flags if f.startswith("-l")],
        # --exclude-libs: the archive's tc_ symbols stay private to this module, so another
        # copy of libtiercache loaded in the process can neither see nor interpose them.
        extra_link_args=[f for f in flags if not f.startswith("-l")] + ["-Wl,--exclude-libs,ALL"],
        depends=[str(STATIC_LIB), str(CDEF), *map(str, HEADERS)],
    )
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":  # pragma: no cover - manual use: python tiercache/_build_native.py
    ffibuilder.compile(tmpdir=str(ROOT / "build" / "cffi"), verbose=True)
