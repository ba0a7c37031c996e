"""TierCache as a MutableMapping: every method agrees with a dict doing the same operations,
every supported key type is its own key, and values read back as the type that was stored."""

from __future__ import annotations

import collections
import collections.abc
import enum
import pickle
from collections.abc import MutableMapping

import numpy as np
import pytest

from tiercache import TierCache

#: Keys of every supported shape; all distinct as dict keys.
KEYS = [
    "",
    "plain",
    "ключ",
    "日本語",
    "emoji \N{SNAKE}",
    "lone \ud800 surrogate",
    "\udfff",
    b"",
    b"bytes",
    b"\x00\xff",
    0,
    1,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    2**64,
    -(2**64) - 1,
    10**40,
    -(10**40),
    (),
    ("a",),
    (1, "a", b"a"),
    (1, (2, (3, ("deep", b"er")))),
    ((), ((),)),
    (2**70, -5, "\ud800"),
]

#: Values of every supported type (msgpack serializer).
VALUES = [
    b"",
    b"raw bytes \x00\xff",
    bytes(range(256)) * 100,
    "",
    "text",
    "ключ \N{SNAKE} \ud800",
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64,
    -(10**30),
    1.5,
    -0.0,
    float("inf"),
    None,
    True,
    False,
    [],
    [1, "two", b"three", None, [4.0]],
    {},
    {"a": 1, "b": [1, 2]},
    {1: "int key", b"k": "bytes key", None: "none key", 2.5: "float key", (1, 2): "tuple key"},
    (),
    (1, "a", (b"b", None)),
    {1, "a", (1, 2)},
    set(),
    frozenset({1, 2}),
    {"nested": [(1, {2, 3}), {b"x": (None, [frozenset()])}], "big": [2**70, -(2**70)]},
    ["lone \ud800", {"\udfff": ("nested \ud800 surrogates",)}],
]


@pytest.fixture
def cache():
    c = TierCache(dram_mb=4)
    yield c
    c.close()


def same(cache: TierCache, ref: dict) -> None:
    """The cache holds exactly ref, through every read method, and its invariants hold."""
    assert len(cache) == len(ref)
    assert sorted(map(repr, cache)) == sorted(map(repr, ref))
    assert cache == ref
    for key, value in ref.items():
        assert key in cache
        assert cache[key] == value
        assert type(cache[key]) is type(value)
    cache.check()


# ---- the mapping protocol against a dict ----


def test_is_a_mutable_mapping(cache):
    assert isinstance(cache, MutableMapping)


def test_setitem_getitem_delitem_contains_len_match_a_dict(cache):
    ref: dict = {}
    for i, key in enumerate(KEYS):
        cache[key] = i
        ref[key] = i
    same(cache, ref)
    for key in KEYS[::2]:
        del cache[key]
        del ref[key]
    same(cache, ref)
    for key in KEYS[::2]:
        assert key not in cache
        with pytest.raises(KeyError) as info:
            cache[key]
        assert info.value.args == (key,)
        with pytest.raises(KeyError):
            del cache[key]
    same(cache, ref)


def test_overwrite_replaces_the_value_and_keeps_the_length(cache):
    ref = {}
    for round_ in range(3):
        for key in KEYS:
            cache[key] = (round_, repr(key))
            ref[key] = (round_, repr(key))
        same(cache, ref)


def test_iter_keys_items_values_match_a_dict(cache):
    ref = {key: [i, str(i)] for i, key in enumerate(KEYS)}
    cache.update(ref)
    assert sorted(map(repr, iter(cache))) == sorted(map(repr, ref))
    assert sorted(map(repr, cache.keys())) == sorted(map(repr, ref.keys()))
    assert sorted(map(repr, cache.items())) == sorted(map(repr, ref.items()))
    assert sorted(map(repr, cache.values())) == sorted(map(repr, ref.values()))
    assert len(cache.keys()) == len(cache.items()) == len(cache.values()) == len(ref)
    assert "plain" in cache.keys()  # noqa: SIM118 - KeysView.__contains__ is under test
    assert ("plain", ref["plain"]) in cache.items()
    assert ref["plain"] in cache.values()
    assert cache.keys() == ref.keys()
    assert cache.items() == ref.items()
    cache.check()


