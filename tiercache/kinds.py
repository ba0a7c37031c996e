"""Kinds of memory and raw allocations from them.

A :class:`Kind` says where memory comes from: DRAM (the built-in default), a file on a
hole-punching filesystem such as a PMEM/fsdax mount or /dev/shm, or a caller's buffer.
:class:`Allocation` is a small helper holding bytes of one kind with a writable memoryview.

Lifetime: closing a kind invalidates its allocations; the DRAM kind is built in and never
closes. A view (or a slice of one) still held keeps its memory: the kind's memory is returned
when the last such view is released, and an allocation freed while viewed likewise.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Any, ClassVar, Literal, NamedTuple

from tiercache import _bindings as _b
from tiercache._fastpath import Region
from tiercache.errors import InvalidArgumentError, KindClosedError

__all__ = ["FILE_MIN_SIZE", "Allocation", "Kind", "KindStats"]

FilePolicy = Literal["performance", "conservative"]

#: Smallest non-zero ``max_size`` of a file-backed kind (TC_FILE_MIN_SIZE).
FILE_MIN_SIZE: int = _b.FILE_MIN_SIZE


class KindStats(NamedTuple):
    """Bytes held by a kind: physical (metadata included), in live pages, in live allocations."""

    resident: int
    active: int
    allocated: int


class Kind:
    """A source of memory. Create one with :meth:`dram`, :meth:`file`, :meth:`fixed` or
    :meth:`numa`."""

    _dram: ClassVar[Kind | None] = None

    name: str  #: the C library's short name ("dram", "file", "fixed")
    _handle: Any
    _builtin: bool
    _detail: str
    _keepalive: Any
    _closed: bool
    _lock: threading.RLock
    _live: weakref.WeakSet[Allocation]
    _held: int  # regions still viewed after free() or close(): the memory waits for them
    _destroyed: bool

    def __init__(self) -> None:
        raise TypeError("use Kind.dram(), Kind.file(...), Kind.fixed(...) or Kind.numa(...)")

    @classmethod
    def _wrap(cls, handle: Any, builtin: bool, detail: str, keepalive: Any = None) -> Kind:
        self = object.__new__(cls)
        self._handle = handle
        self._builtin = builtin
        self._detail = detail
        self._keepalive = keepalive  # the fixed kind's pinned buffer
        self._closed = False
        self._lock = threading.RLock()
        self._live = weakref.WeakSet()
        self._held = 0
        self._destroyed = False
        self.name = _b.kind_name(handle)
        _ALL_KINDS.add(self)
        return self

    # ---- constructors ----

    @classmethod
    def dram(cls) -> Kind:
        """The default DRAM kind (built in: close() does nothing)."""
        if cls._dram is None:
            cls._dram = cls._wrap(_b.kind_dram(), builtin=True, detail="")
        return cls._dram

    @classmethod
    def file(
        cls, directory: _b.PathLike, max_size: int = 0, policy: FilePolicy = "performance"
    ) -> Kind:
        """A kind backed by an unlinked temporary file in directory.

        max_size 0 grows without limit, else it is at least FILE_MIN_SIZE and allocations past
        it raise OutOfMemoryError. Raises DirectoryNotFoundError, DirectoryAccessError or
        UnsupportedFilesystemError when the directory cannot hold the file.
        """
        handle = _b.kind_create_file(directory, max_size, policy)
        return cls._wrap(handle, builtin=False, detail=f"dir={os.fsdecode(directory)}")

    @classmethod
    def fixed(cls, buffer: Any) -> Kind:
        """A kind allocating from a writable buffer (bytearray, mmap, ...); only its
        page-aligned interior is used and the buffer stays pinned until close()."""
        handle, pinned = _b.kind_create_fixed(buffer)
        return cls._wrap(handle, builtin=False, detail=f"{len(pinned)} bytes", keepalive=pinned)

    @classmethod
    def numa(cls, name: str) -> Kind:
        """A kind whose pages land on NUMA nodes as memkind's static kind ``name`` places
        them ("hbw", "dax_kmem", "highest_capacity", "interleave", "regular", "hugetlb", ...;
        see tiercache.topology.kinds()). Raises KindUnavailableError, saying why, when this
        machine has no such memory."""
        handle = _b.kind_create_numa(name)
        return cls._wrap(handle, builtin=False, detail=name)

    # ---- properties ----

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def builtin(self) -> bool:
        return self._builtin

    @property
    def available(self) -> bool:
        """True when the kind can allocate on this machine."""
        return not self._closed and _b.kind_check_available(self._handle) == _b.OK

    def check_available(self) -> None:
        """Raise the error saying why the kind cannot allocate (e.g. KindUnavailableError)."""
        handle = self._live_handle()
        _b.check(_b.kind_check_available(handle), f"{self.name} kind is not available")

    @property
    def capacity(self) -> int:
        """Bytes the kind can draw from (max_size or filesystem size, area size, RAM)."""
        return _b.kind_capacity(self._live_handle())

    def stats(self) -> KindStats:
        """Fresh statistics of this kind."""
        handle = self._live_handle()
        _b.stats_refresh()
        return KindStats(**_b.kind_stats(handle))

    def purge(self) -> None:
        """Return this kind's unused dirty pages to the system now."""
        _b.kind_purge(self._live_handle())

    # ---- allocation ----

    def allocate(
        self, size: int, *, zero: bool = False, alignment: int | None = None
    ) -> Allocation:
        """size bytes of this kind (zeroed when zero; aligned to a power of two if given).
        TypeError unless size and alignment are ints."""
        size = _b.size_arg(size, "size")
        if alignment is not None:
            alignment = _b.size_arg(alignment, "alignment")
        with self._lock:
            handle = self._live_handle()
            if alignment is None:
                ptr = _b.malloc(handle, size, zero)
            else:
                ptr = _b.memalign(handle, alignment, size)
                if zero:
                    _b.view(ptr, size)[:] = bytes(size)
            alloc = Allocation._wrap(self, ptr, size)
            self._live.add(alloc)
            return alloc

    # ---- lifetime ----

    def close(self) -> None:
        """Close the kind and invalidate its allocations. Idempotent; no-op for DRAM. The
        memory is returned now, or, while views of it are still held or a TierCache uses the
        kind as a tier, when the last of them is gone (they keep working until then)."""
        with self._lock:
            if self._builtin or self._closed:
                return
            for alloc in list(self._live):
                alloc._invalidate()
            self._closed = True
            if not self._held:
                self._destroy()

    def _destroy(self) -> None:
        self._destroyed = True
        _b.kind_destroy(self._handle)
        if self._keepalive is not None:
            _b.unpin(self._keepalive)
            self._keepalive = None

    def _hold(self, region: Region, ptr: Any) -> None:
        """region's memory (ptr, or None when the kind's destruction returns it) waits for
        its views to be released. Kind lock held."""
        self._held += 1
        region.close()
        region.on_idle = lambda: self._unhold(ptr)

    def _acquire(self) -> Any:
        """A cache starts using this kind (a Tier of it): its handle. The kind's memory then
        stays until _release, even if the caller closes the kind meanwhile (KindClosedError
        if it is closed already)."""
        with self._lock:
            handle = self._live_handle()
            if not self._builtin:
                self._held += 1
            return handle

    def _release(self) -> None:
        """The cache that _acquire'd this kind is gone: destroy it now if it was closed."""
        if not self._builtin:
            self._unhold(None)

    def _unhold(self, ptr: Any) -> None:
        with self._lock:
            self._held -= 1
            if ptr is not None and not self._closed:
                _b.free(self._handle, ptr)
            if self._closed and not self._held and not self._destroyed:
                self._destroy()

    def __enter__(self) -> Kind:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_closed", True) is False and not self._builtin:
            with contextlib.suppress(Exception):  # never raise from a finalizer
                self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("built-in" if self._builtin else "open")
        detail = f" {self._detail}" if self._detail else ""
        return f"<Kind {self.name}{detail} ({state})>"

    def _live_handle(self) -> Any:
        if self._closed:
            raise KindClosedError(f"{self.name} kind is closed")
        return self._handle


