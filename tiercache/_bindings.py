"""Thin layer over the compiled C API: the only module that touches ``lib`` and ``ffi``.

Functions here take and return cffi handles (``tc_kind_t *``) and pointers, convert Python
arguments, and turn TC_ERR_* codes and NULL results into tiercache.errors exceptions whose
message is tc_strerror's text plus the context of the call. They hold no state.
"""

from __future__ import annotations

import errno as _errno
import operator
import os
from typing import Any, Union

from tiercache._fastpath import CacheHandle
from tiercache._native import ffi, lib
from tiercache.errors import (
    CODE_CLASSES,
    InvalidArgumentError,
    OutOfMemoryError,
    SystemCallError,
    TierCacheError,
)

Handle = Any  # cdata "tc_kind_t *"
Pointer = Any  # cdata "void *"
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

NULL = ffi.NULL
OK: int = lib.TC_OK
FILE_MIN_SIZE: int = lib.TC_FILE_MIN_SIZE
FILE_POLICIES: dict[str, int] = {
    "performance": lib.TC_FILE_PERFORMANCE,
    "conservative": lib.TC_FILE_CONSERVATIVE,
}
STATS: dict[str, int] = {
    "resident": lib.TC_STAT_RESIDENT,
    "active": lib.TC_STAT_ACTIVE,
    "allocated": lib.TC_STAT_ALLOCATED,
}
CLASS_BY_CODE: dict[int, type[TierCacheError]] = {
    getattr(lib, cls.code_name): cls for cls in CODE_CLASSES
}


# ---- errors ----


def version() -> tuple[int, int, int]:
    """The C library's TC_VERSION_* as compiled into the extension."""
    return (lib.TC_VERSION_MAJOR, lib.TC_VERSION_MINOR, lib.TC_VERSION_PATCH)


def strerror(code: int) -> str:
    """tc_strerror's message for a TC_ERR_* code."""
    return ffi.string(lib.tc_strerror(code)).decode("utf-8", "replace")


def options_error() -> str | None:
    """The first invalid environment option ("NAME=value: reason"), or None."""
    text = lib.tc_options_error()
    return None if text == NULL else ffi.string(text).decode("utf-8", "replace")


def error_for(code: int, context: str, path: str | None = None) -> TierCacheError:
    """The exception for a TC_ERR_* code; call right after the failing call (reads errno)."""
    err = ffi.errno
    cls = CLASS_BY_CODE.get(code, TierCacheError)
    message = f"{context}: {strerror(code)}"
    if cls is TierCacheError:
        message += f" (code {code})"
    if cls.code_name == "TC_ERR_ENVIRON":
        message += f" ({options_error() or 'no option named'})"
    exc = cls(message, code, path)
    if isinstance(exc, SystemCallError) and err:
        exc.errno, exc.strerror = err, f"{message} ({os.strerror(err)})"
    return exc


def check(code: int, context: str, path: str | None = None) -> None:
    """Raise the matching exception unless code is TC_OK."""
    if code != OK:
        raise error_for(code, context, path)


def _alloc_error(what: str, err: int) -> TierCacheError:
    if err == _errno.EINVAL:
        return InvalidArgumentError(f"{what}: {os.strerror(err)}", lib.TC_ERR_INVALID)
    return OutOfMemoryError(f"{what}: {strerror(lib.TC_ERR_NOMEM)}", lib.TC_ERR_NOMEM)


def _fspath(directory: PathLike) -> tuple[bytes, str]:
    raw = os.fsencode(directory)
    if b"\0" in raw:  # C would stop at it and use another directory
        raise InvalidArgumentError(
            f"embedded null byte in the path {os.fsdecode(raw)!r}", lib.TC_ERR_INVALID
        )
    return raw, os.fsdecode(raw)


