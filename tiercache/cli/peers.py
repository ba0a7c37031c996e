"""The stores a benchmark runs against: tiercache itself and its peers.

Every store offers the same three calls to the replay loop, bound once per thread:
``get(key) -> bytes | None``, ``put(key, value)`` and ``put_ttl(key, value, seconds|None)``.
Peers that hold a size bound get the same total capacity as tiercache (DRAM + capacity tier),
so that hit ratios compare; ``note`` says how each one is set up.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from tiercache.cli.servers import PeerUnavailable, Server, start_memcached, start_redis

PEERS = ("dict", "cachetools", "diskcache", "redis", "memcached")
MiB = 1 << 20
BATCH = 1000  # requests per pipeline / transaction / set_many when prepopulating

Get = Callable[[str], Any]
Put = Callable[[str, bytes], Any]
PutTtl = Callable[[str, bytes, Any], Any]


@dataclass
class CacheConfig:
    """tiercache's knobs, and the capacity every bounded peer gets too."""

    dram_mb: float = 64
    pmem_dir: str | None = None  # None: DRAM only
    pmem_mb: float | None = None  # default 8 x dram_mb
    policy: str = "s3fifo"
    promote_hits: int = 2
    large_value_bytes: int = 64 * 1024

    @property
    def capacity_mb(self) -> float:
        if self.pmem_dir is None:
            return self.dram_mb
        return self.dram_mb + (self.pmem_mb if self.pmem_mb is not None else 8 * self.dram_mb)


@dataclass
class Store:
    """A store under test. ``bind()`` returns (get, put, put_ttl) for one thread."""

    name: str
    note: str
    bind: Callable[[], tuple[Get, Put, PutTtl]]
    closers: list[Callable[[], None]] = field(default_factory=list)
    cache: Any = None  # the TierCache, for its stats
    # Untimed prepopulate in bulk (pipelines, transactions): (keys, values, ttls or None).
    bulk_put: Callable[[list[str], list[Any], list[Any] | None], None] | None = None

    def close(self) -> None:
        while self.closers:
            # a peer that fails to close must not hide the results
            with contextlib.suppress(Exception):
                self.closers.pop()()


def scratch_dir(tag: str, base: str | None = None) -> str:
    """A fresh private directory in $TIERCACHE_SCRATCH_DIR, else on /dev/shm when there is
    one (removed by the store, and on Ctrl-C or SIGTERM)."""
    if base is None:
        base = os.environ.get("TIERCACHE_SCRATCH_DIR") or (
            "/dev/shm" if os.path.isdir("/dev/shm") else None
        )
    return tempfile.mkdtemp(prefix=f"tiercache-bench-{tag}-", dir=base)


def open_tiercache(cfg: CacheConfig, name: str = "tiercache") -> Store:
    from tiercache import TierCache

    cache = TierCache(
        dram_mb=cfg.dram_mb,
        pmem_dir=cfg.pmem_dir,
        pmem_mb=cfg.pmem_mb,
        promote_hits=cfg.promote_hits,
        large_value_bytes=cfg.large_value_bytes,
    )
    if cfg.pmem_dir is None:
        note = f"DRAM {cfg.dram_mb:g} MiB, {cfg.policy}"
    else:
        note = f"DRAM {cfg.dram_mb:g} MiB + file tier {cfg.capacity_mb - cfg.dram_mb:g} MiB"
        note += f" in {cfg.pmem_dir}, {cfg.policy}"
    get, put = cache.get, cache.set
    store = Store(name, note, lambda: (get, put, put), cache=cache)
    store.closers.append(cache.close)
    return store


def _close_all(clients: list[Any]) -> None:
    """Close every client made so far (bind() adds one per thread, after the store is made)."""
    for c in clients:
        c.close()


