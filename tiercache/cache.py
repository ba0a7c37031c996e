"""TierCache: a dict-like cache whose hot small values live in DRAM and whose large and cold
values live on a capacity tier (a PMEM/fsdax directory, tmpfs, CXL or DAX-KMEM memory).

The index, the entries and the policy are native (native/src/cache): each operation crosses
into C once, holds the cache's mutex there and runs without the GIL, so threads may share a
cache. Python only turns keys and values into bytes (tiercache.serde).
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
import weakref
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, ValuesView
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from tiercache import _bindings as _b
from tiercache._fastpath import CacheHandle
from tiercache.atomic import AtomicOps
from tiercache.errors import CacheClosedError, CacheCorruptError, CapacityWarning, TierCacheError
from tiercache.kinds import Kind
from tiercache.serde import decode_key, encode_key, make_serializer

__all__ = ["Tier", "TierCache"]

_MISSING: Any = object()
_MB = 1 << 20
F = TypeVar("F", bound=Callable[..., Any])

_fast = _b.cache_fast_path()


@dataclass(frozen=True)
class Tier:
    """One tier of a cache: where its values live and how many MiB it may use.

    ``kind`` is "dram", "file" (``path`` is the directory, e.g. an fsdax mount or /dev/shm),
    a NUMA-topology kind name ("hbw", "dax_kmem", "highest_capacity"), which exist only on
    machines that have such memory, or a :class:`Kind` the caller made (``Kind.fixed(area)``,
    ``Kind.file(dir, max_size=...)``, ...).

    A caller's Kind stays the caller's: the cache never closes it, and it must be open when
    the cache is built. Closing it while a cache still uses it is allowed: like a kind whose
    views are held, it then stops serving new allocations of its own and its memory is
    returned when the last cache using it is gone (the TierCache object and the zero-copy
    views of its values; closing the cache is not enough, as a closed cache still answers).
    """

    kind: str | Kind
    mb: float
    path: str | None = None

    def __post_init__(self) -> None:
        _check_tier_kind(self.kind)
        if self.kind == "file" and not self.path:
            raise ValueError("a file tier needs a directory: Tier.file(path, mb)")
        if isinstance(self.kind, Kind) and self.path is not None:
            raise ValueError("a tier of a Kind takes no path (the kind has its own)")

    @classmethod
    def dram(cls, mb: float) -> Tier:
        return cls("dram", mb)

    @classmethod
    def file(cls, path: str | os.PathLike[str], mb: float) -> Tier:
        return cls("file", mb, os.fspath(path))

    @property
    def budget(self) -> int:
        return int(self.mb * _MB)

    @property
    def label(self) -> str:
        """The tier's name in stats and messages: its kind name ("dram", "file", ...)."""
        return self.kind.name if isinstance(self.kind, Kind) else self.kind


def _check_tier_kind(kind: Any) -> None:
    """ValueError for a name that is no kind at all (an existing kind this machine cannot
    serve is KindUnavailableError, when the cache is built)."""
    if isinstance(kind, Kind):
        return
    if not isinstance(kind, str):
        raise TypeError(f"a tier's kind is a str or a Kind, not {type(kind).__name__}")
    names = ["dram", "file", *_b.numa_preset_names()]
    if kind not in names:
        raise ValueError(f"unknown tier kind {kind!r} (one of: {', '.join(names)})")


