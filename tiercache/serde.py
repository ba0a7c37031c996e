"""How keys and values become bytes for the native cache, and back.

Keys are ``str``, ``bytes``, ``int`` (``bool`` counts as ``int``, as in a ``dict``) or tuples
of these. Each becomes a (tag, bytes) pair; the tag is part of the key in the native index, so
``"1"``, ``b"1"`` and ``1`` are three different keys, as they are in a ``dict``. The encoding
is written once, in C (tiercache/_fastpath_key.h documents it); decode_key reads it back:
str as UTF-8 (surrogates kept), bytes as they are, an int of 64 signed bits as 8 bytes
little-endian, a larger int as decimal text, a tuple as [tag][u32 length][bytes] per item.

Values carry a 4-bit tag saying how to read them back:

- ``bytes``, ``bytearray`` and ``memoryview`` are stored raw (a memoryview reads back as
  ``bytes``), ``str`` as UTF-8, an ``int`` of the signed 64-bit range as decimal text (what
  ``incr``/``decr`` work on, in one native step);
- everything else msgpack can encode is stored with msgpack; tuples, sets and frozensets keep
  their type through msgpack extension types; subclasses of the types msgpack knows (an
  OrderedDict, an IntEnum, numpy.float64) read back as their base type, and so do numpy's
  integer, float and bool scalars (numpy.int64 as int, numpy.float32 as the float that
  equals it);
- pickle is used only when the cache was created with ``serializer="pickle"``: a cache must
  never execute code from its own data unless asked to.
"""

from __future__ import annotations

import numbers
import pickle
import struct
from typing import Any, Callable, Union

import msgpack

from tiercache._fastpath import encode_key as _encode_key

__all__ = ["Key", "Serializer", "decode_key", "encode_key", "make_serializer"]

Key = Union[str, bytes, int, tuple]

KEY_STR, KEY_BYTES, KEY_INT, KEY_BIGINT, KEY_TUPLE = 1, 2, 3, 4, 5
VALUE_BYTES, VALUE_BYTEARRAY, VALUE_STR, VALUE_MSGPACK, VALUE_PICKLE, VALUE_INT = 0, 1, 2, 3, 4, 5
#: Integers in this range are stored as decimal text, which the native incr/decr work on.
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1

_EXT_TUPLE, _EXT_SET, _EXT_FROZENSET, _EXT_BIGINT = 1, 2, 3, 4
_LEN = struct.Struct("<I")


#: encode_key(key) -> (tag, bytes): the form of a key the native index holds; TypeError for a
#: type that is no key. The one key encoder is native (tiercache/_fastpath_key.h), shared with
#: the fast path of every cache call.
encode_key: Callable[[object], tuple[int, bytes]] = _encode_key


def decode_key(tag: int, data: bytes) -> Key:
    """The key encode_key turned into (tag, data)."""
    if tag == KEY_STR:
        return data.decode("utf-8", "surrogatepass")
    if tag == KEY_BYTES:
        return data
    if tag == KEY_INT:
        return int.from_bytes(data, "little", signed=True)
    if tag == KEY_BIGINT:
        return int(data)
    if tag == KEY_TUPLE:
        items: list[Key] = []
        pos = 0
        while pos < len(data):
            item_tag = data[pos]
            (length,) = _LEN.unpack_from(data, pos + 1)
            items.append(decode_key(item_tag, data[pos + 5 : pos + 5 + length]))
            pos += 5 + length
        return tuple(items)
    raise ValueError(f"unknown key tag {tag}")


