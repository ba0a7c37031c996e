"""Caches and keys shared by bench_ops.py (pytest-benchmark) and run.py (the runner).

Every implementation is built the same way: 10,000 keys of 16 characters ("key:000000000042"),
each set to the same 100-byte value, so that the timed loops run on warmed caches that hold
every key. File-backed stores (tiercache's capacity tier, diskcache) live in a private
temporary directory under /dev/shm, removed by close().
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cachetools
import diskcache

from tiercache import TierCache

N_KEYS = 10_000
SMALL = 100  # bytes: the "100 B value" of the targets
LARGE = 64 * 1024  # bytes: the "64 KiB value" read with get(copy=False)
SHM = "/dev/shm"


def make_keys(n: int = N_KEYS, prefix: str = "key:") -> list[str]:
    """n distinct 16-character str keys (16 bytes in UTF-8)."""
    width = 16 - len(prefix)
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def shm_dir(tag: str) -> str:
    """A fresh private directory under /dev/shm (the caller removes it)."""
    return tempfile.mkdtemp(prefix=f"tiercache-bench-{tag}-", dir=SHM)


@dataclass
class Impl:
    """A cache under test: the object, a label, and how to release it."""

    name: str
    cache: Any
    dirs: list[str] = field(default_factory=list)
    closer: Callable[[], None] | None = None

    def close(self) -> None:
        if self.closer is not None:
            self.closer()
            self.closer = None
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs = []


def tiercache_dram(dram_mb: float = 64, **kw: Any) -> Impl:
    c = TierCache(dram_mb=dram_mb, **kw)
    return Impl("tiercache dram", c, closer=c.close)


def tiercache_shm(dram_mb: float = 64, pmem_mb: float = 256, **kw: Any) -> Impl:
    d = shm_dir("tier")
    try:
        c = TierCache(dram_mb=dram_mb, pmem_dir=d, pmem_mb=pmem_mb, **kw)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return Impl("tiercache dram+shm", c, [d], c.close)


def cachetools_lru(maxsize: int = 1 << 20) -> Impl:
    return Impl("cachetools LRUCache", cachetools.LRUCache(maxsize=maxsize))


def plain_dict() -> Impl:
    return Impl("dict", {})


def diskcache_shm() -> Impl:
    d = shm_dir("diskcache")
    c = diskcache.Cache(d)
    return Impl("diskcache /dev/shm", c, [d], c.close)


#: The implementations of the per-operation comparison, in table order.
FACTORIES: dict[str, Callable[[], Impl]] = {
    "tiercache_dram": tiercache_dram,
    "tiercache_shm": tiercache_shm,
    "cachetools": cachetools_lru,
    "dict": plain_dict,
    "diskcache": diskcache_shm,
}


def fill(cache: Any, keys: list[str], value: bytes) -> None:
    for k in keys:
        cache[k] = value


def build(name: str, keys: list[str], value: bytes) -> Impl:
    """An implementation holding every key set to value, each read once (warm)."""
    impl = FACTORIES[name]()
    try:
        fill(impl.cache, keys, value)
        get = impl.cache.get
        for k in keys:
            if get(k) is None:
                raise RuntimeError(f"{impl.name} lost {k!r} right after the fill")
    except BaseException:
        impl.close()
        raise
    return impl


# ---- the timed loops: one call runs the operation once per key ----


def get_loop(cache: Any, keys: list[str]) -> Callable[[], None]:
    def run() -> None:
        get = cache.get
        for k in keys:
            get(k)

    return run


def get_nocopy_loop(cache: Any, keys: list[str]) -> Callable[[], None]:
    """TierCache.get(key, copy=False): a pinned read-only view, dropped at once (unpin)."""

    def run() -> None:
        get = cache.get
        for k in keys:
            get(k, copy=False)

    return run


def set_loop(cache: Any, keys: list[str], value: bytes) -> Callable[[], None]:
    """cache[k] = value: the MutableMapping spelling every implementation shares."""

    def run() -> None:
        c = cache
        v = value
        for k in keys:
            c[k] = v

    return run


def empty_loop(keys: list[str]) -> Callable[[], None]:
    """The loop alone, to subtract from the others."""

    def run() -> None:
        for _k in keys:
            pass

    return run