def _int_option(value: Any, name: str, limit: int) -> int:
    """value as an int in [0, limit]: TypeError for a non-int, ValueError out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= limit:
        raise ValueError(f"{name} must be between 0 and {limit}, not {value!r}")
    return int(value)


def _interval_seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"compact_interval must be a number of seconds or None, not {type(value).__name__}"
        )
    if not 0 < value < float("inf"):
        raise ValueError(f"compact_interval must be > 0 seconds and finite, not {value!r}")
    return float(value)


def _positive_mb(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of MiB, not {type(value).__name__}")
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be > 0 and finite, not {value!r}")
    if value * _MB < 64 * 1024:
        raise ValueError(f"{name} must be at least 0.0625 (64 KiB), not {value!r}")
    return float(value)


def _ttl_seconds(ttl: Any) -> float:
    if ttl is None:
        return 0.0
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds or None, not {type(ttl).__name__}")
    if not ttl > 0:
        raise ValueError(f"ttl must be > 0 seconds (or None for no expiry), not {ttl!r}")
    return float(ttl)


def _fs_free(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _fitted_budget(tier: Tier) -> int:
    """A file tier's budget, cut (with a CapacityWarning) to what its filesystem has free:
    the cache then evicts instead of failing writes with ENOSPC."""
    if tier.kind != "file" or not tier.path:
        return tier.budget
    try:
        free = _fs_free(tier.path)
    except OSError:
        return tier.budget
    room = max(int(free * 0.95) - (2 << 20), 64 * 1024)  # window and block-size slack
    if tier.budget <= room:
        return tier.budget
    warnings.warn(
        f"the file tier in {tier.path!r} asks for {tier.budget / _MB:g} MiB but its filesystem "
        f"has {free / _MB:.1f} MiB free: the tier's budget is cut to {room / _MB:.1f} MiB",
        CapacityWarning,
        stacklevel=4,
    )
    return room


class _Native:
    """The native cache and the kinds it uses. Zero-copy views hold a reference to it, so it
    (and the kinds their bytes live in) outlives the TierCache while any view is alive.

    The kinds it made from tier names are its own and close with it; a caller's Kind is held
    (Kind._acquire) and released instead, never closed."""

    def __init__(self, tiers: list[Tier], options: dict[str, int]) -> None:
        self.kinds: list[Kind] = []
        self.owned: list[bool] = []
        self.closed = False
        self.handle: CacheHandle | None = None
        try:
            for tier in tiers:
                self._add_kind(tier)
            self.budgets = [_fitted_budget(t) for t in tiers]
            self.handle = _b.cache_create(
                [(k._handle, b) for k, b in zip(self.kinds, self.budgets)], **options
            )
            self.ptr = _b.cache_pointer(self.handle)
        except BaseException:
            if self.handle is not None:  # the cache lives in tier 0's kind: destroy it first
                self.handle.destroy()
            self._close_kinds()
            raise

    def _add_kind(self, tier: Tier) -> None:
        if isinstance(tier.kind, Kind):
            if tier.kind in self.kinds:
                raise ValueError(f"{tier.kind!r} is given to two tiers: a kind serves one")
            tier.kind._acquire()  # KindClosedError when the caller closed it
            self.kinds.append(tier.kind)
            self.owned.append(False)
        else:
            self.kinds.append(self._open_kind(tier))
            self.owned.append(True)

    @staticmethod
    def _open_kind(tier: Tier) -> Kind:
        if tier.kind == "dram":
            return Kind.dram()
        if tier.kind == "file":
            if not tier.path:
                raise ValueError("a file tier needs a directory")
            return Kind.file(tier.path)
        if isinstance(tier.kind, str) and tier.kind in _b.numa_preset_names():
            return Kind.numa(tier.kind)
        raise _b.unavailable_kind(tier.label)

    def _close_kinds(self) -> None:
        """Close the kinds made here, release the caller's (once)."""
        kinds, owned = self.kinds, self.owned
        self.kinds, self.owned = [], []
        for kind, own in zip(kinds, owned):
            if own:
                kind.close()
            else:
                kind._release()

    def close(self) -> None:
        """Free the entries and return the kinds' free pages to the system. The kinds close
        in __del__, after the cache is destroyed (the cache itself lives in tier 0's kind, and
        a closed cache still answers CacheClosedError): when the TierCache and the last view
        of its values are gone."""
        if self.closed:
            return
        self.closed = True
        if _b.cache_close(self.ptr) == 0:
            for kind in self.kinds:
                with contextlib.suppress(TierCacheError):
                    _b.kind_purge(kind._handle)

    def __del__(self) -> None:
        if self.handle is not None:
            self.handle.destroy()  # closes the cache first if it is open
            self.handle = None
            self._close_kinds()


