"""A TierCache-like mapping over tiercache-server (or any memcached) through pymemcache.

``connect("unix:/run/tc.sock")`` or ``connect("host:11211")`` gives one server;
``connect(["host1:11211", "host2:11211"])`` shards keys over several with pymemcache's
HashClient (consistent hashing; a server that stops answering is skipped for a while, its keys
then miss: a client never reads a wrong value). The mapping speaks TierCache's API: the same
keys (str, bytes, int, tuples of these), the same serializer ("msgpack", or "pickle" on
request), ttl in seconds, get/set/add/replace/incr/decr/touch/delete, get_many/set_many/
delete_many, memoize, stats. A memcached server cannot list its keys: iteration raises
TypeError, and len() is the servers' item count.

Wire format: a key becomes ``<tag>:<base64url of its bytes>`` (``<tag>#<sha256>`` when that
would pass memcached's 250 bytes); a value is the serializer's bytes with its tag in the client
flags, so integers are stored as decimal text and incr/decr run on the server.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

from tiercache.serde import encode_key, make_serializer

F = TypeVar("F", bound=Callable[..., Any])
_MISSING = object()
_KEY_MAX = 250
_REALTIME_MAXDELTA = 60 * 60 * 24 * 30  # memcached: larger exptimes are unix times

__all__ = ["RemoteCache", "connect"]


def _server_address(spec: str) -> Any:
    """ "unix:/path" -> "/path"; "host:port" or "[v6]:port" -> (host, port); "/path" as is."""
    if spec.startswith("unix:"):
        return spec[5:]
    if spec.startswith("/"):
        return spec
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"server {spec!r}: expected 'unix:/path' or 'host:port'")
    return (host.strip("[]"), int(port))


def _wire_key(key: object) -> str:
    tag, data = encode_key(key)
    text = f"{tag}:" + base64.urlsafe_b64encode(data).decode().rstrip("=")
    if len(text) <= _KEY_MAX:
        return text
    return f"{tag}#" + hashlib.sha256(data).hexdigest()


def _exptime(ttl: float | None) -> int:
    if ttl is None:
        return 0
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds or None, not {type(ttl).__name__}")
    if not ttl > 0 or ttl == float("inf"):
        raise ValueError(f"ttl must be > 0 seconds (or None for no expiry), not {ttl!r}")
    seconds = math.ceil(ttl)
    return seconds if seconds <= _REALTIME_MAXDELTA else int(time.time()) + seconds


class _Serde:
    """pymemcache serde over tiercache's serializer: the value tag travels in the flags."""

    def __init__(self, serializer: str) -> None:
        self.serializer = make_serializer(serializer)

    def serialize(self, key: Any, value: Any) -> tuple[bytes, int]:
        tag, data = self.serializer.dumps(value)
        return bytes(data), tag

    def deserialize(self, key: Any, value: bytes, flags: int) -> Any:
        return self.serializer.loads(flags, value)