def test_iteration_is_a_snapshot_that_tolerates_changes(cache):
    """Unlike a dict, changing the cache while iterating is allowed: iteration goes over the
    keys present when it started, and items() skips the ones deleted meanwhile."""
    cache.update({i: i for i in range(100)})
    seen = []
    for key in cache:
        seen.append(key)
        cache[key + 1000] = key
    assert sorted(seen) == list(range(100))
    assert len(cache) == 200
    items = iter(cache.items())
    first_key, first_value = next(items)
    assert cache[first_key] == first_value
    for key in list(cache):
        if key != first_key and key % 2 == 0:
            del cache[key]
    rest = dict(items)
    assert all(key % 2 == 1 for key in rest)
    assert {first_key, *rest} == set(cache)
    assert all(cache[key] == value for key, value in rest.items())
    cache.check()


def test_get_returns_the_value_or_the_default(cache):
    ref = {"a": 1, b"a": None, 1: [1]}
    cache.update(ref)
    for key in [*ref, "missing", b"missing", 404, ("missing",)]:
        assert cache.get(key) == ref.get(key)
        assert cache.get(key, "dflt") == ref.get(key, "dflt")
    assert cache.get("missing", default=7) == 7
    cache.check()


def test_a_stored_none_is_present_and_distinct_from_absent(cache):
    cache["none"] = None
    assert "none" in cache
    assert cache["none"] is None
    assert cache.get("none", "dflt") is None
    assert cache.pop("none", "dflt") is None
    assert "none" not in cache
    cache.check()


def test_pop_matches_a_dict(cache):
    ref = {k: repr(k) for k in KEYS}
    cache.update(ref)
    for key in KEYS[::3]:
        assert cache.pop(key) == ref.pop(key)
        assert cache.pop(key, "gone") == ref.pop(key, "gone") == "gone"
        with pytest.raises(KeyError):
            cache.pop(key)
    same(cache, ref)


def test_popitem_removes_one_present_item(cache):
    ref = {k: repr(k) for k in KEYS[:5]}
    cache.update(ref)
    while ref:
        key, value = cache.popitem()
        assert ref.pop(key) == value
        same(cache, ref)
    with pytest.raises(KeyError):
        cache.popitem()


def test_setdefault_matches_a_dict(cache):
    ref: dict = {}
    for key in KEYS:
        assert cache.setdefault(key, [key, 1]) == ref.setdefault(key, [key, 1])
        assert cache.setdefault(key, "other") == ref.setdefault(key, "other")
    assert cache.setdefault("no default") is ref.setdefault("no default") is None
    same(cache, ref)


def test_update_accepts_mappings_pairs_and_keywords_like_a_dict(cache):
    ref: dict = {}
    calls = [
        lambda m: m.update({"a": 1, 2: "b"}),
        lambda m: m.update([(b"c", 3), (("t",), 4)]),
        lambda m: m.update(kw=5, a=6),
        lambda m: m.update(zip(["gen", "gen2"], [7, 8]), kw=9),
        lambda m: m.update(),
    ]
    for call in calls:
        call(cache)
        call(ref)
        same(cache, ref)


def test_clear_empties_the_cache_and_it_stays_usable(cache):
    cache.update(dict.fromkeys(KEYS, 1))
    cache.clear()
    same(cache, {})
    assert list(cache) == []
    cache["after"] = "clear"
    same(cache, {"after": "clear"})


def test_get_many_returns_only_the_keys_found(cache):
    ref = {k: repr(k) for k in KEYS[:10]}
    cache.set_many(ref)
    asked = [*KEYS[:15], "nope"]
    assert cache.get_many(asked) == {k: ref[k] for k in asked if k in ref}
    assert cache.get_many([]) == {}
    cache.check()