def size_arg(value: int, what: str) -> int:
    """value as a size_t: TypeError unless it is an int (numpy integers too, bool not),
    InvalidArgumentError outside [0, 2**64)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if value < 0 or value >= 1 << 64:
        raise InvalidArgumentError(f"{what} must be in [0, 2**64), not {value}", lib.TC_ERR_INVALID)
    return value


_size = size_arg


# ---- kinds ----


def kind_dram() -> Handle:
    return lib.tc_kind_dram()


def kind_create_file(directory: PathLike, max_size: int, policy: str) -> Handle:
    """A new file-backed kind in directory (see tc_kind_create_file)."""
    raw, text = _fspath(directory)
    if policy not in FILE_POLICIES:
        choices = ", ".join(map(repr, FILE_POLICIES))
        raise InvalidArgumentError(f"policy must be one of {choices}, not {policy!r}")
    max_size = _size(max_size, "max_size")
    if 0 < max_size < FILE_MIN_SIZE:
        raise InvalidArgumentError(
            f"max_size must be 0 (no limit) or at least {FILE_MIN_SIZE} bytes "
            f"({FILE_MIN_SIZE >> 20} MiB, FILE_MIN_SIZE), not {max_size}",
            lib.TC_ERR_INVALID,
        )
    out = ffi.new("tc_kind_t **")
    rc = lib.tc_kind_create_file(raw, max_size, FILE_POLICIES[policy], out)
    if rc == lib.TC_ERR_NOTSUP:  # say what the filesystem lacks, as `tiercache info` does
        from tiercache import _fsprobe

        detail = _fsprobe.failure_detail(text, rc, ffi.errno)
        check(rc, f"cannot create a file-backed kind in {text!r} ({detail})", text)
    check(rc, f"cannot create a file-backed kind in {text!r}", text)
    return out[0]


def file_kind_check(directory: PathLike) -> tuple[int, int]:
    """Whether a file-backed kind can live in directory, asked of the library by making one
    (and destroying it): (TC_OK or the TC_ERR_* code, the errno of the failing step or 0)."""
    raw, _ = _fspath(directory)
    out = ffi.new("tc_kind_t **")
    rc = lib.tc_kind_create_file(raw, 0, lib.TC_FILE_PERFORMANCE, out)
    err = ffi.errno if rc != OK else 0
    if rc == OK:
        check(lib.tc_kind_destroy(out[0]), "cannot destroy the probe's file kind")
    return int(rc), int(err)


def kind_create_fixed(buffer: Any) -> tuple[Handle, Any]:
    """A new kind over a writable buffer; returns (handle, cdata that keeps buffer pinned)."""
    try:
        area = ffi.from_buffer("char[]", buffer, require_writable=True)
    except (TypeError, BufferError) as exc:
        raise InvalidArgumentError(f"a fixed kind needs a writable buffer: {exc}") from None
    out = ffi.new("tc_kind_t **")
    check(lib.tc_kind_create_fixed(area, len(area), out), "cannot create a fixed kind")
    return out[0], area


def unpin(area: Any) -> None:
    """Release the buffer pinned by kind_create_fixed (after the kind is destroyed)."""
    ffi.release(area)


def kind_destroy(kind: Handle) -> None:
    check(lib.tc_kind_destroy(kind), f"cannot destroy {kind_name(kind)} kind")


def kind_check_available(kind: Handle) -> int:
    """TC_OK or the TC_ERR_* code saying why the kind cannot allocate here."""
    return lib.tc_kind_check_available(kind)


def kind_name(kind: Handle) -> str:
    return ffi.string(lib.tc_kind_name(kind)).decode("utf-8", "replace")


def kind_capacity(kind: Handle) -> int:
    out = ffi.new("size_t *")
    check(lib.tc_kind_capacity(kind, out), f"cannot read the capacity of {kind_name(kind)} kind")
    return int(out[0])


def numa_preset_names() -> list[str]:
    """Names of memkind's static topology kinds ("regular", "hbw", "dax_kmem", ...)."""
    names: list[str] = []
    while (name := lib.tc_numa_preset_name(len(names))) != NULL:
        names.append(ffi.string(name).decode())
    return names


def _numa_params(preset: str) -> Any:
    params = ffi.new("tc_numa_params_t *")
    if not isinstance(preset, str) or lib.tc_numa_preset(preset.encode(), params) != OK:
        choices = ", ".join(numa_preset_names())
        raise InvalidArgumentError(f"unknown NUMA kind {preset!r} (one of: {choices})")
    return params


