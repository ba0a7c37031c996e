"""Fixed kinds: allocations come from the caller's own buffer."""

from __future__ import annotations

import ctypes
import mmap

import pytest
from helpers import MiB

from tiercache import InvalidArgumentError, Kind, OutOfMemoryError


def _base(area: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(area))


def test_allocations_live_inside_the_callers_buffer():
    """Bytes written through an allocation appear in the caller's mmap at the same offset."""
    area = mmap.mmap(-1, 8 * MiB)
    base = _base(area)  # ctypes keeps an export: the area is never closed in this test
    with Kind.fixed(area) as kind:
        assert kind.name == "fixed" and kind.available
        alloc = kind.allocate(1000)
        assert base <= alloc.address < base + len(area) - 1000
        alloc.write(b"inside the area")
        offset = alloc.address - base
        assert area[offset : offset + 15] == b"inside the area"
        assert alloc.owner_name == "fixed"


def test_capacity_is_at_most_the_area():
    area = bytearray(8 * MiB)
    with Kind.fixed(area) as kind:
        assert 0 < kind.capacity <= len(area)


def test_area_exhaustion_raises_out_of_memory_and_recovers():
    area = bytearray(8 * MiB)
    with Kind.fixed(area) as kind:
        with pytest.raises(OutOfMemoryError):
            kind.allocate(16 * MiB)
        with kind.allocate(64 * 1024) as alloc:
            alloc.write(b"still works")
            assert alloc.read(11) == b"still works"


def test_read_only_buffer_is_rejected():
    with pytest.raises(InvalidArgumentError, match="writable"):
        Kind.fixed(bytes(8 * MiB))


def test_too_small_area_is_rejected():
    with pytest.raises(InvalidArgumentError):
        Kind.fixed(bytearray(100))


def test_close_unpins_the_buffer():
    """While the kind is open the mmap cannot be closed; after close() it can."""
    area = mmap.mmap(-1, 4 * MiB)
    kind = Kind.fixed(area)
    with pytest.raises(BufferError):
        area.close()
    kind.close()
    area.close()