def test_set_many_accepts_a_mapping_or_pairs(cache):
    cache.set_many({"a": 1, b"b": 2})
    cache.set_many([(3, "c"), (("d",), [4])])
    same(cache, {"a": 1, b"b": 2, 3: "c", ("d",): [4]})


def test_equality_with_dicts_and_other_caches(cache):
    ref = {k: [repr(k)] for k in KEYS}
    cache.update(ref)
    assert cache == ref
    assert ref == cache
    assert cache != {}
    assert cache != {**ref, "extra": 1}
    changed = dict(ref)
    changed["plain"] = "other"
    assert cache != changed
    with TierCache(dram_mb=4) as other:
        other.update(ref)
        assert cache == other
        other["plain"] = "other"
        assert cache != other
        other.check()
    assert cache != [("plain", ref["plain"])]
    cache.check()


def test_random_operations_agree_with_a_dict(cache):
    """A seeded mix of every mutating method keeps the cache equal to a dict."""
    rng = np.random.default_rng(4)
    ref: dict = {}
    keys = KEYS + [f"k{i}" for i in range(40)]
    for step in range(3000):
        key = keys[rng.integers(len(keys))]
        op = rng.integers(7)
        if op <= 1:
            cache[key] = ref[key] = step
        elif op == 2:
            assert cache.pop(key, None) == ref.pop(key, None)
        elif op == 3:
            assert cache.setdefault(key, step) == ref.setdefault(key, step)
        elif op == 4:
            assert cache.get(key) == ref.get(key)
        elif op == 5:
            assert (key in cache) == (key in ref)
        elif key in ref:
            del cache[key]
            del ref[key]
        if step % 500 == 0:
            same(cache, ref)
    same(cache, ref)


# ---- keys ----


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_every_supported_key_round_trips_through_iteration(cache, key):
    cache[key] = "v"
    (listed,) = list(cache)
    assert listed == key
    assert type(listed) is type(key)
    assert cache[listed] == "v"
    cache.check()


def test_str_bytes_and_int_spellings_of_one_are_three_keys(cache):
    cache["1"] = "str"
    cache[b"1"] = "bytes"
    cache[1] = "int"
    cache[("1",)] = "tuple of str"
    cache[(1,)] = "tuple of int"
    assert len(cache) == 5
    assert cache["1"] == "str"
    assert cache[b"1"] == "bytes"
    assert cache[1] == "int"
    assert cache[("1",)] == "tuple of str"
    assert cache[(1,)] == "tuple of int"
    del cache[b"1"]
    assert "1" in cache and 1 in cache and b"1" not in cache
    cache.check()


def test_bool_keys_are_the_int_keys_as_in_a_dict(cache):
    ref: dict = {}
    for c in (cache, ref):
        c[1] = "one"
        c[True] = "true"
        c[False] = "false"
    assert cache[1] == ref[1] == "true"
    assert cache[0] == ref[0] == "false"
    assert len(cache) == len(ref) == 2
    cache[(True, 2)] = "tuple"
    assert cache[(1, 2)] == "tuple"
    cache.check()


def test_int_subclasses_are_the_equal_int_keys(cache):
    class Color(enum.IntEnum):
        RED = 1

    cache[1] = "one"
    assert cache[Color.RED] == "one"
    cache[Color.RED] = "red"
    assert cache[1] == "red"
    assert len(cache) == 1
    cache.check()


def test_ints_around_the_64_bit_limits_are_distinct_keys(cache):
    edges = [2**63 - 2, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1, 2**64, 2**64 + 1]
    keys = edges + [-k for k in edges] + [-1, 0, 1, 2**200, -(2**200)]
    for k in keys:
        cache[k] = k
    assert len(cache) == len(keys)
    assert all(cache[k] == k for k in keys)
    assert sorted(cache) == sorted(keys)
    cache.check()


def test_str_keys_that_differ_only_in_normalization_are_distinct(cache):
    composed, decomposed = "\u00e9", "e\u0301"
    cache[composed] = 1
    cache[decomposed] = 2
    assert (cache[composed], cache[decomposed]) == (1, 2)
    cache.check()