def numa_check(preset: str) -> tuple[int, str]:
    """(TC_OK or the error, the reason when not OK) for the NUMA preset kind."""
    why = ffi.new("const char **")
    rc = lib.tc_numa_check(_numa_params(preset), why)
    return rc, "" if rc == OK or why[0] == NULL else ffi.string(why[0]).decode()


def kind_create_numa(preset: str) -> Handle:
    """A new NUMA kind with the parameters of memkind's static kind `preset`."""
    params = _numa_params(preset)
    rc, why = numa_check(preset)
    check(rc, f"{preset} kind is not available here: {why}" if why else f"no {preset} kind")
    out = ffi.new("tc_kind_t **")
    check(lib.tc_kind_create_numa(params, out), f"cannot create a {preset} kind")
    return out[0]


def topology_nodes() -> list[dict[str, Any]]:
    """Every online NUMA node's attributes, from the native topology unit."""
    count = ffi.new("size_t *")
    check(lib.tc_topology_nodes(NULL, 0, count), "cannot read the NUMA topology")
    ids = ffi.new("unsigned[]", max(int(count[0]), 1))
    check(lib.tc_topology_nodes(ids, len(ids), count), "cannot read the NUMA topology")
    nodes = []
    for node_id in list(ids)[: int(count[0])]:
        info = ffi.new("tc_node_info_t *")
        check(lib.tc_topology_node(node_id, info), f"cannot read NUMA node {node_id}")
        cpus = ffi.new("unsigned[]", max(info.ncpus, 1))
        check(lib.tc_topology_node_cpus(node_id, cpus, len(cpus)), "cannot read node CPUs")
        dist = ffi.new("unsigned *")
        distances = []
        for other in list(ids)[: int(count[0])]:
            check(lib.tc_topology_distance(node_id, other, dist), "cannot read distances")
            distances.append(int(dist[0]))
        nodes.append(
            {
                "id": int(node_id),
                "cpus": tuple(int(c) for c in list(cpus)[: info.ncpus]),
                "capacity_bytes": int(info.capacity),
                "distances": tuple(distances),
                "read_bandwidth_mbps": int(info.read_bandwidth_mbps) or None,
                "read_latency_ns": int(info.read_latency_ns) or None,
                "is_hbw": bool(info.is_hbw),
                "is_dax_kmem": bool(info.is_dax_kmem),
                "hugepages_2m": int(info.hugepages_2m),
            }
        )
    return nodes


def page_node(ptr: Pointer) -> int:
    """The NUMA node holding the (touched) page at ptr."""
    out = ffi.new("int *")
    check(lib.tc_page_node(ptr, out), "cannot tell which node holds the page")
    return int(out[0])


def detect_kind(ptr: Pointer) -> Handle | None:
    """The kind owning a live allocation of this library, or None for NULL."""
    kind = lib.tc_detect_kind(ptr)
    return None if kind == NULL else kind


def check_dax_path(directory: PathLike) -> int:
    """TC_OK when directory is on a DAX filesystem, else a TC_ERR_* code."""
    return lib.tc_check_dax_path(_fspath(directory)[0])


def kind_purge(kind: Handle | None) -> None:
    check(lib.tc_kind_purge(NULL if kind is None else kind), "cannot purge")


# ---- heap ----


def malloc(kind: Handle, size: int, zero: bool = False) -> Pointer:
    """size bytes of kind (zeroed when zero); raises OutOfMemoryError instead of NULL."""
    size = _size(size, "size")
    ptr = lib.tc_calloc(kind, 1, size) if zero else lib.tc_malloc(kind, size)
    if ptr == NULL:
        raise _alloc_error(f"cannot allocate {size} bytes of {kind_name(kind)} kind", ffi.errno)
    return ptr


def memalign(kind: Handle, alignment: int, size: int) -> Pointer:
    out = ffi.new("void **")
    rc = lib.tc_posix_memalign(kind, out, _size(alignment, "alignment"), _size(size, "size"))
    if rc != 0:
        what = f"cannot allocate {size} bytes aligned to {alignment} of {kind_name(kind)} kind"
        raise _alloc_error(what, rc)
    return out[0]


