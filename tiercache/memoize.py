"""memoize: cache a function's results in a TierCache, as functools.lru_cache users expect.

The cache key is (function's qualified name, a generation, the arguments) packed with
msgpack, so arguments may be anything msgpack encodes (numbers, strings, bytes, None, lists,
dicts, tuples). ``typed=True`` keeps arguments of different types apart (``f(3)`` and
``f(3.0)``). ``cache_clear()`` starts a new generation: old results are never read again and
age out of the cache. Results are stored with the cache's serializer.
"""

from __future__ import annotations

import functools
import threading
import warnings
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, TypeVar

import msgpack

if TYPE_CHECKING:
    from tiercache.cache import TierCache

__all__ = ["CacheInfo", "memoize"]

F = TypeVar("F", bound=Callable[..., Any])
_MISSING: Any = object()


class CacheInfo(NamedTuple):
    """As functools' CacheInfo: maxsize is None (the cache's budget bounds it) and currsize
    counts the results this function stored that are still cached."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


def _pack_arg(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return [type(obj).__name__, sorted(map(repr, obj))]
    raise TypeError(f"memoize cannot use an argument of type {type(obj).__name__!r} in a key")


def memoize(cache: TierCache, ttl: float | None = None, typed: bool = False) -> Callable[[F], F]:
    """Decorator: remember f's results in cache for ttl seconds (None: until evicted)."""

    def decorate(func: F) -> F:
        name = f"{func.__module__}.{func.__qualname__}"
        lock = threading.Lock()
        state = {"hits": 0, "misses": 0, "generation": 0}
        stored: set[bytes] = set()

        def make_key(args: tuple, kwargs: dict) -> bytes:
            parts: list[Any] = [name, state["generation"], list(args), sorted(kwargs.items())]
            if typed:
                parts.append([type(a).__qualname__ for a in args])
                parts.append([type(v).__qualname__ for _, v in sorted(kwargs.items())])
            return msgpack.packb(parts, use_bin_type=True, default=_pack_arg)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = make_key(args, kwargs)
            value = cache.get(key, _MISSING)
            if value is not _MISSING:
                with lock:
                    state["hits"] += 1
                return value[0]
            with lock:
                state["misses"] += 1
            result = func(*args, **kwargs)
            try:
                cache.set(key, [result], ttl)  # boxed: None is a result like any other
            except (TypeError, ValueError) as exc:  # not serializable, or too large
                warnings.warn(f"memoize: result of {name} not cached: {exc}", stacklevel=2)
                return result
            with lock:
                stored.add(key)
            return result

        def cache_info() -> CacheInfo:
            with lock:
                keys = list(stored)
                hits, misses = state["hits"], state["misses"]
            present = [k for k in keys if k in cache]
            with lock:
                stored.intersection_update(present)
            return CacheInfo(hits, misses, None, len(present))

        def cache_clear() -> None:
            with lock:
                for key in stored:
                    cache.delete(key)
                stored.clear()
                state["generation"] += 1
                state["hits"] = state["misses"] = 0

        wrapper.cache_info = cache_info  # type: ignore[attr-defined]
        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