_ALL_KINDS: weakref.WeakSet[Kind] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A thread that held a kind's lock at fork() does not exist in the child."""
    for kind in list(_ALL_KINDS):
        kind._lock = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Allocation:
    """Bytes from a kind. ``view`` is a writable memoryview of the requested size; views
    derived from it must not be used after free(). Freed by free(), ``with``, or GC."""

    __slots__ = ("__weakref__", "_kind", "_ptr", "_region", "_size", "_view")
    _kind: Kind
    _ptr: Any
    _size: int
    _view: memoryview | None
    _region: Region | None  # exports the views and counts them

    def __init__(self) -> None:
        raise TypeError("use Kind.allocate(size)")

    @classmethod
    def _wrap(cls, kind: Kind, ptr: Any, size: int) -> Allocation:
        self = object.__new__(cls)
        self._kind, self._ptr, self._size = kind, ptr, size
        self._view = None
        self._region = None
        return self

    @property
    def kind(self) -> Kind:
        """The kind this allocation was made from."""
        return self._kind

    @property
    def size(self) -> int:
        return self._size

    @property
    def freed(self) -> bool:
        return self._ptr is None

    @property
    def address(self) -> int:
        return _b.address(self._live_ptr())

    @property
    def usable_size(self) -> int:
        """Bytes actually usable at the address (at least size)."""
        return _b.usable_size(None, self._live_ptr())

    @property
    def owner_name(self) -> str | None:
        """Name of the kind the library finds from the pointer (tc_detect_kind)."""
        handle = _b.detect_kind(self._live_ptr())
        return None if handle is None else _b.kind_name(handle)

    @property
    def view(self) -> memoryview:
        if self._view is None:
            ptr = self._live_ptr()
            if self._region is None:
                self._region = Region(_b.address(ptr), self._size)
            self._view = memoryview(self._region)
        return self._view

    def write(self, data: bytes, offset: int = 0) -> None:
        if offset < 0 or offset + len(data) > self._size:
            raise InvalidArgumentError(f"write of {len(data)} bytes at {offset} overflows")
        self.view[offset : offset + len(data)] = data

    def read(self, size: int | None = None, offset: int = 0) -> bytes:
        end = self._size if size is None else offset + size
        if offset < 0 or end > self._size or end < offset:
            raise InvalidArgumentError(f"read of [{offset}, {end}) is out of bounds")
        return bytes(self.view[offset:end])

    def resize(self, size: int, kind: Kind | None = None) -> None:
        """Change the size, moving the bytes to kind when given (tc_realloc); on failure the
        allocation is unchanged. BufferError while slices of its view are still held."""
        size = _b.size_arg(size, "size")
        with self._kind._lock:
            target = None if kind is None else kind._live_handle()
            self._release_view()
            if self._viewed_region() is not None:
                raise BufferError("views of the allocation are still held: release them first")
            new = _b.realloc(target, self._live_ptr(), size)
            self._region = None
            if kind is not None and kind is not self._kind:
                self._kind._live.discard(self)
                kind._live.add(self)
                self._kind = kind
            self._ptr, self._size = new, size

    def free(self) -> None:
        """Return the memory to its kind. Idempotent."""
        kind = self._kind
        with kind._lock:
            if self._ptr is None:
                return
            self._release_view()
            ptr, self._ptr = self._ptr, None
            kind._live.discard(self)
            region = self._viewed_region()
            if region is not None:  # a slice of a view is still held: free at its release
                kind._hold(region, ptr)
            elif not kind._closed:
                _b.free(kind._handle, ptr)

    def __enter__(self) -> Allocation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.free()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is not None:
            with contextlib.suppress(Exception):  # never raise from a finalizer
                self.free()

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        where = "freed" if self._ptr is None else hex(_b.address(self._ptr))
        return f"<Allocation {self._size} bytes of {self._kind.name} at {where}>"

    def _live_ptr(self) -> Any:
        if self._ptr is None:
            if self._kind.closed:
                raise KindClosedError(f"the allocation's {self._kind.name} kind is closed")
            raise InvalidArgumentError("the allocation was freed")
        return self._ptr

    def _release_view(self) -> None:
        if self._view is not None:
            # BufferError: exported elsewhere; the class docstring warns against that.
            with contextlib.suppress(BufferError):
                self._view.release()
            self._view = None

    def _viewed_region(self) -> Region | None:
        """The region, when buffers of it are still held."""
        return self._region if self._region is not None and self._region.exports > 0 else None

    def _invalidate(self) -> None:
        """The kind is closing (its lock held)."""
        self._release_view()
        self._ptr = None
        region = self._viewed_region()
        if region is not None:
            self._kind._hold(region, None)
