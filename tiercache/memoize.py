"""memoize: cache a function's results in a TierCache, as functools.lru_cache users expect.

Which results a call may read:

- Each decoration has its own namespace: two function objects never share results (two
  lambdas, closures made by one factory, a function redefined after a reload), and
  ``cache_clear()`` moves the function to a fresh namespace. ``name="..."`` names the
  namespace instead, for results shared on purpose: every function decorated with that name,
  in this process or in another one using the same cache, reads the others' results.
- Within a namespace the key is the arguments, packed with msgpack in a canonical form in
  which arguments that are equal as dict keys are equal: as with ``functools.lru_cache``,
  ``f(3)``, ``f(3.0)`` and ``f(True)`` share one result, and so do ``f((1, 2))`` and
  ``f((1.0, 2))``. ``typed=True`` keeps arguments of different types apart (the types of
  the top-level arguments, as lru_cache). Arguments may be None, bools, numbers (numpy's
  too), str, bytes, tuples, lists, dicts, sets and frozensets; ``key=`` computes the key from
  the arguments for anything else (``key=lambda user: user.id``). Keyword arguments are
  matched by name: ``f(a=1, b=2)`` and ``f(b=2, a=1)`` share a result. Keys longer than
  1 KiB are replaced by their BLAKE2b-256 digest.
- Methods: a memoized function defined in a class keys its results by the instance without
  encoding it (as ``cachetools.cachedmethod`` keeps one cache per instance): each instance
  reads only its own results, which become unreachable when it is collected and age out of
  the cache. With ``key=``, the key function receives ``self`` too and decides
  (``key=lambda self, x: (self.user_id, x)`` shares results between equal users).
- ``async def`` functions are memoized as coroutine functions: the awaited result is cached.

Stampede protection: concurrent callers of one key (threads, or tasks of any event loop)
compute it once; the others wait for that result. If the computing call raises or is
cancelled, its exception is its own: one of the waiters computes instead. A call that
re-enters its own key (recursion) computes without waiting.

Results are boxed (``None`` is a result like any other) and stored with the cache's
serializer; a result the cache cannot store (not serializable, too large) is returned and not
cached, with a RuntimeWarning. ``cache_info()`` and ``cache_clear()`` scan the cache's keys
(O(items in the cache)); ``cache_parameters()`` is a dict like functools'.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import inspect
import numbers
import os
import threading
import warnings
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, TypeVar

import msgpack

if TYPE_CHECKING:
    from tiercache.cache import TierCache

__all__ = ["CacheInfo", "memoize"]

F = TypeVar("F", bound=Callable[..., Any])
_MISSING: Any = object()

#: First element of every memoize key: (NAMESPACE, namespace, packed arguments).
NAMESPACE = "tiercache.memoize"
#: Packed arguments longer than this are replaced by their digest (keys stay small).
_MAX_RAW_KEY = 1024
_EXT_TUPLE, _EXT_SET, _EXT_DICT, _EXT_BIGINT, _EXT_FRACTION = 1, 2, 3, 4, 5


class CacheInfo(NamedTuple):
    """As functools' CacheInfo: maxsize is None (the cache's budget bounds it) and currsize
    counts the results of this function that are still in the cache."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


# ---- canonical keys ----


def _packb(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True, strict_types=True)


def _int(value: int) -> Any:
    if -(1 << 63) <= value < 1 << 64:
        return value
    return msgpack.ExtType(_EXT_BIGINT, str(value).encode())


def _float(value: float) -> Any:
    return _int(int(value)) if value.is_integer() else value


