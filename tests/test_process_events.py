"""Process events: fork follows the cache's documented policy (native/include/tiercache/cache.h:
a cache with a file-backed tier is off limits in the child, a DRAM-only cache is a private
copy; the parent is never affected), kill -9 during heavy writes leaves nothing in the
capacity directory, and backing files are never readable by other users."""

from __future__ import annotations

import gc
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import run_in_child

from tiercache import TierCache
from tiercache.errors import ForkedProcessError

LARGE = 200_000


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free this test's caches now, not during a later test's measurements."""
    yield
    gc.collect()


def _fill(cache: TierCache, n: int = 30) -> dict[int, bytes]:
    values = {i: bytes([i]) * (LARGE if i % 2 else 300) for i in range(n)}
    for key, value in values.items():
        cache[key] = value
    return values


def test_child_of_a_file_tier_cache_gets_forked_errors_and_parent_is_untouched(shm_dir):
    cache = TierCache(1, shm_dir, 16)
    values = _fill(cache)
    view = cache.get(1, copy=False)  # a pinned file-tier value held across the fork

    def child() -> int:
        calls = {
            "get": lambda: cache.get(0),
            "get_large": lambda: cache.get(1),
            "set": lambda: cache.set("new", b"x" * LARGE),
            "delete": lambda: cache.delete(0),
            "contains": lambda: 0 in cache,
            "len": lambda: len(cache),
            "check": cache.check,
            "compact": cache.compact,
            "clear": cache.clear,
        }
        for name, call in calls.items():
            try:
                call()
            except ForkedProcessError:
                continue
            os.write(2, f"{name} did not raise ForkedProcessError\n".encode())
            return 1
        cache.close()  # closing in the child is allowed and harmless
        return 0

    assert run_in_child(child) == 0
    for key, value in values.items():
        assert cache[key] == value
    assert bytes(view) == values[1]
    cache["after"] = b"y" * LARGE
    assert cache["after"] == b"y" * LARGE
    cache.check()
    cache.close()


def test_dram_only_cache_is_a_private_copy_in_the_child():
    cache = TierCache(4)
    for i in range(100):
        cache[i] = bytes([i]) * 500

    def child() -> int:
        ok = all(cache[i] == bytes([i]) * 500 for i in range(100))
        for i in range(100):  # the child changes its copy
            cache[i] = b"child"
        del cache[0]
        cache.check()
        return 0 if ok and cache[5] == b"child" else 1

    assert run_in_child(child) == 0
    assert all(cache[i] == bytes([i]) * 500 for i in range(100))
    cache.check()


def test_parent_writes_during_a_child_lifetime_never_reach_the_child(shm_dir):
    """The child sees the DRAM cache as it was at fork while the parent overwrites it."""
    cache = TierCache(4)
    cache["k"] = b"before"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # wait until the parent has overwritten
        os._exit(0 if cache["k"] == b"before" else 1)
    os.close(r)
    cache["k"] = b"after"
    os.write(w, b"x")
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache["k"] == b"after"


WRITER = textwrap.dedent(
    """
    import os, sys, tiercache
    cache = tiercache.TierCache(1, sys.argv[1], 64)
    print("ready", flush=True)
    i = 0
    while True:
        cache[i % 500] = bytes([i % 256]) * (1000 + (i * 7919) % 300_000)
        i += 1
    """
)


def test_kill_9_during_heavy_writes_leaves_nothing_in_the_capacity_directory(shm_dir):
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(shm_dir)], stdout=subprocess.PIPE, cwd="/"
    ) as proc:
        _kill_mid_write(proc, shm_dir)
    assert proc.returncode == -signal.SIGKILL
    assert list(shm_dir.iterdir()) == []


def _kill_mid_write(proc: subprocess.Popen, shm_dir) -> None:
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.5)  # mid-write
        assert list(shm_dir.iterdir()) == []  # unlinked from the start
        backing = _backing_fds(proc.pid, shm_dir)
        assert backing, "the writer has an open backing file"
        for path in backing:
            st = os.stat(path)
            assert stat.S_ISREG(st.st_mode)
            assert stat.S_IMODE(st.st_mode) == 0o600
            assert st.st_nlink == 0  # no name anywhere: nobody can open it by path
            assert st.st_uid == os.geteuid()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _backing_fds(pid: int, directory) -> list[str]:
    """/proc paths of pid's descriptors open on files in directory."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        path = f"/proc/{pid}/fd/{fd}"
        try:
            target = os.readlink(path)
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(path)
    return found


def test_backing_file_is_private_even_with_a_permissive_umask(shm_dir):
    """mode 0600 whatever the umask, and another user cannot open it through /proc."""
    os.chmod(shm_dir, 0o777)
    old = os.umask(0)
    try:
        cache = TierCache(1, shm_dir, 16)
    finally:
        os.umask(old)
    cache["v"] = b"secret" * 10_000
    paths = _backing_fds(os.getpid(), shm_dir)
    assert paths
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    if os.geteuid() != 0:
        cache.close()
        pytest.skip("opening as another user needs root to switch users")

    def other_user() -> int:
        for path in paths:
            try:
                with open(path, "rb") as f:
                    f.read(1)
            except PermissionError:
                continue
            return 1
        return 0

    assert run_in_child(other_user, user=65534) == 0
    cache.close()