def test_tuples_keep_their_nesting(cache):
    shapes = [(1, 2, 3), ((1, 2), 3), (1, (2, 3)), ((1,), (2,), (3,)), (((1, 2, 3),),)]
    for i, key in enumerate(shapes):
        cache[key] = i
    assert len(cache) == len(shapes)
    assert [cache[k] for k in shapes] == list(range(len(shapes)))
    assert sorted(map(repr, cache)) == sorted(map(repr, shapes))
    cache.check()


# ---- values ----


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__ + ":" + repr(v)[:30])
def test_values_read_back_equal_and_of_the_same_type(cache, value):
    cache["k"] = value
    got = cache["k"]
    assert got == value
    assert type(got) is type(value)
    assert cache.get("k") == value
    cache.check()


def test_nested_containers_keep_their_inner_types(cache):
    value = {"t": (1, (2,)), "s": {(1, 2)}, "l": [(), set(), frozenset({b"x"})], 5: {6: (7,)}}
    cache["k"] = value
    got = cache["k"]
    assert got == value
    assert type(got["t"]) is tuple and type(got["t"][1]) is tuple
    assert type(got["s"]) is set and type(next(iter(got["s"]))) is tuple
    assert [type(x) for x in got["l"]] == [tuple, set, frozenset]
    assert type(got[5][6]) is tuple
    cache.check()


def test_bytearray_reads_back_as_a_new_bytearray(cache):
    original = bytearray(b"mutable")
    cache["k"] = original
    original[0:1] = b"M"
    got = cache["k"]
    assert type(got) is bytearray
    assert got == bytearray(b"mutable")
    got[0:1] = b"X"
    assert cache["k"] == bytearray(b"mutable")
    cache.check()


@pytest.mark.parametrize(
    "view",
    [
        memoryview(b"plain view"),
        memoryview(b"0123456789")[2:8],
        memoryview(b"0123456789")[::3],
        memoryview(bytearray(b"abcdef")).cast("B", (2, 3)),
        memoryview(np.arange(4, dtype=np.int32)),
    ],
    ids=["plain", "slice", "strided", "2d", "int32"],
)
def test_memoryview_reads_back_as_its_bytes(cache, view):
    expected = view.tobytes()
    cache["k"] = view
    got = cache["k"]
    assert type(got) is bytes
    assert got == expected
    cache.check()


def test_large_values_round_trip(cache):
    blob = np.random.default_rng(1).bytes(1 << 20)
    cache["blob"] = blob
    cache["text"] = "ü" * 100_000
    cache["list"] = list(range(50_000))
    assert cache["blob"] == blob
    assert cache["text"] == "ü" * 100_000
    assert cache["list"] == list(range(50_000))
    cache.check()


def test_subclasses_of_msgpack_types_read_back_as_their_base_type(cache):
    """Values msgpack can encode are stored even when they are subclasses (OrderedDict,
    numpy.float64, an IntEnum, a str subclass); they read back as the base type."""

    class Name(str):
        pass

    class Level(enum.IntEnum):
        HIGH = 3

    values = {
        "odict": (collections.OrderedDict(b=1, a=2), {"b": 1, "a": 2}, dict),
        "counter": (collections.Counter("aab"), {"a": 2, "b": 1}, dict),
        "np_float": (np.float64(1.25), 1.25, float),
        "intenum": (Level.HIGH, 3, int),
        "str_sub": (Name("ada"), "ada", str),
        "nested": ([Name("x"), {Name("k"): Level.HIGH}], ["x", {"k": 3}], list),
    }
    for key, (value, expected, kind) in values.items():
        cache[key] = value
        got = cache[key]
        assert got == expected
        assert type(got) is kind
    cache.check()