def realloc(kind: Handle | None, ptr: Pointer, size: int) -> Pointer:
    """Resize (and with a different kind, move) ptr; on failure ptr stays valid. size > 0."""
    size = _size(size, "size")
    if size == 0:
        raise InvalidArgumentError("realloc to 0 bytes frees; call free() instead")
    new = lib.tc_realloc(NULL if kind is None else kind, ptr, size)
    if new == NULL:
        raise _alloc_error(f"cannot resize an allocation to {size} bytes", ffi.errno)
    return new


def free(kind: Handle | None, ptr: Pointer) -> None:
    lib.tc_free(NULL if kind is None else kind, ptr)


def usable_size(kind: Handle | None, ptr: Pointer) -> int:
    return int(lib.tc_usable_size(NULL if kind is None else kind, ptr))


def defrag_reallocate(kind: Handle | None, ptr: Pointer) -> Pointer | None:
    """The moved allocation (ptr is then freed), or None when ptr stays where it is."""
    new = lib.tc_defrag_reallocate(NULL if kind is None else kind, ptr)
    return None if new == NULL else new


def view(ptr: Pointer, size: int) -> memoryview:
    """A writable byte view of [ptr, ptr+size); valid only while the allocation lives."""
    return memoryview(ffi.buffer(ffi.cast("char *", ptr), size)).cast("B")


def address(ptr: Pointer) -> int:
    return int(ffi.cast("uintptr_t", ptr))


def pointer(addr: int) -> Pointer:
    return ffi.cast("void *", addr)


# ---- statistics and control ----


def stats_refresh() -> None:
    check(lib.tc_stats_refresh(), "cannot refresh statistics")


def kind_stats(kind: Handle | None) -> dict[str, int]:
    """The statistics of kind (None: all kinds) as of the last stats_refresh()."""
    out = ffi.new("size_t *")
    result = {}
    for name, stat in STATS.items():
        check(lib.tc_kind_stat(NULL if kind is None else kind, stat, out), f"cannot read {name}")
        result[name] = int(out[0])
    return result


@ffi.def_extern()
def _tc_py_stats_write(opaque: Any, text: Any) -> None:
    ffi.from_handle(opaque).append(ffi.string(text).decode("utf-8", "replace"))


def stats_report(opts: str | None = None) -> str:
    """jemalloc's statistics report (malloc_stats_print option letters in opts)."""
    chunks: list[str] = []
    handle = ffi.new_handle(chunks)
    copts = NULL if opts is None else opts.encode()
    check(lib.tc_stats_print(lib._tc_py_stats_write, handle, copts), "cannot print statistics")
    return "".join(chunks)


def background_purge_start() -> None:
    """Start the background purging threads unless TIERCACHE_BACKGROUND_PURGE=0."""
    check(lib.tc_background_purge_start(), "cannot start the background purging threads")


def set_background_threads(enable: bool) -> None:
    check(lib.tc_set_background_threads(bool(enable)), "cannot switch background threads")


# ---- cache (native/include/tiercache/cache.h) ----

ERR_TOOLARGE: int = lib.TC_ERR_TOOLARGE
ERR_NOMEM: int = lib.TC_ERR_NOMEM
ERR_CLOSED: int = lib.TC_ERR_CLOSED
MAX_KEY: int = lib.TC_CACHE_MAX_KEY
_KEY_HEADER = 3  # tc_cache_keys: [u8 tag][u16 length]


def cache_fast_path() -> Any:
    """tiercache._fastpath bound to this module's tc_cache_* functions and to error_for (see
    _fastpath.c for its calling conventions and the shapes of its results)."""
    from tiercache import _fastpath

    names = (
        "tc_cache_create",
        "tc_cache_destroy",
        "tc_cache_get",
        "tc_cache_set",
        "tc_cache_delete",
        "tc_cache_contains",
        "tc_cache_unpin",
        "tc_cache_store",
        "tc_cache_get_ex",
        "tc_cache_incr",
    )
    if not _bound:
        _fastpath.bind(
            {name: int(ffi.cast("uintptr_t", ffi.addressof(lib, name))) for name in names},
            cache_error,
        )
        _bound.append(True)
    return _fastpath


