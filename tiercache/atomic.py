"""TierCache's operations that read and write in one native step (a mixin of TierCache).

Each method is a single call into the native cache, done under the cache's mutex: no other
thread or view sees it half done, and concurrent callers never lose an update.
"""

from __future__ import annotations

import time
from typing import Any

from tiercache import _bindings as _b
from tiercache._fastpath import CacheHandle
from tiercache.errors import NotANumberError, NumberRangeError
from tiercache.serde import (
    INT_MAX,
    INT_MIN,
    VALUE_BYTEARRAY,
    VALUE_BYTES,
    VALUE_INT,
    VALUE_STR,
    decode_key,
)

__all__ = ["AtomicOps"]

_fast = _b.cache_fast_path()
_GET_PEEK, _GET_CAS = _b.lib.TC_GET_PEEK, _b.lib.TC_GET_CAS


def _ttl(ttl: float | None) -> float:
    from tiercache.cache import _ttl_seconds  # (one rule for ttl arguments, in cache.py)

    return _ttl_seconds(ttl)


def _delta(delta: Any) -> int:
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise TypeError(f"delta must be an int, not {type(delta).__name__}")
    if not INT_MIN <= delta <= INT_MAX:
        raise NumberRangeError(f"delta {delta} is outside the signed 64-bit range")
    return delta


def _joinable(data: Any) -> tuple[int, Any]:
    """The value tag and bytes of what append/prepend add."""
    if isinstance(data, str):
        return VALUE_STR, data.encode("utf-8", "surrogatepass")
    if isinstance(data, bytearray):
        return VALUE_BYTEARRAY, data
    if isinstance(data, (bytes, memoryview)):
        return VALUE_BYTES, data
    raise TypeError(f"append and prepend take bytes, bytearray or str, not {type(data).__name__}")


class AtomicOps:
    """Conditional stores, compare-and-set, counters, peeks (mixed into TierCache)."""

    # Provided by TierCache: the native pointer (for _bindings) and handle (for the fast path), the
    # serializer's two functions, and the exception for a failed store.
    _h: Any
    _handle: CacheHandle
    _dumps: Any
    _loads: Any
    _set_error: Any

    def _store(self, mode: str, key: Any, value: Any, ttl: float | None, cas: int = 0) -> int:
        seconds, code = _ttl(ttl), _b.STORE_MODES[mode]
        rc = _fast.store(self._handle, key, value, -1, seconds, code, cas)
        if rc is NotImplemented:
            vt, vb = self._dumps(value)
            rc = _fast.store(self._handle, key, vb, vt, seconds, code, cas)
        if rc < 0:
            raise self._set_error(rc, key, value)
        stored: int = rc
        return stored

    def _get_ex(self, key: Any, options: int) -> tuple[int, bytes, int, float] | None:
        got: tuple[int, bytes, int, float] | None = _fast.get_ex(self._handle, key, options)
        return got

    def add(self, key: Any, value: Any, ttl: float | None = None) -> bool:
        """Store value only if key is absent (or expired): True when stored."""
        return self._store("add", key, value, ttl) == _b.STORED

    def replace(self, key: Any, value: Any, ttl: float | None = None) -> bool:
        """Store value only if key is present: True when stored."""
        return self._store("replace", key, value, ttl) == _b.STORED

    def gets(self, key: Any, default: Any = None) -> tuple[Any, int | None]:
        """(value, token) for key, or (default, None) when absent. The token stays the same
        until the item changes; pass it to cas()."""
        got = self._get_ex(key, _GET_CAS)
        if got is None:
            return default, None
        tag, data, token, _left = got
        return self._loads(tag, data), token

    def cas(self, key: Any, value: Any, token: int, ttl: float | None = None) -> bool:
        """Store value only if key still has the item gets() returned token with: True when
        stored; False when the item changed, was removed or expired since."""
        if isinstance(token, bool) or not isinstance(token, int) or not 0 < token < 1 << 64:
            raise TypeError(f"token must be a token from gets(), not {token!r}")
        return self._store("cas", key, value, ttl, token) == _b.STORED

    def incr(self, key: Any, delta: int = 1, default: int | None = None) -> int:
        """Add delta to the int stored under key and return the result, in one step. When
        key is absent: KeyError, or with default, store default + delta. NotANumberError (a
        TypeError) when the value is not an int of the signed 64-bit range, NumberRangeError
        (an OverflowError) when the result would leave it; the value is then unchanged."""
        delta = _delta(delta)
        initial = None
        if default is not None:
            initial = _delta(default) + delta
            if not INT_MIN <= initial <= INT_MAX:
                raise NumberRangeError(f"{default} + {delta} leaves the signed 64-bit range")
        rc, result = _fast.incr(self._handle, key, delta, initial, VALUE_INT)
        if rc == _b.lib.TC_ERR_NOTNUMBER:
            raise NotANumberError(
                f"cannot add to the value under {key!r}: not an int of the signed 64-bit range",
                rc,
            )
        if rc < 0:
            raise _b.cache_error(rc, "incr")
        if rc == 0:
            raise KeyError(key)
        number: int = result
        return number

    def decr(self, key: Any, delta: int = 1, default: int | None = None) -> int:
        """Take delta from the int stored under key (see incr)."""
        return self.incr(key, -_delta(delta), default)

    def _join(self, mode: str, key: Any, data: Any) -> bool:
        vt, vb = _joinable(data)
        rc = _fast.store(self._handle, key, vb, vt, 0.0, _b.STORE_MODES[mode], 0)
        if rc == _b.lib.TC_ERR_INVALID:
            raise TypeError(
                f"{mode} needs a stored value of the same type as {type(data).__name__}"
            )
        if rc < 0:
            raise self._set_error(rc, key, data)
        return rc == _b.STORED

    def append(self, key: Any, data: bytes | bytearray | str) -> bool:
        """Add data after the value of key (of the same type), keeping its ttl: True when
        done, False when key is absent."""
        return self._join("append", key, data)

    def prepend(self, key: Any, data: bytes | bytearray | str) -> bool:
        """Add data before the value of key (see append)."""
        return self._join("prepend", key, data)

    def ttl(self, key: Any) -> float | None:
        """Seconds until key expires, None when it never does; KeyError when absent. Does not
        count as a read."""
        got = self._get_ex(key, _GET_PEEK)
        if got is None:
            raise KeyError(key)
        left = got[3]
        return left if left > 0 else None

    def expires_at(self, key: Any) -> float | None:
        """When key expires, as a time.time() value; None when it never does."""
        left = self.ttl(key)
        return None if left is None else time.time() + left

    def peek(self, key: Any, default: Any = None) -> Any:
        """The value of key without counting a read: hit counts, promotion and eviction order
        stay as they were."""
        got = self._get_ex(key, _GET_PEEK)
        return default if got is None else self._loads(got[0], got[1])

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return the (key, value) pair the cache would evict next: the oldest
        entry of the lowest tier that has any (O(1)). KeyError when empty."""
        got = _b.cache_pop_victim(self._h)
        if got is None:
            raise KeyError("popitem(): the cache is empty")
        ktag, kb, vtag, vb = got
        return decode_key(ktag, kb), self._loads(vtag, vb)
