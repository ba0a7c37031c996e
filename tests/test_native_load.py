"""The compiled extension loads into an ordinary Python process, keeps its jemalloc private
and leaves the process's malloc alone."""

from __future__ import annotations

import ctypes
import importlib.metadata
import shutil
import subprocess

import pytest
from helpers import MiB, header_version, run_python

import tiercache
from tiercache import _bindings
from tiercache._native import ffi, lib

EXTENSION = tiercache._native.__file__


def _dynamic_symbols(path: str) -> set[str]:
    if shutil.which("nm") is None:
        pytest.skip("nm (binutils) is not installed")
    out = subprocess.run(
        ["nm", "-D", "--defined-only", path], check=True, capture_output=True, text=True
    ).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_versions_agree_header_extension_and_metadata():
    """The package version is the header's TC_VERSION_*, as compiled and as installed."""
    assert tiercache.__version__ == header_version()
    assert importlib.metadata.version("tiercache") == tiercache.__version__


def test_extension_exports_only_its_module_init():
    """No tc_, jemalloc or malloc symbol leaks out of the extension (they are all local)."""
    exported = _dynamic_symbols(EXTENSION) - {"_init", "_fini", "__bss_start", "_edata", "_end"}
    assert exported == {"PyInit__native"}


def test_extension_needs_no_static_tls():
    """No initial-exec TLS (DF_STATIC_TLS), which would break dlopen in a busy process."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is not installed")
    dyn = subprocess.run(
        ["readelf", "-d", "-W", EXTENSION], check=True, capture_output=True, text=True
    ).stdout
    assert "STATIC_TLS" not in dyn


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def test_process_malloc_is_still_glibc():
    """After loading tiercache, the process-wide malloc (as any C library would call it)
    is glibc's: a 64 MiB malloc shows up in glibc's own mallinfo2 counters."""
    libc = ctypes.CDLL("libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc older than 2.33 has no mallinfo2")
    libc.mallinfo2.restype = _Mallinfo2
    everywhere = ctypes.CDLL(None)
    everywhere.malloc.restype, everywhere.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    everywhere.free.argtypes = [ctypes.c_void_p]
    before = libc.mallinfo2().hblkhd
    ptr = everywhere.malloc(64 * MiB)
    try:
        assert ptr
        assert libc.mallinfo2().hblkhd - before >= 64 * MiB
    finally:
        everywhere.free(ptr)


def test_python_heap_does_not_go_through_tiercache():
    """A 64 MiB Python object does not show up in tiercache's statistics, but a 64 MiB
    tc_malloc does: the library does not replace the process's allocator."""

    def allocated() -> int:
        _bindings.stats_refresh()
        return _bindings.kind_stats(None)["allocated"]

    before = allocated()
    blob = bytearray(64 * MiB)
    assert allocated() - before < 4 * MiB
    del blob
    ptr = _bindings.malloc(_bindings.kind_dram(), 64 * MiB)
    try:
        assert allocated() - before >= 63 * MiB  # other threads' small frees may interleave
    finally:
        _bindings.free(None, ptr)


def test_tc_malloc_pointer_is_detected_as_dram():
    """tc_detect_kind finds the DRAM kind from a tc_malloc pointer, and NULL from NULL."""
    ptr = lib.tc_malloc(lib.tc_kind_dram(), 100)
    assert ptr != ffi.NULL
    try:
        assert lib.tc_detect_kind(ptr) == lib.tc_kind_dram()
        assert ffi.string(lib.tc_kind_name(lib.tc_detect_kind(ptr))) == b"dram"
    finally:
        lib.tc_free(ffi.NULL, ptr)
    assert lib.tc_detect_kind(ffi.NULL) == ffi.NULL


def test_loads_in_a_fresh_interpreter_after_other_extensions():
    """Importing tiercache after ssl, sqlite3 and ctypes, with a thread running, works."""
    code = (
        "import ssl, sqlite3, ctypes, threading, time\n"
        "t = threading.Thread(target=time.sleep, args=(0.2,)); t.start()\n"
        "import tiercache\n"
        "a = tiercache.Kind.dram().allocate(1 << 20)\n"
        "a.write(b'ok'); assert a.read(2) == b'ok'\n"
        "a.free(); t.join(); print('loaded', tiercache.__version__)\n"
    )
    out = run_python("-c", code, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"loaded {tiercache.__version__}"