_bound: list[bool] = []


def cache_error(code: int, context: str) -> TierCacheError:
    return error_for(code, context)


def unavailable_kind(name: str) -> TierCacheError:
    from tiercache.errors import KindUnavailableError

    return KindUnavailableError(
        f"{name} tiers are not available: this build has no {name!r} kind on this machine "
        "(NUMA-topology kinds need a node of that type)",
        lib.TC_ERR_UNAVAILABLE,
    )


def cache_create(
    tiers: list[tuple[Handle, int]], large_threshold: int, promote_hits: int, index_tier: int = 0
) -> CacheHandle:
    """A new native cache, owned by the returned handle (made by the fast path: a handle
    cannot be made from an integer)."""
    if not 1 <= len(tiers) <= lib.TC_CACHE_MAX_TIERS:
        raise InvalidArgumentError(
            f"a cache has 1 to {lib.TC_CACHE_MAX_TIERS} tiers, not {len(tiers)}"
        )
    cfg = ffi.new("tc_cache_config_t *")
    cfg.ntiers = len(tiers)
    for i, (kind, budget) in enumerate(tiers):
        cfg.tiers[i].kind = kind
        cfg.tiers[i].budget = _size(budget, "budget")
    cfg.large_threshold = _size(large_threshold, "large_value_bytes")
    cfg.promote_hits = promote_hits
    if not 0 <= index_tier < len(tiers):
        raise InvalidArgumentError(
            f"index_tier must name one of the {len(tiers)} tiers (0 to {len(tiers) - 1}), "
            f"not {index_tier}"
        )
    cfg.index_tier = index_tier
    return cache_fast_path().cache_create(ffi.buffer(cfg))


def cache_pointer(handle: CacheHandle) -> Any:
    """The cdata "tc_cache_t *" of a live handle, for the calls below (not the hot path)."""
    return ffi.cast("tc_cache_t *", handle.address)


def cache_close(cache: Any) -> int:
    """Close the cache; returns how many values readers still pin (0 when already closed)."""
    return max(0, int(lib.tc_cache_close(cache)))


def cache_take(cache: Any, ktag: int, key: bytes) -> tuple[int, bytes] | None:
    """Remove key and return its (value tag, bytes) in one native step, or None if absent."""
    out = ffi.new("tc_cache_value_t *")
    rc = lib.tc_cache_take(cache, ktag, key, len(key), out)
    if rc < 0:
        check(rc, "pop")
    if rc == 0:
        return None
    try:
        return int(out.tag), ffi.buffer(out.data, out.len)[:]
    finally:
        lib.tc_cache_unpin(cache, out.pin)


def cache_add(cache: Any, ktag: int, key: bytes, vtag: int, value: Any, ttl: float) -> int:
    """Store value only if key is absent: 1 stored, 0 present, or a negative TC_ERR_* code."""
    data = ffi.from_buffer(value)
    return int(lib.tc_cache_add(cache, ktag, key, len(key), data, len(data), vtag, ttl))


STORE_MODES = {
    "set": lib.TC_STORE_SET,
    "add": lib.TC_STORE_ADD,
    "replace": lib.TC_STORE_REPLACE,
    "append": lib.TC_STORE_APPEND,
    "prepend": lib.TC_STORE_PREPEND,
    "cas": lib.TC_STORE_CAS,
}
STORED, NOT_STORED, EXISTS, NOT_FOUND = (
    lib.TC_CACHE_STORED,
    lib.TC_CACHE_NOT_STORED,
    lib.TC_CACHE_EXISTS,
    lib.TC_CACHE_NOT_FOUND,
)


