"""A shared conformance suite for dict-like mappings, in the style of cachetools'
CacheTestMixin: a test class mixes MappingConformance in and says how to make its mapping.

Every test runs against ``dict`` too (tests/test_mapping_conformance.py), so each one checks
dict's own behaviour first. Where a TierCache must differ from a dict (the README's
"Differences from dict"), a class attribute says so and the test checks the documented
behaviour of either side; nothing is skipped silently.
"""

from __future__ import annotations

import collections
import pickle
from collections.abc import Iterator, MutableMapping
from typing import Any, ClassVar

import pytest


class MappingConformance:
    """Mix into a ``Test...`` class that defines make() (and finish() if it must clean up)."""

    #: keys may be any hashable object (else only str, bytes, int and tuples of these)
    any_hashable_key: ClassVar[bool] = True
    #: reads return the stored object itself (else an equal copy)
    returns_stored_objects: ClassVar[bool] = True
    #: iteration follows insertion order
    keeps_insertion_order: ClassVar[bool] = True
    #: changing the mapping while iterating raises RuntimeError (else it is allowed)
    iteration_guards_changes: ClassVar[bool] = True
    #: pickle.dumps works
    picklable: ClassVar[bool] = True

    def make(self) -> MutableMapping:
        raise NotImplementedError

    def finish(self, mapping: MutableMapping) -> None:
        close = getattr(mapping, "close", None)
        if close is not None:
            check = getattr(mapping, "check", None)
            if check is not None:
                check()
            close()

    @pytest.fixture
    def m(self) -> Iterator[MutableMapping]:
        mapping = self.make()
        yield mapping
        self.finish(mapping)

    # ---- the basic protocol ----

    def test_is_a_mutable_mapping(self, m):
        assert isinstance(m, MutableMapping)

    def test_empty(self, m):
        assert len(m) == 0
        assert "k" not in m
        assert m.get("k") is None
        assert m.get("k", 1) == 1
        assert list(m) == []
        assert m == {}
        with pytest.raises(KeyError) as info:
            m["k"]
        assert info.value.args == ("k",)

    def test_set_get_contains_len_delete(self, m):
        m["a"] = 1
        m[b"b"] = [2]
        m[3] = "three"
        m[(4, "four")] = None
        assert len(m) == 4
        assert (m["a"], m[b"b"], m[3], m[(4, "four")]) == (1, [2], "three", None)
        assert all(k in m for k in ("a", b"b", 3, (4, "four")))
        del m["a"]
        assert "a" not in m and len(m) == 3
        with pytest.raises(KeyError):
            del m["a"]

    def test_overwriting_keeps_the_length(self, m):
        m["k"] = 1
        m["k"] = 2
        assert len(m) == 1 and m["k"] == 2

    def test_str_bytes_int_and_tuple_spellings_are_distinct_keys(self, m):
        for key in ("1", b"1", 1, (1,), ("1",)):
            m[key] = repr(key)
        assert len(m) == 5
        assert m[b"1"] == "b'1'" and m[(1,)] == "(1,)"

    def test_bool_keys_are_the_equal_int_keys(self, m):
        m[1] = "one"
        m[True] = "true"
        m[(False, 2)] = "tuple"
        assert len(m) == 2
        assert m[1] == "true" and m[(0, 2)] == "tuple"

    def test_a_stored_none_is_present(self, m):
        m["k"] = None
        assert "k" in m
        assert m.get("k", "default") is None
        assert m.pop("k", "default") is None
        assert "k" not in m

    # ---- keys a TierCache cannot hold ----

    def test_an_unhashable_key_raises_type_error(self, m):
        for key in ([1], {"a": 1}, ("ok", [1]), bytearray(b"k")):
            with pytest.raises(TypeError, match="unhashable"):
                key in m  # noqa: B015 - the membership test raising is the point
            with pytest.raises(TypeError):
                m[key] = 1
            with pytest.raises(TypeError):
                m[key]
        assert len(m) == 0

    def test_other_hashable_keys(self, m):
        keys = [1.5, None, frozenset({1}), ("ok", 2.5)]
        if self.any_hashable_key:
            for key in keys:
                m[key] = repr(key)
            assert all(m[key] == repr(key) for key in keys)
        else:  # a TypeError naming the type when storing or reading; never contained
            for key in keys:
                assert key not in m
                with pytest.raises(TypeError, match="unsupported key type"):
                    m[key] = 1
                with pytest.raises(TypeError, match="unsupported key type"):
                    m.get(key)
            assert len(m) == 0

    def test_an_equal_float_key(self, m):
        m[1] = "int"
        if self.any_hashable_key:
            assert m[1.0] == "int"
        else:
            with pytest.raises(TypeError):
                m[1.0]

    # ---- values ----

    def test_values_read_back_equal_and_of_their_type(self, m):
        values = [b"raw", "text", 7, 2**70, 1.5, True, None, [1, [2]], {"a": (1, 2)}, (1,), {3}]
        for i, value in enumerate(values):
            m[i] = value
        for i, value in enumerate(values):
            assert m[i] == value
            assert type(m[i]) is type(value)

    def test_reads_return_the_stored_object_or_a_copy(self, m):
        value = {"list": [1]}
        m["k"] = value
        value["list"].append(2)
        got = m["k"]
        if self.returns_stored_objects:
            assert got is value and got == {"list": [1, 2]}
        else:  # a copy of the value as it was stored: later changes do not show
            assert got is not value and got == {"list": [1]}
            got["list"].append(3)
            assert m["k"] == {"list": [1]}

    # ---- more of the mapping API ----

    def test_get_with_a_default(self, m):
        m["k"] = 0
        assert m.get("k", 5) == 0
        assert m.get("absent", 5) == 5

    def test_pop(self, m):
        m["k"] = "v"
        assert m.pop("k") == "v"
        assert m.pop("k", "default") == "default"
        with pytest.raises(KeyError):
            m.pop("k")
        assert len(m) == 0

    def test_popitem_removes_an_item_and_raises_key_error_when_empty(self, m):
        ref = {"a": 1, "b": 2, "c": 3}
        m.update(ref)
        seen = {}
        while len(m):
            key, value = m.popitem()
            seen[key] = value
            assert key not in m
        assert seen == ref
        with pytest.raises(KeyError):
            m.popitem()

    def test_setdefault(self, m):
        assert m.setdefault("k", [1]) == [1]
        assert m.setdefault("k", [2]) == [1]
        assert m.setdefault("none") is None
        assert "none" in m
        assert len(m) == 2

    def test_setdefault_of_a_present_key_ignores_any_default(self, m):
        m["k"] = 1
        assert m.setdefault("k", object()) == 1

    def test_update_takes_mappings_pairs_and_keywords(self, m):
        m.update({"a": 1})
        m.update([("b", 2)])
        m.update(c=3)
        m.update({"a": 0}, d=4)
        assert sorted(m.items()) == [("a", 0), ("b", 2), ("c", 3), ("d", 4)]

    def test_clear(self, m):
        m.update(dict.fromkeys(range(10), "v"))
        m.clear()
        assert len(m) == 0 and list(m) == []
        m["after"] = 1
        assert m == {"after": 1}

    def test_keys_items_values_views(self, m):
        ref = {"a": 1, "b": 2, 3: [3]}
        m.update(ref)
        assert m.keys() == ref.keys()
        assert m.items() == ref.items()
        assert sorted(map(repr, m.values())) == sorted(map(repr, ref.values()))
        assert "a" in m.keys()  # noqa: SIM118 - KeysView.__contains__ is under test
        assert ("a", 1) in m.items()
        assert [3] in m.values()
        assert len(m.keys()) == len(m.items()) == len(m.values()) == 3

    def test_iteration_order(self, m):
        keys = [f"k{i}" for i in range(50)][::-1]
        for key in keys:
            m[key] = 1
        if self.keeps_insertion_order:
            assert list(m) == keys
        else:  # every key once, in no promised order
            assert sorted(m) == sorted(keys)

    def test_changing_the_mapping_while_iterating(self, m):
        m.update(dict.fromkeys(range(20), 0))
        if self.iteration_guards_changes:

            def add_while_iterating() -> None:
                for key in m:
                    m[key + 100] = 1

            with pytest.raises(RuntimeError):
                add_while_iterating()
        else:  # allowed; what the iteration yields is keys of the mapping
            seen = []
            for key in m:
                seen.append(key)
                m[key + 100] = 1
                del m[key]
            assert set(range(20)) <= set(seen) | set(m)
            assert all(isinstance(key, int) for key in seen)

    # ---- equality ----

    def test_equality_with_mappings(self, m):
        ref = {"a": 1, b"b": [2], 3: {"c": None}}
        m.update(ref)
        assert m == ref and ref == m
        assert m == collections.OrderedDict(reversed(list(ref.items())))
        assert not (m != ref)  # noqa: SIM202 - __ne__ is under test
        assert m != {**ref, "extra": 1}
        assert m != {"a": 1, b"b": [2], 3: {"c": 0}}
        assert m != {"a": 1, b"b": [2], 4: {"c": None}}
        assert m != {"a": 1, b"b": [2], 3.5: {"c": None}}
        assert m != list(ref.items())
        assert m != {}

    def test_equal_numbers_are_equal_values(self, m):
        m["k"] = 1
        assert m == {"k": 1.0} == {"k": True}

    def test_is_not_hashable(self, m):
        with pytest.raises(TypeError):
            hash(m)

    def test_pickling(self, m):
        m["k"] = 1
        if self.picklable:
            assert pickle.loads(pickle.dumps(m)) == {"k": 1}
        else:
            with pytest.raises(TypeError):
                pickle.dumps(m)

    def test_random_operations_agree_with_a_dict(self, m):
        import random

        rng = random.Random(16)
        ref: dict[Any, Any] = {}
        keys = ["a", b"a", 1, (1, "a"), "b", 2, ()]
        for step in range(2000):
            key = rng.choice(keys)
            op = rng.randrange(6)
            if op <= 1:
                m[key] = ref[key] = [step]
            elif op == 2:
                assert m.pop(key, None) == ref.pop(key, None)
            elif op == 3:
                assert m.setdefault(key, step) == ref.setdefault(key, step)
            elif op == 4:
                assert (key in m) == (key in ref)
            elif key in ref:
                del m[key]
                del ref[key]
            assert len(m) == len(ref)
        assert m == ref
