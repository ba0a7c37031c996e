"""File-backed kinds: memory from an unlinked file in a directory, with size limits and
specific errors for directories that cannot hold it."""

from __future__ import annotations

import faulthandler
import os
import signal
import tempfile

import pytest
from helpers import MiB, mapping_of, run_in_child
from hypothesis import given
from hypothesis import strategies as st

from tiercache import (
    FILE_MIN_SIZE,
    DirectoryAccessError,
    DirectoryNotFoundError,
    InvalidArgumentError,
    Kind,
    KindClosedError,
    OutOfMemoryError,
    UnsupportedFilesystemError,
)

NOBODY = 65534


def test_write_and_read_back_through_a_memoryview(file_kind):
    with file_kind.allocate(3 * MiB) as alloc:
        pattern = bytes(range(256)) * (3 * MiB // 256)
        alloc.view[:] = pattern
        assert alloc.view.tobytes() == pattern
        assert alloc.owner_name == "file"
    assert file_kind.name == "file"
    assert file_kind.available


def test_memory_is_mapped_from_an_unlinked_file_in_the_directory(file_kind, shm_dir):
    """/proc/self/maps shows the allocation inside a deleted file of shm_dir, and the
    directory stays empty."""
    with file_kind.allocate(MiB) as alloc:
        alloc.write(b"x")
        where = mapping_of(alloc.address)
        assert where is not None and where.startswith(str(shm_dir)), where
        assert where.endswith("(deleted)")
        assert os.listdir(shm_dir) == []


def test_capacity_is_max_size(shm_dir):
    with Kind.file(shm_dir, max_size=FILE_MIN_SIZE) as kind:
        assert kind.capacity == FILE_MIN_SIZE


def test_unbounded_capacity_is_the_filesystem_size(file_kind):
    st_fs = os.statvfs("/dev/shm")
    assert 0 < file_kind.capacity <= st_fs.f_blocks * st_fs.f_frsize


def test_max_size_is_enforced_without_breaking_later_allocations(shm_dir):
    """Past max_size allocation raises OutOfMemoryError; smaller ones still work, and freed
    space is reused."""
    with Kind.file(shm_dir, max_size=FILE_MIN_SIZE) as kind:
        with pytest.raises(OutOfMemoryError):
            kind.allocate(2 * FILE_MIN_SIZE)
        held = []
        with pytest.raises(OutOfMemoryError):  # noqa: PT012 - fill up to the limit
            for _ in range(4 * FILE_MIN_SIZE // MiB):
                held.append(kind.allocate(MiB))
                held[-1].write(b"y" * MiB)
        assert FILE_MIN_SIZE // MiB // 2 <= len(held) < FILE_MIN_SIZE // MiB
        assert all(a.read() == b"y" * MiB for a in held)
        for alloc in held:
            alloc.free()
        again = [kind.allocate(MiB) for _ in range(len(held))]
        again[0].write(b"z")
        assert again[0].read(1) == b"z"


def test_conservative_policy_allocates(shm_dir):
    with Kind.file(shm_dir, policy="conservative") as kind, kind.allocate(MiB) as alloc:
        alloc.write(b"c" * MiB)
        assert alloc.read(3) == b"ccc"


@pytest.mark.parametrize("max_size", [1, FILE_MIN_SIZE - 1, -1])
def test_max_size_below_the_minimum_is_invalid(shm_dir, max_size):
    with pytest.raises(InvalidArgumentError):
        Kind.file(shm_dir, max_size=max_size)


def test_max_size_below_the_minimum_names_the_minimum(shm_dir):
    with pytest.raises(InvalidArgumentError, match=r"at least 16777216 bytes \(16 MiB"):
        Kind.file(shm_dir, 1000)
    with pytest.raises(TypeError, match="max_size must be an int"):
        Kind.file(shm_dir, "16777216")  # type: ignore[arg-type]


def test_unknown_policy_is_invalid(shm_dir):
    with pytest.raises(InvalidArgumentError, match="policy"):
        Kind.file(shm_dir, policy="fast")  # type: ignore[arg-type]


def test_missing_directory_raises_directory_not_found(shm_dir):
    missing = shm_dir / "nope"
    with pytest.raises(DirectoryNotFoundError) as info:
        Kind.file(missing)
    assert info.value.path == str(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_regular_file_as_directory_raises_directory_not_found(shm_dir):
    path = shm_dir / "plain"
    path.write_bytes(b"")
    with pytest.raises(DirectoryNotFoundError):
        Kind.file(path)


def test_unwritable_directory_raises_access_error(shm_dir):
    """A directory the process may not write to (as root: tested as user nobody)."""
    locked = shm_dir / "locked"
    locked.mkdir(mode=0o755)
    os.chmod(shm_dir, 0o755)
    if os.geteuid() != 0:
        locked.chmod(0o555)
        with pytest.raises(DirectoryAccessError):
            Kind.file(locked)
        return

    def child() -> int:
        try:
            Kind.file(locked)
        except DirectoryAccessError:
            return 0
        except Exception as exc:
            os.write(2, f"wrong exception: {exc!r}\n".encode())
            return 2
        return 1

    assert run_in_child(child, user=NOBODY) == 0


def test_read_only_mount_raises_access_error(mounted, shm_dir):
    target = mounted(["--bind", "-o", "ro", str(shm_dir)])
    with pytest.raises(DirectoryAccessError):
        Kind.file(target)


def test_filesystem_without_hole_punching_raises_unsupported(mounted):
    """ramfs accepts files but not FALLOC_FL_PUNCH_HOLE."""
    target = mounted(["-t", "ramfs", "none"])
    with pytest.raises(UnsupportedFilesystemError):
        Kind.file(target)


def test_close_invalidates_allocations_and_the_kind(shm_dir):
    kind = Kind.file(shm_dir)
    alloc = kind.allocate(4096)
    view = alloc.view
    kind.close()
    kind.close()  # idempotent
    assert kind.closed and not kind.available
    with pytest.raises(ValueError, match="released"):
        view[0]
    with pytest.raises(KindClosedError):
        alloc.read()
    with pytest.raises(KindClosedError):
        kind.allocate(1)
    alloc.free()  # harmless after close


def test_move_between_dram_and_file_keeps_contents(file_kind):
    alloc = Kind.dram().allocate(MiB)
    alloc.write(b"move me")
    alloc.resize(2 * MiB, kind=file_kind)
    assert alloc.owner_name == "file" and alloc.kind is file_kind
    assert alloc.read(7) == b"move me"
    alloc.resize(2 * MiB, kind=Kind.dram())
    assert alloc.owner_name == "dram"
    assert alloc.read(7) == b"move me"
    alloc.free()


def test_child_process_cannot_allocate_from_a_file_kind(file_kind):
    """Fork policy: in a child the kind is detached: allocation fails with ENOMEM and free is
    a no-op; the parent's memory is untouched."""
    alloc = file_kind.allocate(MiB)
    alloc.write(b"parent")

    def child() -> int:
        with pytest.raises(OutOfMemoryError):
            file_kind.allocate(100)
        alloc.free()  # a no-op in the child
        return 0

    assert run_in_child(child) == 0
    assert alloc.read(6) == b"parent"
    alloc.free()


def test_child_process_never_sees_the_parents_file_memory(file_kind):
    """Fork policy: the file kind's memory is not inherited. In the child, reading an old
    address faults (SIGSEGV, as tiercache.h says) instead of showing the parent's bytes."""
    alloc = file_kind.allocate(MiB)
    alloc.write(b"parent" * 100)

    def child() -> int:
        faulthandler.disable()  # the fault is expected: no "Fatal Python error" report
        return 2 if alloc.read(6) == b"parent" else 3

    status = run_in_child(child)
    assert status == -signal.SIGSEGV, status
    assert alloc.read(6) == b"parent"
    alloc.free()


@given(
    st.lists(
        st.tuples(st.sampled_from(["alloc", "free", "resize"]), st.integers(0, 3 * MiB)),
        max_size=40,
    )
)
def test_random_allocations_keep_their_contents(ops):
    """Any sequence of allocate/free/resize leaves every live allocation's bytes intact."""
    directory = tempfile.mkdtemp(dir="/dev/shm")
    live: list[tuple[object, bytes]] = []
    try:
        with Kind.file(directory) as kind:
            for i, (op, size) in enumerate(ops):
                if op == "alloc" or not live:
                    alloc = kind.allocate(size)
                    stamp = bytes([i % 251]) * min(size, 4096)
                    alloc.write(stamp)
                    live.append((alloc, stamp))
                elif op == "free":
                    alloc, _ = live.pop(size % len(live))
                    alloc.free()
                else:
                    alloc, stamp = live[size % len(live)]
                    alloc.resize(max(size, 1))
                    stamp = stamp[: max(size, 1)]
                    live[size % len(live)] = (alloc, stamp)
                for alloc, stamp in live:
                    assert alloc.read(len(stamp)) == stamp
    finally:
        os.rmdir(directory)