def cache_store(
    cache: Any, mode: str, ktag: int, key: bytes, vtag: int, value: Any, ttl: float, cas: int = 0
) -> tuple[int, int]:
    """tc_cache_store: (STORED, NOT_STORED, EXISTS or NOT_FOUND, the new CAS token), or a
    negative TC_ERR_* code as the first item."""
    item = ffi.new("tc_cache_item_t *")
    data = ffi.from_buffer(value)
    kdata = ffi.from_buffer(key)
    item.ktag, item.key, item.klen = ktag, kdata, len(key)
    item.value, item.vlen, item.vtag, item.ttl = data, len(data), vtag, ttl
    item.cas = cas
    token = ffi.new("uint64_t *")
    rc = int(lib.tc_cache_store(cache, STORE_MODES[mode], item, token))
    return rc, int(token[0])


def cache_incr(
    cache: Any, ktag: int, key: bytes, delta: int, initial: int | None, vtag: int
) -> int | None:
    """Add delta (negative: take) to the signed number under key in one step; the new number,
    or None when absent and initial is None (else initial is stored, delta not applied)."""
    op = ffi.new("tc_cache_incr_t *")
    op.delta, op.decrement, op.is_signed, op.vtag = abs(delta), delta < 0, True, vtag
    if initial is not None:
        op.create, op.initial = True, initial & 0xFFFFFFFFFFFFFFFF
    value = ffi.new("uint64_t *")
    rc = lib.tc_cache_incr(cache, ktag, key, len(key), op, value, ffi.NULL)
    if rc < 0:
        check(rc, "incr")
    if rc == 0:
        return None
    v = int(value[0])
    return v - (1 << 64) if v >= 1 << 63 else v


def cache_get_ex(
    cache: Any, ktag: int, key: bytes, options: int, ttl: float = 0.0
) -> tuple[int, bytes, int, float] | None:
    """tc_cache_get_ex, copied out: (value tag, bytes, CAS token, seconds left or 0), or None
    when absent."""
    out = ffi.new("tc_cache_value_t *")
    rc = lib.tc_cache_get_ex(cache, ktag, key, len(key), options, ttl, ffi.NULL, 0, out)
    if rc < 0:
        check(rc, "get")
    if rc == 0:
        return None
    try:
        return int(out.tag), ffi.buffer(out.data, out.len)[:], int(out.cas), float(out.ttl)
    finally:
        lib.tc_cache_unpin(cache, out.pin)


def cache_pop_victim(cache: Any) -> tuple[int, bytes, int, bytes] | None:
    """Remove the next eviction victim: (key tag, key, value tag, value), or None if empty."""
    out = ffi.new("tc_cache_value_t *")
    klen = ffi.new("size_t *")
    cap = 256
    while True:
        kbuf = ffi.new("unsigned char[]", cap)
        rc = lib.tc_cache_pop_victim(cache, kbuf, cap, klen, out)
        if rc != lib.TC_ERR_NOMEM:
            break
        cap = int(klen[0])
    if rc < 0:
        check(rc, "popitem")
    if rc == 0:
        return None
    try:
        length = kbuf[1] | kbuf[2] << 8
        key = ffi.buffer(kbuf + _KEY_HEADER, length)[:]
        return int(kbuf[0]), key, int(out.tag), ffi.buffer(out.data, out.len)[:]
    finally:
        lib.tc_cache_unpin(cache, out.pin)


def cache_keys_from(cache: Any, cursor: Any, cap: int = 1 << 16) -> list[tuple[int, bytes]]:
    """The next keys from cursor (an ffi "size_t *", 0 to begin; 0 again at the end)."""
    written = ffi.new("size_t *")
    while True:
        buf = ffi.new("char[]", cap)
        rc = lib.tc_cache_keys_from(cache, cursor, buf, cap, written)
        if rc != lib.TC_ERR_NOMEM:
            break
        cap *= 4
    if rc < 0:
        check(rc, "cannot list the keys")
    return _parse_keys(ffi.buffer(buf, int(written[0]))[:], rc)


def _parse_keys(raw: bytes, n: int) -> list[tuple[int, bytes]]:
    """The n keys tc_cache_keys wrote into raw, as (tag, bytes)."""
    keys, pos = [], 0
    for _ in range(n):
        length = raw[pos + 1] | raw[pos + 2] << 8
        start = pos + _KEY_HEADER
        keys.append((raw[pos], raw[start : start + length]))
        pos = start + length
    return keys


