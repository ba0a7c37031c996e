"""Zero-copy reads (get(copy=False)) never read freed memory: a held view keeps its bytes through
overwrite, delete, eviction, compaction, clear and close. Under `make test-python-asan` freed
blocks of file-backed kinds are poisoned, so a stale read would be an ASan report; the control
test shows such a report does happen for a read after free."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap

import pytest

from tiercache import TierCache

SANITIZER = os.environ.get("TIERCACHE_SANITIZER", "")
LARGE = 200_000  # above large_value_bytes: lives on the file tier


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free this test's caches now, not during a later test's measurements."""
    yield
    gc.collect()


def _value(tag: int, size: int = LARGE) -> bytes:
    return bytes([tag % 251]) * size


def test_view_survives_overwrite_delete_compact_clear_and_close(shm_dir):
    cache = TierCache(1, shm_dir, 64, large_value_bytes=64 * 1024)
    cache["a"] = _value(1)
    cache["b"] = _value(2)
    cache["c"] = _value(3)
    va = cache.get("a", copy=False)
    vb = cache.get("b", copy=False)
    vc = cache.get("c", copy=False)
    assert isinstance(va, memoryview)
    cache["a"] = _value(9)  # overwrite
    del cache["b"]  # delete
    for i in range(50):  # churn: freed blocks get reused by new values
        cache[f"x{i}"] = _value(100 + i)
    cache.compact()
    assert bytes(va) == _value(1)
    assert bytes(vb) == _value(2)
    cache.clear()
    assert bytes(vc) == _value(3)
    cache.close()
    del cache
    gc.collect()
    assert bytes(va) == _value(1) and bytes(vb) == _value(2) and bytes(vc) == _value(3)
    del va, vb, vc
    gc.collect()


def test_view_survives_eviction_from_a_full_capacity_tier(shm_dir):
    cache = TierCache(0.25, shm_dir, 2, large_value_bytes=64 * 1024)
    cache["victim"] = _value(7)
    view = cache.get("victim", copy=False)
    for i in range(40):  # 8 MB through a 2 MiB tier, each read once: the victim is evicted
        cache[i] = _value(i)
        cache.get(i)  # (unread large values would leave through the small FIFO instead)
    assert "victim" not in cache
    assert cache.stats()["evictions"] > 0
    assert bytes(view) == _value(7)
    cache.check()
    cache.close()


@pytest.mark.skipif(SANITIZER != "asan", reason="needs the ASan build (make test-python-asan)")
def test_control_a_read_after_free_is_reported_under_asan(shm_dir):
    """The poisoning works: reading a file-kind block after freeing it is an ASan report."""
    code = textwrap.dedent(
        f"""
        import tiercache
        from tiercache import _bindings as b
        kind = tiercache.Kind.file({str(shm_dir)!r})
        ptr = b.malloc(kind._handle, 4096)  # raw: Allocation itself forbids this misuse
        view = b.view(ptr, 4096)
        view[:] = b"z" * 4096
        b.free(kind._handle, ptr)
        print(bytes(view[:16]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert done.returncode != 0
    assert "use-after-poison" in done.stderr


@pytest.mark.skipif(not SANITIZER, reason="only under make test-python-asan / test-python-tsan")
def test_the_sanitized_extension_is_the_one_loaded():
    import tiercache._fastpath
    import tiercache._native

    for module in (tiercache._native, tiercache._fastpath):
        assert f"sanitized-py/{SANITIZER}/" in module.__file__, module.__file__