def _canon(obj: Any) -> Any:
    """A msgpack-encodable form of obj such that objects equal as dict keys (3 == 3.0 ==
    True, a tuple and a namedtuple of equal items) have equal forms and unequal ones differ.
    TypeError for a type it does not know."""
    cls = type(obj)
    if cls is str or cls is bytes or obj is None:
        return obj
    if cls is int:
        return _int(obj)
    if cls is float:
        return _float(obj)
    if isinstance(obj, numbers.Integral):  # bool, IntEnum, numpy integers
        return _int(int(obj))
    if isinstance(obj, float):
        return _float(float(obj))
    if isinstance(obj, numbers.Rational):
        if float(obj) == obj:
            return _float(float(obj))
        return msgpack.ExtType(
            _EXT_FRACTION, _packb([_int(int(obj.numerator)), _int(int(obj.denominator))])
        )
    if isinstance(obj, numbers.Real) and float(obj) == obj:  # numpy.float32, ...
        return _float(float(obj))
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    if isinstance(obj, tuple):
        return msgpack.ExtType(_EXT_TUPLE, _packb([_canon(x) for x in obj]))
    if isinstance(obj, list):
        return [_canon(x) for x in obj]
    if isinstance(obj, (set, frozenset)):
        return msgpack.ExtType(_EXT_SET, _packb(sorted(_packb(_canon(x)) for x in obj)))
    if isinstance(obj, dict):
        pairs = sorted([_packb(_canon(k)), _packb(_canon(v))] for k, v in obj.items())
        return msgpack.ExtType(_EXT_DICT, _packb(pairs))
    raise TypeError(
        f"memoize cannot use an argument of type {cls.__name__!r} in a key; "
        "give key= a function of the arguments that returns one it can use"
    )


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _pack_call(args: tuple, kwargs: dict[str, Any], typed: bool) -> bytes:
    named = sorted(kwargs.items())
    parts: list[Any] = [[_canon(a) for a in args], [[k, _canon(v)] for k, v in named]]
    if typed:
        parts.append([_type_name(a) for a in args])
        parts.append([_type_name(v) for _, v in named])
    return _packb(parts)


def _digest(material: bytes) -> bytes:
    if len(material) <= _MAX_RAW_KEY:
        return material
    # b"\0" cannot start a packed msgpack array: a digest never equals raw material.
    return b"\0" + hashlib.blake2b(material, digest_size=32).digest()


def _new_token() -> str:
    return os.urandom(12).hex()


# ---- instances of memoized methods ----

_instance_lock = threading.Lock()
_instance_tokens: dict[int, str] = {}


def _instance_token(obj: Any) -> str:
    """A random token for obj, the same while it lives; forgotten when it is collected, so a
    later object at the same address gets a new one."""
    oid = id(obj)
    token = _instance_tokens.get(oid)
    if token is not None:
        return token
    with _instance_lock:
        token = _instance_tokens.get(oid)
        if token is None:
            try:
                weakref.finalize(obj, _instance_tokens.pop, oid, None)
            except TypeError:
                raise TypeError(
                    f"memoize: instances of {type(obj).__name__!r} cannot be weakly referenced, "
                    "so a method's results cannot be kept per instance; give key= a function "
                    "of (self, *args) that says what identifies a call"
                ) from None
            token = _instance_tokens[oid] = _new_token()
        return token


# ---- the memoized function ----


def _check_ttl(ttl: Any) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds or None, not {type(ttl).__name__}")
    if not 0 < ttl < float("inf"):
        raise ValueError(f"ttl must be > 0 seconds and finite (or None), not {ttl!r}")
    return ttl


def _mark_coroutine_function(obj: Any) -> None:
    """Make inspect/asyncio.iscoroutinefunction(obj) true for a callable object."""
    if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
        inspect.markcoroutinefunction(obj)
    obj._is_coroutine = getattr(asyncio.coroutines, "_is_coroutine", None)


