"""fork() with the cache busy: a child never finds a lock held by a thread it does not have
(the cache's, the kinds', the registry's, the thread caches'), and a zero-copy view taken
before fork() reads the same bytes in the child, even of a value on a file tier the child
does not inherit. Each child runs under a deadline: a hang fails the test instead of
blocking the suite."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time

import pytest

from tiercache import Kind, TierCache

DEADLINE = 30.0


@pytest.fixture(autouse=True)
def _collect_garbage():
    yield
    gc.collect()


def _run_child(fn) -> int:
    """fn() in a forked child; its exit code, or a negative signal number. A child still
    running after DEADLINE seconds is killed and reported as 'hung'."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = int(fn())
        except BaseException as exc:
            os.write(2, f"child failed: {exc!r}\n".encode())
        finally:
            os._exit(code)
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


def _forks_while(cache: TierCache, work, forks: int, child) -> None:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            work()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        time.sleep(0.05)
        for _ in range(forks):
            assert _run_child(child) == 0
            time.sleep(0.002)
    finally:
        stop.set()
        thread.join()


def test_child_of_a_dram_cache_busy_in_another_thread_never_hangs():
    """Issue 13 item 1: a thread inside set/get of 4 MiB values (without the GIL) at fork."""
    cache = TierCache(32)
    value = os.urandom(4 << 20)

    def work() -> None:
        cache["a"] = value
        cache.get("a")

    def child() -> int:
        got = cache.get("a")
        cache["b"] = b"child"
        cache.check()
        return 0 if got in (None, value) and cache["b"] == b"child" else 1

    _forks_while(cache, work, 10, child)
    cache.close()


def test_child_of_a_cache_compacting_in_the_background_never_hangs():
    """Issue 13 item 1, the library's own thread: compaction every millisecond."""
    cache = TierCache(64, compact_interval=0.001)
    for i in range(2000):
        cache[i] = bytes([i % 256]) * 700

    def child() -> int:
        cache["x"] = b"y"
        cache.check()
        return 0 if cache["x"] == b"y" and cache[5] == bytes([5]) * 700 else 1

    for _ in range(30):
        assert _run_child(child) == 0
    cache.close()


def test_child_of_a_process_allocating_from_file_kinds_in_another_thread_never_hangs(shm_dir):
    """Kind and registry locks: another thread creates, fills and destroys file kinds."""
    cache = TierCache(8)

    def work() -> None:
        with Kind.file(shm_dir) as kind:
            allocs = [kind.allocate(n) for n in (64, 5000, 300_000)]
            for a in allocs:
                a.free()

    def child() -> int:
        cache["k"] = b"v" * 1000
        with Kind.file(shm_dir) as kind:  # the child can make and use kinds of its own
            a = kind.allocate(100)
            a.write(b"hello")
            ok = a.read(5) == b"hello"
        return 0 if ok and cache["k"] == b"v" * 1000 else 1

    _forks_while(cache, work, 20, child)
    cache.close()


def test_zero_copy_view_of_a_file_tier_value_reads_the_same_bytes_in_the_child(shm_dir):
    """Issue 13 item 2: the child reads a view of a value its cache's file tier holds."""
    cache = TierCache(4, shm_dir, 32)
    value = bytes(range(256)) * 4096  # 1 MiB: on the file tier
    cache["b"] = value
    view = cache.get("b", copy=False)

    def child() -> int:
        ok = bytes(view[:2]) == value[:2] and bytes(view) == value
        return 0 if ok else 1

    assert _run_child(child) == 0
    cache["b"] = b"parent"  # the parent's cache and its view are untouched
    assert bytes(view) == value and cache["b"] == b"parent"
    view.release()
    cache.check()
    cache.close()


def test_sub_view_of_an_allocation_outlives_its_kind_close(shm_dir):
    """Issue 13 item 3: close() with a sub-view alive keeps the memory until it is released."""

    def child() -> int:
        kind = Kind.file(shm_dir)
        a = kind.allocate(4096)
        a.write(b"hello")
        mv = a.view
        sub = mv[0:5]
        kind.close()
        ok = bytes(sub) == b"hello" and kind.closed
        del sub, mv
        return 0 if ok else 1

    assert _run_child(child) == 0