class RemoteCache(MutableMapping):
    """The mapping ``connect`` returns; ``client`` is the pymemcache client underneath."""

    def __init__(self, client: Any, ttl: float | None = None) -> None:
        self.client = client
        self.ttl = ttl
        self._closed = False

    # ---- the mapping ----
    def __getitem__(self, key: Any) -> Any:
        value = self.client.get(_wire_key(key), _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: Any) -> None:
        if not self.client.delete(_wire_key(key), noreply=False):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return self.client.get(_wire_key(key), _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a server cache cannot list its keys (memcached has no such command)")

    def __len__(self) -> int:
        return sum(int(s.get("curr_items", 0)) for s in self.stats()["servers"].values())

    # ---- TierCache's methods ----
    def get(self, key: Any, default: Any = None) -> Any:
        return self.client.get(_wire_key(key), default)

    def set(self, key: Any, value: Any, ttl: float | None = None) -> bool:
        """Store: True when stored. A server's refusal (too large, out of memory) raises
        pymemcache's MemcacheServerError; with several servers (ignore_exc) a server that is
        down gives False, as a cache miss would, instead of an error."""
        return (
            self.client.set(_wire_key(key), value, expire=_exptime(ttl or self.ttl), noreply=False)
            is not False
        )

    def add(self, key: Any, value: Any, ttl: float | None = None) -> bool:
        return bool(
            self.client.add(_wire_key(key), value, expire=_exptime(ttl or self.ttl), noreply=False)
        )

    def replace(self, key: Any, value: Any, ttl: float | None = None) -> bool:
        return bool(
            self.client.replace(
                _wire_key(key), value, expire=_exptime(ttl or self.ttl), noreply=False
            )
        )

    def gets(self, key: Any) -> tuple[Any, Any]:
        """(value, token), or (None, None) when absent."""
        return self.client.gets(_wire_key(key))

    def cas(self, key: Any, value: Any, token: Any, ttl: float | None = None) -> bool:
        return bool(
            self.client.cas(
                _wire_key(key), value, token, expire=_exptime(ttl or self.ttl), noreply=False
            )
        )

    def incr(self, key: Any, delta: int = 1, default: int | None = None) -> int:
        """Add delta (unsigned 64-bit, memcached's rule); with default, create the key first."""
        return self._count(self.client.incr, key, delta, default)

    def decr(self, key: Any, delta: int = 1, default: int | None = None) -> int:
        """Take delta away, stopping at 0 (memcached's rule)."""
        return self._count(self.client.decr, key, delta, default)

    def _count(self, op: Any, key: Any, delta: int, default: int | None) -> int:
        """incr or decr (op): the new number; with default, the key is created first."""
        wkey = _wire_key(key)
        value = op(wkey, delta, noreply=False)
        if value is None and default is not None:
            self.client.add(wkey, int(default), expire=_exptime(self.ttl), noreply=False)
            value = op(wkey, delta, noreply=False)
        if value is None:
            raise KeyError(key)
        return int(value)

    def touch(self, key: Any, ttl: float | None) -> bool:
        return bool(self.client.touch(_wire_key(key), expire=_exptime(ttl), noreply=False))

    def delete(self, key: Any) -> bool:
        return bool(self.client.delete(_wire_key(key), noreply=False))

    def get_many(self, keys: Iterable[Any]) -> dict[Any, Any]:
        keys = list(keys)
        wire = {_wire_key(k): k for k in keys}
        found = self.client.get_many(list(wire))
        return {wire[w]: v for w, v in found.items()}

    def set_many(
        self, items: Mapping[Any, Any] | Iterable[tuple[Any, Any]], ttl: float | None = None
    ) -> int:
        """Store every pair; returns how many were not stored (a server down, see set)."""
        pairs = items.items() if isinstance(items, Mapping) else items
        failed = self.client.set_many(
            {_wire_key(k): v for k, v in pairs}, expire=_exptime(ttl or self.ttl), noreply=False
        )
        return len(failed or [])

    def delete_many(self, keys: Iterable[Any]) -> None:
        self.client.delete_many([_wire_key(k) for k in keys], noreply=False)

    def clear(self) -> None:
        """flush_all on every server."""
        self.client.flush_all(noreply=False)

    def stats(self) -> dict[str, Any]:
        """{"servers": {address: {stat: value}}}, the servers' own `stats`."""
        clients = getattr(self.client, "clients", None)
        per = clients.items() if clients is not None else [(str(self.client.server), self.client)]
        out = {}
        for name, client in per:
            try:
                raw = client.stats()
            except Exception as exc:
                out[str(name)] = {"error": str(exc)}
                continue
            out[str(name)] = {
                k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                for k, v in raw.items()
            }
        return {"servers": out}

    def memoize(self, ttl: float | None = None, typed: bool = False) -> Callable[[F], F]:
        from tiercache.memoize import memoize

        return memoize(self, ttl=ttl, typed=typed)  # type: ignore[arg-type]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.client.close()

    def __enter__(self) -> RemoteCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    servers: str | Iterable[str],
    *,
    serializer: str = "msgpack",
    ttl: float | None = None,
    timeout: float = 5.0,
    **client_options: Any,
) -> RemoteCache:
    """A RemoteCache on one server ("unix:/path", "host:port") or several (a list: sharded with
    pymemcache's HashClient). client_options go to the pymemcache client (for HashClient:
    retry_attempts, dead_timeout, ignore_exc, use_pooling, ...)."""
    from pymemcache.client.base import Client
    from pymemcache.client.hash import HashClient

    serde = _Serde(serializer)
    if isinstance(servers, str):
        client = Client(
            _server_address(servers),
            serde=serde,
            connect_timeout=timeout,
            timeout=timeout,
            **client_options,
        )
    else:
        addresses = [_server_address(s) for s in servers]
        if not addresses:
            raise ValueError("connect: no servers")
        client_options.setdefault("ignore_exc", True)
        client_options.setdefault("dead_timeout", 1)
        client_options.setdefault("retry_attempts", 1)
        client = HashClient(
            addresses, serde=serde, connect_timeout=timeout, timeout=timeout, **client_options
        )
    return RemoteCache(client, ttl=ttl)