def _msgpack_default(obj: Any) -> msgpack.ExtType:
    if isinstance(obj, tuple):
        return msgpack.ExtType(_EXT_TUPLE, _pack(list(obj)))
    if isinstance(obj, frozenset):
        return msgpack.ExtType(_EXT_FROZENSET, _pack(list(obj)))
    if isinstance(obj, set):
        return msgpack.ExtType(_EXT_SET, _pack(list(obj)))
    if isinstance(obj, numbers.Integral):  # IntEnum, numpy integers and the like
        value = int(obj)
        if type(obj) is not int and -(1 << 63) <= value < 1 << 64:
            return value
        return msgpack.ExtType(_EXT_BIGINT, str(value).encode())  # beyond 64 bits
    if type(obj).__module__ == "numpy" and getattr(obj, "shape", None) == ():
        kind = obj.dtype.kind  # numpy scalars, when a float holds them exactly (not every
        if kind == "f" and isinstance(obj, numbers.Real):  # longdouble does)
            as_float = float(obj)
            if as_float == obj or as_float != as_float:
                return as_float
        if kind == "b":
            return bool(obj)
    # strict_types sends subclasses of what msgpack encodes here: store them as their base.
    bases: tuple[type[Any], ...] = (float, str, bytes, dict, list)
    for base in bases:
        if isinstance(obj, base):
            return base(obj)
    raise TypeError(f"cannot serialize {type(obj).__name__!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_TUPLE:
        return tuple(_unpack(data))
    if code == _EXT_SET:
        return set(_unpack(data))
    if code == _EXT_FROZENSET:
        return frozenset(_unpack(data))
    if code == _EXT_BIGINT:
        return int(data)
    return msgpack.ExtType(code, data)


def _pack(obj: Any) -> bytes:
    # strict_types: tuples reach _msgpack_default instead of becoming lists. surrogatepass:
    # nested strings round-trip like top-level ones (the bytes never leave this cache).
    return msgpack.packb(
        obj,
        use_bin_type=True,
        strict_types=True,
        default=_msgpack_default,
        unicode_errors="surrogatepass",
    )


def _unpack(data: Any) -> Any:
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=False,
        ext_hook=_ext_hook,
        unicode_errors="surrogatepass",
    )


class Serializer:
    """Turns values into (tag, bytes-like) and back. ``allow_pickle`` enables the pickle
    fallback for values msgpack cannot encode."""

    name: str

    def __init__(self, allow_pickle: bool = False) -> None:
        self.allow_pickle = allow_pickle
        self.name = "pickle" if allow_pickle else "msgpack"

    def dumps(self, value: Any) -> tuple[int, Any]:
        cls = type(value)
        if cls is bytes:
            return VALUE_BYTES, value
        if cls is str:
            return VALUE_STR, value.encode("utf-8", "surrogatepass")
        if cls is bytearray:
            return VALUE_BYTEARRAY, value
        if cls is int and INT_MIN <= value <= INT_MAX:
            return VALUE_INT, b"%d" % value
        if cls is memoryview:
            return VALUE_BYTES, value.cast("B") if value.c_contiguous else value.tobytes()
        try:
            return VALUE_MSGPACK, _pack(value)
        except (TypeError, ValueError, OverflowError) as exc:
            if self.allow_pickle:
                return VALUE_PICKLE, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            raise TypeError(
                f"cannot store a value of type {cls.__name__!r} ({exc}); store bytes, "
                "or create the cache with serializer='pickle'"
            ) from None

    def loads(self, tag: int, data: Any) -> Any:
        if tag == VALUE_BYTES:
            return bytes(data)
        if tag == VALUE_STR:
            return bytes(data).decode("utf-8", "surrogatepass")
        if tag == VALUE_BYTEARRAY:
            return bytearray(data)
        if tag == VALUE_MSGPACK:
            return _unpack(data)
        if tag == VALUE_INT:
            return int(bytes(data))
        if tag == VALUE_PICKLE and self.allow_pickle:
            return pickle.loads(data)
        raise ValueError(f"value tag {tag} cannot be read by the {self.name} serializer")


def make_serializer(name: str) -> Serializer:
    """The serializer called name: "msgpack" (the default) or "pickle" (opt-in)."""
    if name == "msgpack":
        return Serializer(allow_pickle=False)
    if name == "pickle":
        return Serializer(allow_pickle=True)
    raise ValueError(f"serializer must be 'msgpack' or 'pickle', not {name!r}")