class TierCache(AtomicOps, MutableMapping):
    """A dict-like cache over memory tiers.

    ``TierCache(dram_mb, pmem_dir)`` keeps up to ``dram_mb`` MiB in DRAM (index and metadata
    included) and, when ``pmem_dir`` is given, up to ``pmem_mb`` MiB (default 8 x dram_mb) of
    values in an unlinked file in that directory. :meth:`from_tiers` builds other layouts.

    Keys: str, bytes, int or tuples of these. Values: bytes/bytearray/memoryview/str stored
    raw, anything msgpack can encode, and with ``serializer="pickle"`` anything picklable.

    Placement: values below ``large_value_bytes`` start in DRAM, larger ones on the last tier.
    When DRAM is full, cold entries are demoted (S3-FIFO decides which); an entry read
    ``promote_hits`` times on a lower tier returns to DRAM. ``ttl`` is in seconds.

    An entry lives whole on one tier (key, value and header, read in place there); DRAM keeps
    only the index, 9-11.4 bytes per item whatever tier the item is on.
    ``index_tier=1`` puts the index on the capacity tier too, for machines whose DRAM cannot
    hold even that (lookups then read the index there).
    """

    def __init__(
        self,
        dram_mb: float = 64,
        pmem_dir: str | os.PathLike[str] | None = None,
        pmem_mb: float | None = None,
        *,
        large_value_bytes: int = 64 * 1024,
        promote_hits: int = 2,
        serializer: str = "msgpack",
        compact_interval: float | None = None,
        index_tier: int = 0,
    ) -> None:
        dram_mb = _positive_mb(dram_mb, "dram_mb")
        tiers = [Tier.dram(dram_mb)]
        if pmem_dir is not None:
            pmem_mb = 8 * dram_mb if pmem_mb is None else _positive_mb(pmem_mb, "pmem_mb")
            tiers.append(Tier.file(pmem_dir, pmem_mb))
        elif pmem_mb is not None:
            raise ValueError("pmem_mb needs a pmem_dir")
        self._setup(
            tiers, large_value_bytes, promote_hits, serializer, compact_interval, index_tier
        )

    @staticmethod
    def connect(servers: str | list[str], **options: Any) -> Any:
        """A client of tiercache servers (``tiercache serve``) with this mapping API:
        ``"unix:/run/tc.sock"``, ``"host:11211"``, or a list of them for client-side sharding
        (see tiercache.client.connect)."""
        from tiercache.client import connect

        return connect(servers, **options)

    @classmethod
    def from_tiers(
        cls,
        tiers: Iterable[Tier],
        *,
        large_value_bytes: int = 64 * 1024,
        promote_hits: int = 2,
        serializer: str = "msgpack",
        compact_interval: float | None = None,
        index_tier: int = 0,
    ) -> TierCache:
        """A cache over tiers, fastest first; the index is on tier ``index_tier`` (the first
        unless told otherwise)."""
        tiers = list(tiers)
        if not tiers:
            raise ValueError("a cache needs at least one tier")
        for i, tier in enumerate(tiers):
            if not isinstance(tier, Tier):
                raise TypeError(f"tiers[{i}] must be a Tier, not {type(tier).__name__}")
            _positive_mb(tier.mb, f"tiers[{i}].mb")
        self = cls.__new__(cls)
        self._setup(
            tiers, large_value_bytes, promote_hits, serializer, compact_interval, index_tier
        )
        return self

    def _setup(
        self,
        tiers: list[Tier],
        large_value_bytes: int,
        promote_hits: int,
        serializer: str,
        compact_interval: float | None,
        index_tier: int,
    ) -> None:
        large_value_bytes = _int_option(large_value_bytes, "large_value_bytes", (1 << 64) - 1)
        promote_hits = _int_option(promote_hits, "promote_hits", (1 << 32) - 1)  # C unsigned
        index_tier = _int_option(index_tier, "index_tier", (1 << 32) - 1)  # tiers: below
        compact_interval = _interval_seconds(compact_interval)
        self._serializer = make_serializer(serializer)
        self._dumps = self._serializer.dumps
        self._loads = self._serializer.loads
        self._tiers = tuple(tiers)
        if index_tier >= len(tiers):
            raise ValueError(
                f"index_tier must name one of the {len(tiers)} tiers (0 to {len(tiers) - 1}), "
                f"not {index_tier}"
            )
        self._native = _Native(
            tiers,
            {
                "large_threshold": large_value_bytes,
                "promote_hits": promote_hits,
                "index_tier": index_tier,
            },
        )
        handle = self._native.handle
        assert handle is not None  # (made by _Native, or it raised)
        self._h = self._native.ptr  # for the _bindings calls
        self._handle = handle  # for the fast path
        self._reader = _fast.reader(self._handle, self._native, self._loads)
        self._compactor: _Compactor | None = None
        if compact_interval is not None:
            self._compactor = _Compactor(self, compact_interval)

    # ---- the hot path (tiercache._fastpath; its header documents what each call returns) ----

    def get(self, key: Any, default: Any = None, *, copy: bool = True) -> Any:
        """The value for key, or default. ``copy=False`` returns bytes-like values as a
        read-only memoryview of the stored bytes (no copy); it stays valid while held, even
        if the entry is replaced or evicted meanwhile."""
        return _fast.get(self._handle, key, default, copy, self._reader)

    def set(self, key: Any, value: Any, ttl: float | None = None) -> None:
        """Store value under key (replacing any), expiring after ttl seconds if given.
        Raises EntryTooLargeError (a ValueError) when no tier can hold it; on any error the
        previous value stays."""
        seconds = 0.0 if ttl is None else _ttl_seconds(ttl)
        rc = _fast.set(self._handle, key, value, -1, seconds)
        if rc != 0:  # (not `if rc`: NotImplemented has no truth value)
            self._set_other(rc, key, value, seconds)

    def _set_other(self, rc: Any, key: Any, value: Any, seconds: float) -> None:
        """The rest of set() after the fast path did not store: a value Python encodes
        (NotImplemented), a retry after purging full file tiers, or the error."""
        if rc is NotImplemented:
            rc = self._set_slow(key, value, seconds)
        if rc == _b.ERR_NOMEM and self._purge_file_tiers():  # ENOSPC: freed blocks back, retry
            rc = self._set_slow(key, value, seconds)
        if rc:
            raise self._set_error(rc, key, value)

    def _set_slow(self, key: Any, value: Any, seconds: float) -> int:
        vt, vb = self._dumps(value)
        rc: int = _fast.set(self._handle, key, vb, vt, seconds)
        return rc

    __setitem__ = set

    def _set_error(self, rc: int, key: Any, value: Any) -> Exception:
        klen = len(encode_key(key)[1])
        if klen > _b.MAX_KEY:
            return _b.cache_error(
                rc, f"cannot store a key of {klen} bytes: a key has at most {_b.MAX_KEY} bytes"
            )
        vlen = len(self._dumps(value)[1])
        if rc == _b.ERR_TOOLARGE:
            budgets = ", ".join(f"{t.label} {t.budget} bytes" for t in self._tiers)
            return _b.cache_error(
                rc,
                f"cannot store a value of {vlen} bytes (key {klen} bytes): "
                f"larger than any tier can take ({budgets}; one entry may use at most half of "
                "the first tier)",
            )
        return _b.cache_error(rc, f"cannot store a value of {vlen} bytes{self._nomem_reason()}")

    def _purge_file_tiers(self) -> bool:
        """Return the free pages of file tiers whose filesystem is nearly full (freed blocks
        that still hold file space): True if there was one, so a retry may succeed."""
        purged = False
        for spec, kind in zip(self._tiers, self._native.kinds):
            if spec.kind == "file" and spec.path and not kind.closed:
                with contextlib.suppress(OSError):
                    if _fs_free(spec.path) < max(4 << 20, spec.budget // 8):
                        kind.purge()
                        purged = True
        return purged

    def _nomem_reason(self) -> str:
        """Why no tier had room: values pinned by views, or a full filesystem."""
        reasons = []
        try:
            s = _b.cache_stats(self._h)
        except Exception:  # closed or forked: the code says it already
            return ""
        if s["pinned"]:
            reasons.append(
                f"{s['pinned']} values are pinned by zero-copy views (get(copy=False)) and "
                "hold their memory until those views are released"
            )
        for spec in self._tiers:
            if spec.kind == "file" and spec.path:
                with contextlib.suppress(OSError):
                    free = _fs_free(spec.path)
                    if free < 4 << 20:
                        reasons.append(
                            f"no space left on the filesystem of {spec.path!r} (ENOSPC, "
                            f"{free} bytes free) and nothing more could be evicted from it"
                        )
        return ": " + "; ".join(reasons) if reasons else ""

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __delitem__(self, key: Any) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        try:
            found: bool = _fast.contains(self._handle, key)
        except TypeError:  # a key of a type no key has: not here
            hash(key)  # an unhashable key raises TypeError, as in a dict
            return False
        return found

    def __len__(self) -> int:
        return _b.cache_count(self._h)

    def __iter__(self) -> Iterator[Any]:
        """The keys, read from the native index in chunks as iteration goes (the first comes
        at once, whatever the size). Keys set or removed meanwhile may or may not be seen;
        none is seen twice."""
        cursor = _b.new_cursor()
        seen: set[tuple[int, bytes]] = set()
        while True:
            chunk = _b.cache_keys_from(self._h, cursor)
            for tag, data in chunk:
                if (tag, data) not in seen:
                    seen.add((tag, data))
                    yield decode_key(tag, data)
            if cursor[0] == 0:
                return

    def __eq__(self, other: object) -> bool:
        """Equal to a mapping with the same keys and values. Compares the lengths first, then
        looks other's keys up here one by one, stopping at the first difference."""
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        for key, value in other.items():
            try:
                mine = self.get(key, _MISSING)
            except CacheClosedError:
                raise
            except (TypeError, ValueError):  # a key this cache cannot hold: not here
                return False
            if mine is _MISSING or not mine == value:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dict

    def items(self) -> ItemsView[Any, Any]:
        return _LiveItems(self)

    def values(self) -> ValuesView[Any]:
        return _LiveValues(self)

    # ---- more of the mapping API ----

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove key and return its value (one native step: no other thread sees it half
        done), else default, else KeyError."""
        kt, kb = encode_key(key)
        got = _b.cache_take(self._h, kt, kb)
        if got is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return self._loads(got[0], got[1])

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """The value of key; if absent, store default and return it. The insertion happens
        only if no other thread stored the key first (then its value is returned)."""
        kt, kb = encode_key(key)
        try:
            vt, vb = self._dumps(default)
        except TypeError:  # a default that cannot be stored is fine while the key is present
            value = self.get(key, _MISSING)
            if value is _MISSING:
                raise
            return value
        while True:
            rc = _b.cache_add(self._h, kt, kb, vt, vb, 0.0)
            if rc == 1:
                return default
            if rc < 0:
                raise self._set_error(rc, key, default)
            value = self.get(key, _MISSING)
            if value is not _MISSING:
                return value
            # removed by another thread between the two steps: try again

    def delete(self, key: Any) -> bool:
        """Remove key; True if it was there."""
        removed: bool = _fast.delete(self._handle, key)
        return removed

    def clear(self) -> None:
        _b.cache_clear(self._h)

    def get_many(self, keys: Iterable[Any], *, copy: bool = True) -> dict[Any, Any]:
        """The keys found, with their values: one native call for the whole batch."""
        found: dict[Any, Any] = _fast.get_many(self._handle, list(keys), copy, self._reader)
        return found

    def set_many(
        self, mapping: Mapping[Any, Any] | Iterable[tuple[Any, Any]], ttl: float | None = None
    ) -> None:
        """Store every pair in one native call (values the fast path cannot encode take one
        more call each). A failure raises after the pairs before it were stored; the failed
        key keeps its previous value and the pairs after it are not stored."""
        pairs = [
            tuple(pair) for pair in (mapping.items() if isinstance(mapping, Mapping) else mapping)
        ]
        seconds = 0.0 if ttl is None else _ttl_seconds(ttl)
        done = 0
        while done < len(pairs):
            results = _fast.set_many(self._handle, pairs[done:] if done else pairs, seconds)
            done += len(results)
            rc = results[-1]
            if rc is NotImplemented:  # the fast path stopped at a pair Python encodes
                key, value = pairs[done - 1]
                rc = self._set_slow(key, value, seconds)
            if rc:
                key, value = pairs[done - 1]
                raise self._set_error(rc, key, value)

    def delete_many(self, keys: Iterable[Any]) -> int:
        """Remove the keys in one native call; returns how many were there."""
        removed: int = _fast.delete_many(self._handle, list(keys))
        return removed

    def touch(self, key: Any, ttl: float | None = None) -> bool:
        """Give key a new ttl (None: never expires). False if key is absent."""
        kt, kb = encode_key(key)
        return _b.cache_touch(self._h, kt, kb, _ttl_seconds(ttl))

    def expire(self) -> int:
        """Remove every expired entry now; returns how many."""
        return _b.cache_expire(self._h)

    # ---- maintenance ----

    def compact(self, purge: bool = True) -> int:
        """Move entries with defrag_reallocate to free sparsely used pages, then (purge)
        return free pages to the system. Returns the number of blocks moved. Runs in chunks
        so that other threads get the cache between them."""
        # One pass frees most sparse pages; entries moved into the holes it left can make a
        # second worthwhile. Stop when a pass moves under 1% of the entries (at most 4).
        moved = 0
        for _ in range(4):
            step = _b.cache_compact(self._h)
            moved += step
            if step * 100 <= len(self):
                break
        if purge:
            for kind in self._native.kinds:
                if not kind.closed:
                    kind.purge()
        return moved

    def stats(self) -> dict[str, Any]:
        """Counters and sizes: hits, misses, hit_ratio, items, bytes, evictions, promotions,
        demotions, index_bytes and index_tier, and per tier its budget, used bytes (real
        usable sizes of everything the tier holds), value bytes, items, and dram_bytes with
        dram_bytes_per_item: the first tier's bytes its items cost (a lower tier's items:
        their share of the index when it is on the first tier)."""
        s = _b.cache_stats(self._h)
        lookups = s["hits"] + s["misses"]
        s["hit_ratio"] = s["hits"] / lookups if lookups else 0.0
        s["meta_bytes_per_item"] = s["meta_bytes"] / s["items"] if s["items"] else 0.0
        for tier, spec, kind in zip(s["tiers"], self._tiers, self._native.kinds):
            tier["dram_bytes_per_item"] = (
                tier["dram_bytes"] / tier["items"] if tier["items"] else 0.0
            )
            tier["name"] = spec.label
            tier["kind"] = kind.name
            if spec.path:
                tier["path"] = spec.path
        s["serializer"] = self._serializer.name
        return s

    def check(self) -> None:
        """Verify every invariant of the native cache; raise CacheCorruptError if one fails."""
        problem = _b.cache_check(self._h)
        if problem:
            raise CacheCorruptError(f"cache invariant broken: {problem}")

    def memoize(
        self,
        ttl: float | None = None,
        typed: bool = False,
        *,
        key: Callable[..., Any] | None = None,
        name: str | None = None,
    ) -> Callable[[F], F]:
        """Decorator caching a function's results here, like functools.lru_cache: each
        decorated function has its own results (name= shares them on purpose), methods
        and async functions work, concurrent callers of one key compute it once. Also usable
        bare, as ``@cache.memoize``. See tiercache.memoize."""
        from tiercache.memoize import memoize

        if callable(ttl):  # @cache.memoize without parentheses
            return memoize(self)(ttl)
        return memoize(self, ttl=ttl, typed=typed, key=key, name=name)

    # ---- life cycle ----

    @property
    def closed(self) -> bool:
        return self._native.closed

    def close(self) -> None:
        """Free every entry; later calls raise CacheClosedError. Zero-copy views already
        handed out stay valid. Idempotent."""
        if self._compactor is not None:
            self._compactor.stop()
        self._native.close()

    def __enter__(self) -> TierCache:
        if self.closed:
            raise CacheClosedError("cannot enter a closed cache: it was closed")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError("a TierCache cannot be pickled: its memory belongs to this process")

    def __repr__(self) -> str:
        tiers = ", ".join(f"{t.label}={t.mb:g}MiB" for t in self._tiers)
        if self.closed:
            return f"<TierCache {tiers} (closed)>"
        return f"<TierCache {tiers} items={len(self)}>"


class _LiveItems(ItemsView):
    """items() over a key snapshot, skipping keys that went away meanwhile."""

    _mapping: TierCache

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for key in self._mapping:
            value = self._mapping.get(key, _MISSING)
            if value is not _MISSING:
                yield key, value


class _LiveValues(ValuesView):
    _mapping: TierCache

    def __iter__(self) -> Iterator[Any]:
        for _, value in _LiveItems(self._mapping):
            yield value


class _Compactor:
    """Calls compact() every interval seconds on a daemon thread until the cache closes."""

    def __init__(self, cache: TierCache, interval: float) -> None:
        self._stop = threading.Event()
        ref = weakref.ref(cache)

        def run() -> None:
            while not self._stop.wait(interval):
                target = ref()
                if target is None or target.closed:
                    return
                target.compact()
                del target

        self._thread = threading.Thread(target=run, name="tiercache-compactor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
