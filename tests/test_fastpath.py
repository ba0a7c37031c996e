"""tiercache._fastpath: the one key encoder (the bytes the native index holds) and the typed
cache handle (no int can pass for a cache; a destroyed one raises, never crashes)."""

from __future__ import annotations

import enum
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiercache import Kind, TierCache
from tiercache import _bindings as _b
from tiercache._fastpath import CacheHandle
from tiercache.errors import CacheClosedError
from tiercache.serde import decode_key, encode_key

_fast = _b.cache_fast_path()


def reference_encoding(key: object) -> tuple[int, bytes]:
    """The key format as documented (and as the Python encoder of earlier releases wrote it):
    the stored bytes must stay exactly these."""
    if isinstance(key, str):
        return 1, key.encode("utf-8", "surrogatepass")
    if isinstance(key, bytes):
        return 2, bytes(key)
    if isinstance(key, int):
        try:
            return 3, int(key).to_bytes(8, "little", signed=True)
        except OverflowError:
            return 4, str(int(key)).encode()
    assert isinstance(key, tuple)
    parts = []
    for item in key:
        tag, data = reference_encoding(item)
        parts.append(bytes((tag,)) + struct.pack("<I", len(data)) + data)
    return 5, b"".join(parts)


scalars = st.one_of(
    st.text(),
    st.binary(),
    st.integers(min_value=-(1 << 200), max_value=1 << 200),
    st.booleans(),
    st.sampled_from([0, -1, 1 << 63, -(1 << 63), (1 << 63) - 1, -(1 << 63) - 1, "\udc80x"]),
)
keys = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.tuples(inner))


@given(keys)
def test_encode_key_writes_the_documented_bytes_and_decodes_back(key):
    assert encode_key(key) == reference_encoding(key)
    assert decode_key(*encode_key(key)) == key


class Color(enum.IntEnum):
    RED = 1 << 70  # beyond 64 bits: its decimal text, not Color.RED's str()


class Text(str):
    def encode(self, *args, **kwargs):  # type: ignore[override]
        raise AssertionError("not called: a subclass is encoded as its base type")


def test_subclasses_encode_as_their_base_type():
    assert encode_key(Color.RED) == (4, str(1 << 70).encode())
    assert encode_key(True) == (3, (1).to_bytes(8, "little"))
    assert encode_key(Text("é")) == (1, "é".encode())
    assert encode_key(type("B", (bytes,), {})(b"ab")) == (2, b"ab")


@pytest.mark.parametrize("key", [1.5, None, [1], {"a": 1}, ("a", [1]), frozenset()])
def test_a_type_that_is_no_key_is_a_type_error(key):
    with pytest.raises(TypeError, match="unsupported key type"):
        encode_key(key)


def test_a_deeply_nested_tuple_key_is_a_recursion_error_not_a_crash():
    key: tuple = ()
    for _ in range(100_000):
        key = (key,)
    with pytest.raises(RecursionError):
        encode_key(key)


def test_the_cache_stores_keys_under_the_encoded_bytes():
    """The fast path and serde share one encoder: keys come back from the native index."""
    with TierCache(4) as cache:
        ks = ["s", b"b", 7, 1 << 80, ("t", 1, b"x"), "\udc80"]
        for i, k in enumerate(ks):
            cache[k] = i
        assert sorted(map(repr, cache)) == sorted(map(repr, ks))
        assert [cache[k] for k in ks] == list(range(len(ks)))


def test_a_handle_cannot_be_made_or_forged_from_python():
    with pytest.raises(TypeError):
        CacheHandle()
    with pytest.raises(TypeError):
        type("Sub", (CacheHandle,), {})
    with TierCache(4) as cache:
        cache["k"] = b"v"
        address = cache._handle.address
        for forged in (address, str(address), cache._h, None):
            with pytest.raises(TypeError, match="CacheHandle is needed"):
                _fast.get(forged, "k", None, True, cache._reader)
            with pytest.raises(TypeError, match="CacheHandle is needed"):
                _fast.set(forged, "k", b"x", -1, 0.0)
        assert cache["k"] == b"v"


def test_a_reader_of_another_cache_is_refused():
    with TierCache(4) as a, TierCache(4) as b, pytest.raises(TypeError, match="reader"):
        _fast.get(a._handle, "k", None, True, b._reader)


def test_a_destroyed_handle_raises_cache_closed_error():
    handle = _b.cache_create([(Kind.dram()._handle, 4 << 20)], 1 << 16, 2)
    loads = lambda tag, data: data  # noqa: E731
    reader = _fast.reader(handle, None, loads)
    assert _fast.set(handle, "k", b"v", -1, 0.0) == 0
    assert _fast.get(handle, "k", None, True, reader) == b"v"
    handle.destroy()
    handle.destroy()  # idempotent
    assert handle.destroyed
    for call in (
        lambda: _fast.get(handle, "k", None, True, reader),
        lambda: _fast.set(handle, "k", b"v", -1, 0.0),
        lambda: _fast.contains(handle, "k"),
        lambda: _fast.delete_many(handle, ["k"]),
        lambda: handle.address,
        lambda: _fast.reader(handle, None, loads),
    ):
        with pytest.raises(CacheClosedError):
            call()


def test_reads_return_the_answer_and_writes_a_code():
    """The result shapes _fastpath.c documents."""
    with TierCache(4) as cache:
        h, r = cache._handle, cache._reader
        default = object()
        assert _fast.get(h, "absent", default, True, r) is default
        assert _fast.set(h, "raw", b"x", -1, 0.0) == 0
        assert _fast.set(h, "obj", [1], -1, 0.0) is NotImplemented  # Python encodes lists
        cache["obj"] = [1]
        cache["none"] = None
        assert _fast.get(h, "raw", default, True, r) == b"x"
        assert _fast.get(h, "obj", default, True, r) == [1]  # decoded by the reader
        assert type(_fast.get(h, "raw", default, False, r)) is memoryview
        assert _fast.get_many(h, ["raw", "none", "absent"], True, r) == {"raw": b"x", "none": None}
        assert _fast.contains(h, "raw") is True
        assert _fast.delete(h, "raw") is True
        assert _fast.delete(h, "raw") is False
        assert _fast.delete_many(h, ["obj", "none", "absent"]) == 2
