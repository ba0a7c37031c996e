"""The built-in DRAM kind through the Kind/Allocation API."""

from __future__ import annotations

import gc
import os

import pytest
from helpers import MiB

from tiercache import InvalidArgumentError, Kind, _bindings


def test_dram_is_a_builtin_singleton_that_never_closes():
    dram = Kind.dram()
    assert dram is Kind.dram()
    assert dram.builtin and dram.name == "dram"
    with dram:
        pass
    dram.close()
    assert not dram.closed and dram.available


def test_dram_capacity_is_physical_memory():
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < Kind.dram().capacity <= physical


def test_write_then_read_back():
    with Kind.dram().allocate(1000) as alloc:
        alloc.write(b"tiercache", offset=10)
        assert alloc.read(9, offset=10) == b"tiercache"
        assert alloc.view[10:19].tobytes() == b"tiercache"
        assert alloc.usable_size >= 1000
        assert alloc.owner_name == "dram"


def test_zeroed_allocation_is_zero():
    with Kind.dram().allocate(3 * MiB, zero=True) as alloc:
        assert alloc.read() == bytes(3 * MiB)


@pytest.mark.parametrize("alignment", [64, 4096, 2 * MiB])
def test_aligned_allocation_is_aligned(alignment):
    with Kind.dram().allocate(100, alignment=alignment) as alloc:
        assert alloc.address % alignment == 0


def test_alignment_that_is_not_a_power_of_two_is_rejected():
    with pytest.raises(InvalidArgumentError):
        Kind.dram().allocate(100, alignment=24)


def test_free_is_idempotent_and_a_freed_allocation_refuses_use():
    alloc = Kind.dram().allocate(10)
    view = alloc.view
    alloc.free()
    alloc.free()
    assert alloc.freed
    with pytest.raises(ValueError, match="released"):
        view[0]  # the view was released
    with pytest.raises(InvalidArgumentError):
        alloc.read()


def test_resize_keeps_the_contents():
    alloc = Kind.dram().allocate(100)
    alloc.write(bytes(range(100)))
    alloc.resize(5 * MiB)
    assert alloc.size == 5 * MiB
    assert alloc.read(100) == bytes(range(100))
    alloc.resize(50)
    assert alloc.read() == bytes(range(50))
    alloc.free()


def test_out_of_bounds_read_and_write_are_rejected():
    with Kind.dram().allocate(16) as alloc:
        with pytest.raises(InvalidArgumentError):
            alloc.write(b"x" * 17)
        with pytest.raises(InvalidArgumentError):
            alloc.read(1, offset=16)


def test_allocated_statistic_follows_allocations():
    """(The statistic is process-wide: garbage of earlier tests, such as a cache whose entries
    a collection frees, must not be freed in the middle of the measurement.)"""
    dram = Kind.dram()
    gc.collect()
    gc.disable()
    slack = 256 * 1024  # other threads' allocations may still come and go, by kilobytes
    try:
        before = dram.stats().allocated
        alloc = dram.allocate(16 * MiB)
        held = dram.stats().allocated
        assert held - before >= 16 * MiB - slack
        alloc.free()
        assert held - dram.stats().allocated >= 16 * MiB - slack
    finally:
        gc.enable()


def test_stats_report_is_jemalloc_text():
    report = _bindings.stats_report()
    assert "jemalloc" in report.lower()


@pytest.mark.parametrize("size", ["10", 1.5, True, None])
def test_allocate_refuses_a_size_that_is_not_an_int(size):
    dram = Kind.dram()
    with pytest.raises(TypeError, match=r"size must be an int"):
        dram.allocate(size)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"alignment must be an int"):
        dram.allocate(64, alignment="64")  # type: ignore[arg-type]


def test_allocate_takes_integer_like_sizes_as_ints():
    np = pytest.importorskip("numpy")
    with Kind.dram().allocate(np.int64(10)) as alloc:
        assert type(alloc.size) is int and len(alloc) == 10
        alloc.write(b"0123456789")
        with pytest.raises(TypeError, match="size must be an int"):
            alloc.resize(2.0)  # type: ignore[arg-type]
        assert alloc.read() == b"0123456789"