class _Memoized:
    """The decorated function: a callable with functools' cache API that binds like a
    function when it is a class attribute (see _BoundMemoized)."""

    __wrapped__: Callable[..., Any]  # set by functools.update_wrapper

    def __init__(
        self,
        cache: TierCache,
        func: Callable[..., Any],
        ttl: float | None,
        typed: bool,
        key: Callable[..., Any] | None,
        name: str | None,
    ) -> None:
        self._cache = cache
        self._func = func
        self._ttl = ttl
        self._typed = typed
        self._key = key
        self._name = name
        self._is_async = inspect.iscoroutinefunction(func)
        where = f"{getattr(func, '__module__', None)}.{getattr(func, '__qualname__', func)!s}"
        self._where = where
        self._namespace = f"name:{name}" if name is not None else f"{where}#{_new_token()}"
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._inflight: dict[Any, _Flight] = {}
        functools.update_wrapper(self, func)
        if self._is_async:
            _mark_coroutine_function(self)

    # ---- the functools API ----

    @property
    def cache(self) -> TierCache:
        """The TierCache holding the results."""
        return self._cache

    def cache_info(self) -> CacheInfo:
        """Hits, misses, maxsize (None) and the results still cached (a scan of the keys)."""
        with self._lock:
            hits, misses, namespace = self._hits, self._misses, self._namespace
        return CacheInfo(hits, misses, None, sum(1 for _ in self._keys_of(namespace)))

    def cache_clear(self) -> None:
        """Forget every result and reset the counters. Without name=, calls from now on use a
        fresh namespace (a call still computing stores where no later call looks); with
        name=, the results stored under the name by anyone are deleted."""
        with self._lock:
            old = self._namespace
            if self._name is None:
                self._namespace = f"{self._where}#{_new_token()}"
            self._hits = self._misses = 0
        for key in list(self._keys_of(old)):
            self._cache.delete(key)

    def cache_parameters(self) -> dict[str, Any]:
        """As functools: maxsize and typed, plus ttl, name and key."""
        return {
            "maxsize": None,
            "typed": self._typed,
            "ttl": self._ttl,
            "name": self._name,
            "key": self._key,
        }

    def _keys_of(self, namespace: str) -> Iterator[Any]:
        for key in self._cache:
            if type(key) is tuple and len(key) == 3 and key[0] == NAMESPACE and key[1] == namespace:
                yield key

    # ---- calls ----

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return _BoundMemoized(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._invoke(None, args, kwargs)

    def _invoke(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        key = self._make_key(instance, args, kwargs)
        call_args = args if instance is None else (instance, *args)
        if self._is_async:
            return self._call_async(key, call_args, kwargs)
        return self._call_sync(key, call_args, kwargs)

    def __repr__(self) -> str:
        return f"<memoized {self._where} namespace={self._namespace!r}>"

    def _make_key(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> tuple:
        if self._key is not None:
            material = (
                self._key(*args, **kwargs)
                if instance is None
                else self._key(instance, *args, **kwargs)
            )
            packed = _packb(["key", _canon(material)])
        elif instance is None:
            packed = _pack_call(args, kwargs, self._typed)
        else:
            packed = _packb([_instance_token(instance), _pack_call(args, kwargs, self._typed)])
        return (NAMESPACE, self._namespace, _digest(packed))

    def _lookup(self, key: tuple) -> Any:
        boxed = self._cache.get(key, _MISSING)
        return _MISSING if boxed is _MISSING else boxed[0]

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1

    def _store(self, key: tuple, result: Any) -> None:
        try:
            self._cache.set(key, [result], self._ttl)  # boxed: None is a result too
        except (TypeError, ValueError) as exc:  # not serializable, or too large
            if getattr(exc, "code_name", "") == "TC_ERR_CLOSED":
                raise
            warnings.warn(
                f"memoize: result of {self._where} not cached: {exc}", RuntimeWarning, stacklevel=5
            )

    def _join(self, key: tuple, owner: Any) -> tuple[bool, _Flight]:
        """(True, a new flight this caller leads) or (False, the flight to wait for)."""
        with self._lock:
            flight = self._inflight.get(key)
            if flight is None:
                flight = self._inflight[key] = _Flight(owner)
                return True, flight
            return False, flight

    def _land(self, key: tuple, flight: _Flight) -> None:
        flight.finish(False, None)  # no-op when the result was delivered
        with self._lock:
            if self._inflight.get(key) is flight:
                del self._inflight[key]

    def _call_sync(self, key: tuple, args: tuple, kwargs: dict[str, Any]) -> Any:
        value = self._lookup(key)
        if value is not _MISSING:
            self._count(hit=True)
            return value
        me = threading.get_ident()
        while True:
            leader, flight = self._join(key, me)
            if leader:
                break
            if flight.owner == me:  # recursion into the key this thread is computing
                self._count(hit=False)
                return self._func(*args, **kwargs)
            done, result = flight.future.result()
            if done:
                self._count(hit=True)
                value = self._lookup(key)
                return result if value is _MISSING else value
        try:
            value = self._lookup(key)  # stored by a caller that finished meanwhile
            if value is not _MISSING:
                self._count(hit=True)
                flight.finish(True, value)
                return value
            self._count(hit=False)
            result = self._func(*args, **kwargs)
            self._store(key, result)
            flight.finish(True, result)
            return result
        finally:
            self._land(key, flight)

    async def _call_async(self, key: tuple, args: tuple, kwargs: dict[str, Any]) -> Any:
        value = self._lookup(key)
        if value is not _MISSING:
            self._count(hit=True)
            return value
        me = asyncio.current_task()
        while True:
            leader, flight = self._join(key, me)
            if leader:
                break
            if flight.owner is me:
                self._count(hit=False)
                return await self._func(*args, **kwargs)
            # shield: a waiter cancelled must not cancel the flight the others wait for
            done, result = await asyncio.shield(asyncio.wrap_future(flight.future))
            if done:
                self._count(hit=True)
                value = self._lookup(key)
                return result if value is _MISSING else value
        try:
            value = self._lookup(key)
            if value is not _MISSING:
                self._count(hit=True)
                flight.finish(True, value)
                return value
            self._count(hit=False)
            result = await self._func(*args, **kwargs)
            self._store(key, result)
            flight.finish(True, result)
            return result
        finally:
            self._land(key, flight)


class _Flight:
    """One computation in progress: its owner (thread id or task) and a future of
    (True, result), or (False, None) when it failed and a waiter must compute instead."""

    __slots__ = ("future", "owner")

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.future: concurrent.futures.Future[tuple[bool, Any]] = concurrent.futures.Future()

    def finish(self, done: bool, result: Any) -> None:
        if not self.future.done():
            self.future.set_result((done, result))


class _BoundMemoized:
    """A memoized method bound to an instance (what ``obj.method`` returns)."""

    def __init__(self, memo: _Memoized, instance: Any) -> None:
        self.__func__ = memo
        self.__self__ = instance
        self.__wrapped__ = memo.__wrapped__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__func__._invoke(self.__self__, args, kwargs)

    def __getattr__(self, name: str) -> Any:  # cache_info, cache_clear, __name__, ...
        return getattr(self.__func__, name)

    def __repr__(self) -> str:
        return f"<bound memoized {self.__func__._where} of {self.__self__!r}>"


def memoize(
    cache: TierCache,
    ttl: float | None = None,
    typed: bool = False,
    *,
    key: Callable[..., Any] | None = None,
    name: str | None = None,
) -> Callable[[F], F]:
    """Decorator: remember f's results in cache for ttl seconds (None: until evicted).

    typed: keep arguments of different types apart (f(3) and f(3.0)). key: a function of the
    call's arguments (with self for methods) returning the key to use instead of them; not
    with typed. name: a namespace shared on purpose by every function given it (else each
    decorated function has its own). See the module docstring."""
    ttl = _check_ttl(ttl)
    if not isinstance(typed, bool):
        raise TypeError(f"typed must be a bool, not {type(typed).__name__}")
    if key is not None and not callable(key):
        raise TypeError(f"key must be a function of the arguments, not {type(key).__name__}")
    if key is not None and typed:
        raise ValueError("give key= or typed=True, not both: key= decides what a key holds")
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be a non-empty str, not {name!r}")

    def decorate(func: F) -> F:
        if not callable(func):
            raise TypeError(f"memoize decorates functions, not {type(func).__name__}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError("memoize cannot cache a generator's items: return a list instead")
        return _Memoized(cache, func, ttl, typed, key, name)  # type: ignore[return-value]

    return decorate