class Point:
    """A class msgpack cannot encode (picklable: defined at module level)."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


def test_default_serializer_refuses_objects_and_names_the_pickle_opt_in(cache):
    cache["k"] = "old"
    with pytest.raises(TypeError, match=r"serializer='pickle'") as info:
        cache["k"] = Point(1, 2)
    assert "Point" in str(info.value)
    assert cache["k"] == "old"
    with pytest.raises(TypeError, match=r"serializer='pickle'"):
        cache["new"] = [1, Point(1, 2)]
    assert "new" not in cache
    assert cache.stats()["serializer"] == "msgpack"
    cache.check()


def test_pickle_serializer_is_an_explicit_opt_in_that_stores_objects():
    with TierCache(dram_mb=1, serializer="pickle") as cache:
        assert cache.stats()["serializer"] == "pickle"
        cache["p"] = Point(1, 2)
        cache["mixed"] = {"p": Point(3, 4), "n": 1}
        cache["plain"] = {"a": (1, 2)}
        cache["raw"] = b"bytes"
        assert cache["p"] == Point(1, 2)
        assert cache["mixed"] == {"p": Point(3, 4), "n": 1}
        assert cache["plain"] == {"a": (1, 2)}
        assert type(cache["plain"]["a"]) is tuple
        assert cache["raw"] == b"bytes"
        cache.check()


def test_default_serializer_never_unpickles(cache):
    """A pickle payload stored as bytes comes back as bytes: the default cache never runs
    pickle.loads on its data."""
    payload = pickle.dumps(Point(1, 2))
    cache["k"] = payload
    assert cache["k"] == payload
    cache.check()


def test_unknown_serializer_is_refused():
    with pytest.raises(ValueError, match="serializer"):
        TierCache(dram_mb=1, serializer="json")


# ---- issue 16: mapping behaviour ----


class CountingMapping(collections.abc.Mapping):
    """A mapping that counts how many of its items were read."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return self.data[key]

    def __iter__(self):
        for key in self.data:
            self.reads += 1
            yield key

    def __len__(self) -> int:
        return len(self.data)


def test_equality_compares_lengths_before_any_item(cache):
    cache.update({i: i for i in range(1000)})
    other = CountingMapping({i: i for i in range(999)})
    assert cache != other
    assert other.reads == 0
    assert cache != {}


def test_equality_stops_at_the_first_difference(cache):
    cache.update({i: i for i in range(1000)})
    other = CountingMapping({i: (-1 if i == 0 else i) for i in range(1000)})
    assert cache != other
    assert other.reads <= 2  # the first key and its value
    assert cache == CountingMapping({i: i for i in range(1000)})


def test_equality_with_a_key_the_cache_cannot_hold_is_false(cache):
    cache["a"] = 1
    assert cache != {1.5: 1}
    assert cache != {"k" * 70_000: 1}
    assert {1.5: 1} != cache  # noqa: SIM300 - the reflected comparison is under test


def test_setdefault_of_a_present_key_returns_it_whatever_the_default(cache):
    cache["k"] = [1]
    assert cache.setdefault("k", object()) == [1]
    assert cache.setdefault("k", lambda: None) == [1]
    with pytest.raises(TypeError, match="serializer='pickle'"):
        cache.setdefault("absent", object())
    assert "absent" not in cache
    cache.check()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(-5), -5),
        (np.int32(7), 7),
        (np.uint64(2**64 - 1), 2**64 - 1),
        (np.int8(-128), -128),
        (np.uint8(255), 255),
        (np.float32(0.5), 0.5),
        (np.float16(-2), -2.0),
        (np.bool_(True), True),
        ([np.int64(1), {"n": np.uint16(2)}], [1, {"n": 2}]),
    ],
    ids=repr,
)
def test_numpy_scalars_are_stored_as_python_numbers(cache, value, expected):
    cache["k"] = value
    got = cache["k"]
    assert got == expected
    assert type(got) is type(expected)
    cache.check()


def test_numpy_values_a_float_cannot_hold_exactly_are_refused(cache):
    with pytest.raises(TypeError, match="longdouble"):
        cache["k"] = np.longdouble(1) / 3
    with pytest.raises(TypeError, match="ndarray"):
        cache["k"] = np.arange(3)
    assert "k" not in cache