def _locked(lock: threading.Lock, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        with lock:
            return fn(*args)

    return call


def open_dict(cfg: CacheConfig, threads: int, expiring: bool) -> Store:
    d: dict[str, bytes] = {}

    def put_ttl(k: str, v: bytes, _ttl: Any) -> None:
        d[k] = v

    return Store("dict", "unbounded, no expiry", lambda: (d.get, d.__setitem__, put_ttl))


def open_cachetools(cfg: CacheConfig, threads: int, expiring: bool) -> Store:
    try:
        import cachetools
    except ImportError as exc:
        raise PeerUnavailable("cachetools is not installed (pip install cachetools)") from exc
    maxsize = int(cfg.capacity_mb * MiB)
    pending = threading.local()

    def ttu(_key: Any, _value: Any, now: float) -> float:
        ttl = getattr(pending, "ttl", None)
        return math.inf if ttl is None else now + ttl

    cache: cachetools.Cache[Any, Any]
    if expiring:
        cache = cachetools.TLRUCache(maxsize=maxsize, ttu=ttu, getsizeof=len)
    else:  # the plain LRU when nothing expires: TLRU's expiry bookkeeping would cost it
        cache = cachetools.LRUCache(maxsize=maxsize, getsizeof=len)
    lock = threading.Lock()

    def put_ttl(k: str, v: bytes, ttl: Any) -> None:
        pending.ttl = ttl
        cache[k] = v

    get, put = cache.get, cache.__setitem__
    if threads > 1:  # cachetools caches are not thread-safe: guard them as its docs say
        get, put, put_ttl = _locked(lock, get), _locked(lock, put), _locked(lock, put_ttl)
    note = f"{type(cache).__name__}, values counted by len() up to {cfg.capacity_mb:g} MiB"
    return Store("cachetools", note, lambda: (get, put, put_ttl))


def open_diskcache(cfg: CacheConfig, threads: int, expiring: bool) -> Store:
    try:
        import diskcache
    except ImportError as exc:
        raise PeerUnavailable("diskcache is not installed (pip install diskcache)") from exc
    directory = scratch_dir("diskcache")
    cache = diskcache.Cache(directory, size_limit=int(cfg.capacity_mb * MiB))
    store = Store(
        "diskcache",
        f"SQLite + files in {os.path.dirname(directory)}, {cfg.capacity_mb:g} MiB",
        lambda: (cache.get, cache.set, cache.set),
    )
    store.closers += [lambda: shutil.rmtree(directory, ignore_errors=True), cache.close]

    def bulk_put(keys: list[str], values: list[Any], ttls: list[Any] | None) -> None:
        for lo in range(0, len(keys), BATCH):
            with cache.transact():
                for i in range(lo, min(lo + BATCH, len(keys))):
                    cache.set(keys[i], values[i], None if ttls is None else ttls[i])

    store.bulk_put = bulk_put
    return store


def open_redis(cfg: CacheConfig, threads: int, expiring: bool) -> Store:
    if importlib.util.find_spec("redis") is None:
        raise PeerUnavailable("redis (the Python client) is not installed (pip install redis)")
    server = start_redis(math.ceil(cfg.capacity_mb))
    try:
        return _open_redis_on(server, cfg)
    except BaseException:  # the store never owned the server: stop it here
        server.stop()
        raise


def open_memcached(cfg: CacheConfig, threads: int, max_item: int) -> Store:
    if importlib.util.find_spec("pymemcache") is None:
        raise PeerUnavailable("pymemcache is not installed (pip install pymemcache)")
    server: Server = start_memcached(math.ceil(cfg.capacity_mb), max_item)
    try:
        return _open_memcached_on(server, cfg)
    except BaseException:  # the store never owned the server: stop it here
        server.stop()
        raise


def open_peer(name: str, cfg: CacheConfig, threads: int, max_item: int, expiring: bool) -> Store:
    """Open peer `name`; PeerUnavailable says why it cannot run here."""
    if name == "dict":
        return open_dict(cfg, threads, expiring)
    if name == "cachetools":
        return open_cachetools(cfg, threads, expiring)
    if name == "diskcache":
        return open_diskcache(cfg, threads, expiring)
    if name == "redis":
        return open_redis(cfg, threads, expiring)
    if name == "memcached":
        return open_memcached(cfg, threads, max_item)
    raise ValueError(f"unknown peer {name!r}")


def _open_redis_on(server: Server, cfg: CacheConfig) -> Store:
    import redis

    clients: list[Any] = []

    def client() -> Any:
        c = redis.Redis(unix_socket_path=server.socket)
        clients.append(c)
        return c

    server.wait_ready(lambda: client().ping())

    def bind() -> tuple[Get, Put, PutTtl]:
        c = client()
        return c.get, c.set, c.set

    store = Store("redis", f"redis-server, unix socket, allkeys-lru {cfg.capacity_mb:g} MiB", bind)
    store.closers += [server.stop, functools.partial(_close_all, clients)]

    def bulk_put(keys: list[str], values: list[Any], ttls: list[Any] | None) -> None:
        c = client()
        for lo in range(0, len(keys), BATCH):
            pipe = c.pipeline(transaction=False)
            for i in range(lo, min(lo + BATCH, len(keys))):
                pipe.set(keys[i], values[i], None if ttls is None else ttls[i])
            pipe.execute()

    store.bulk_put = bulk_put
    return store


def _open_memcached_on(server: Server, cfg: CacheConfig) -> Store:
    from pymemcache.client.base import Client

    clients: list[Any] = []

    def client() -> Any:
        # default_noreply=False: a set waits for STORED, as the other stores' sets complete
        c = Client(server.socket, default_noreply=False, timeout=10)
        clients.append(c)
        return c

    server.wait_ready(lambda: client().version())

    def bind() -> tuple[Get, Put, PutTtl]:
        c = client()
        cset = c.set

        def put_ttl(k: str, v: bytes, ttl: Any) -> Any:
            return cset(k, v, ttl or 0)

        return c.get, cset, put_ttl

    store = Store("memcached", f"memcached, unix socket, {cfg.capacity_mb:g} MiB", bind)
    store.closers += [server.stop, functools.partial(_close_all, clients)]

    def bulk_put(keys: list[str], values: list[Any], ttls: list[Any] | None) -> None:
        c = client()
        for lo in range(0, len(keys), BATCH):
            hi = min(lo + BATCH, len(keys))
            if ttls is None:
                c.set_many(dict(zip(keys[lo:hi], values[lo:hi])), noreply=False)
            else:
                for i in range(lo, hi):
                    c.set(keys[i], values[i], ttls[i] or 0)

    store.bulk_put = bulk_put
    return store