def new_cursor() -> Any:
    return ffi.new("size_t *")


def cache_count(cache: Any) -> int:
    """Live entries. tc_cache_count answers 0 for a cache it cannot use (closed, or a forked
    child's with a file tier), so a 0 is told apart from an empty cache by one more call."""
    n = int(lib.tc_cache_count(cache))
    if n == 0:
        rc = lib.tc_cache_expire(cache)
        if rc < 0:
            check(rc, "len")
    return n


def cache_keys(cache: Any) -> list[tuple[int, bytes]]:
    """Every live key as (tag, bytes)."""
    needed = ffi.new("size_t *")
    cap = 4096
    while True:
        buf = ffi.new("char[]", cap)
        rc = lib.tc_cache_keys(cache, buf, cap, needed)
        if rc >= 0:
            break
        if rc != lib.TC_ERR_NOMEM:
            check(rc, "cannot list the keys")
        cap = int(needed[0]) + 4096
    return _parse_keys(ffi.buffer(buf, int(needed[0]))[:], rc)


def cache_clear(cache: Any) -> None:
    check(lib.tc_cache_clear(cache), "clear")


def cache_touch(cache: Any, ktag: int, key: bytes, ttl: float) -> bool:
    rc = lib.tc_cache_touch(cache, ktag, key, len(key), ttl)
    if rc < 0:
        check(rc, "touch")
    return rc == 1


def cache_expire(cache: Any) -> int:
    rc = lib.tc_cache_expire(cache)
    if rc < 0:
        check(rc, "expire")
    return rc


def cache_compact(cache: Any, chunk: int = 4096) -> int:
    """One full compaction pass, chunk entries per call; returns the blocks moved."""
    cursor, moved = ffi.new("size_t *"), ffi.new("size_t *")
    total = 0
    while True:
        check(lib.tc_cache_compact(cache, cursor, chunk, moved), "compact")
        total += int(moved[0])
        if cursor[0] == 0:
            return total


_STAT_FIELDS = (
    "hits",
    "misses",
    "sets",
    "deletes",
    "evictions",
    "expirations",
    "promotions",
    "demotions",
    "items",
    "key_bytes",
    "meta_bytes",
    "index_bytes",
    "index_tier",
    "ghost_bytes",
    "ghost_tier",
    "pinned",
)
_TIER_FIELDS = (
    "budget",
    "used",
    "value_bytes",
    "items",
    "dram_bytes",
    "hits",
    "promotions",
    "demotions",
    "evictions",
)


def cache_stats(cache: Any) -> dict[str, Any]:
    out = ffi.new("tc_cache_stats_t *")
    check(lib.tc_cache_stats(cache, out), "stats")
    stats: dict[str, Any] = {name: int(getattr(out, name)) for name in _STAT_FIELDS}
    stats["tiers"] = [
        {name: int(getattr(out.tiers[i], name)) for name in _TIER_FIELDS} for i in range(out.ntiers)
    ]
    return stats


def cache_check(cache: Any) -> str | None:
    """None when every invariant holds, else the description of the broken one."""
    msg = ffi.new("char[]", 512)
    rc = lib.tc_cache_check(cache, msg, 512)
    if rc == lib.TC_ERR_CORRUPT:
        return ffi.string(msg).decode("utf-8", "replace")
    check(rc, "check")
    return None


# ---- TEST ONLY: fault injection at the OS seam (native/include/tiercache/testing.h) ----


def fault_arm(primitive: str, nth: int, count: int = 1, err: int = _errno.ENOMEM) -> None:
    """Fail calls nth..nth+count-1 (count 0: all later calls) of an OS primitive with err."""
    rc = lib.tc_testing_fault_arm(primitive.encode(), nth, count, err)
    check(rc, f"cannot arm a fault on {primitive!r}")


def fault_disarm() -> None:
    lib.tc_testing_fault_disarm()


def fault_calls(primitive: str = "any") -> int:
    return int(lib.tc_testing_fault_calls(primitive.encode()))


def faults_injected() -> int:
    return int(lib.tc_testing_fault_injected())
