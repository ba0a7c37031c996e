"""memoize: results are keyed by the decorated function object (never by its name), arguments
by lru_cache's equality rule (typed= separates types), methods per instance, async functions
by their awaited result, and concurrent callers of one key compute it once."""

from __future__ import annotations

import asyncio
import collections
import enum
import fractions
import functools
import importlib
import inspect
import sys
import threading
import time
import warnings

import numpy as np
import pytest

from tiercache import CacheClosedError, TierCache
from tiercache.memoize import CacheInfo, memoize


@pytest.fixture
def cache():
    c = TierCache(dram_mb=4)
    yield c
    c.check()
    c.close()


def counting(results: list | None = None):
    """A function returning its argument's repr and recording every real call."""
    calls: list = [] if results is None else results

    def f(*args, **kwargs):
        calls.append((args, kwargs))
        return repr((args, sorted(kwargs.items())))

    return f, calls


# ---- the reproducers: distinct functions never share results ----


def test_closures_from_one_factory_do_not_share_results(cache):
    def make(v):
        return cache.memoize()(lambda x: v)

    assert (make("A")(1), make("B")(1)) == ("A", "B")


def test_lambdas_with_different_defaults_do_not_share_results(cache):
    assert [cache.memoize()(lambda x, i=i: i)(0) for i in range(3)] == [0, 1, 2]


def test_two_functions_with_one_qualified_name_do_not_share_results(cache):
    def f(x):
        return "first"

    first = cache.memoize()(f)

    def f(x):  # the redefinition is the point
        return "second"

    second = cache.memoize()(f)
    assert first.__qualname__ == second.__qualname__
    assert (first(1), second(1)) == ("first", "second")


def test_a_function_redefined_by_a_reload_does_not_read_stale_results(cache, tmp_path):
    module = tmp_path / "memo_reload_mod.py"
    module.write_text("VERSION = 1\ndef f(x):\n    return (VERSION, x)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module("memo_reload_mod")
        assert cache.memoize()(mod.f)(5) == (1, 5)
        module.write_text("VERSION = 2\ndef f(x):\n    return (VERSION, x)\n")
        importlib.invalidate_caches()
        mod = importlib.reload(mod)
        assert cache.memoize()(mod.f)(5) == (2, 5)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("memo_reload_mod", None)


def test_name_shares_results_on_purpose(cache):
    first = cache.memoize(name="shared")(lambda x: "first")
    second = cache.memoize(name="shared")(lambda x: "second")
    other = cache.memoize(name="other")(lambda x: "other")
    assert first(1) == "first"
    assert second(1) == "first"  # read from the shared namespace
    assert other(1) == "other"
    assert second.cache_info().hits == 1


# ---- keys: lru_cache's equality rule ----


def test_equal_numbers_share_a_result_as_in_lru_cache(cache):
    """lru_cache regards equal arguments as one call when not typed ("usually": its fast path
    for a lone int or str argument keeps f(3) apart from f(3.0)); memoize always does."""
    f, calls = counting()
    memo = cache.memoize()(f)
    lru = functools.lru_cache(maxsize=None)(counting()[0])
    pairs = [(3, 0), (3.0, 0), (1, 0), (True, 0), (1.0, 0), (0, 0), (False, 0), (-0.0, 0)]
    for args in pairs:
        assert memo(*args) == lru(*args)
    assert len(calls) == 3  # (3, 0), (1, 0) and (0, 0)
    assert memo.cache_info()[:2] == lru.cache_info()[:2] == (5, 3)
    assert memo(3) == memo(3.0) == memo(np.float64(3)) == memo(np.int16(3))
    assert len(calls) == 4


def test_typed_keeps_argument_types_apart_as_in_lru_cache(cache):
    f, calls = counting()
    memo = cache.memoize(typed=True)(f)
    lru = functools.lru_cache(maxsize=None, typed=True)(counting()[0])
    for args in [(3,), (3.0,), (True,), (1,), (3,), ((3,),), ((3.0,),)]:
        assert memo(*args) == lru(*args)
    # lru_cache's typed compares only the top-level types: (3,) and (3.0,) share
    assert memo.cache_info()[:2] == lru.cache_info()[:2] == (2, 5)
    assert len(calls) == 5


def test_equal_containers_share_and_unequal_ones_do_not(cache):
    f, calls = counting()
    memo = cache.memoize()(f)
    Pair = collections.namedtuple("Pair", "a b")
    same_groups = [
        [(1, 2), (1.0, 2), Pair(1, 2)],
        [[1, 2], [1.0, 2.0]],
        [{1, 2}, frozenset({2.0, 1})],
        [{"a": 1, "b": 2}, {"b": 2, "a": 1}, collections.OrderedDict(b=2, a=1)],
        ["text", type("S", (str,), {})("text")],
        [b"raw", bytearray(b"raw")],
        [2**70, float(2**70)],
        [fractions.Fraction(1, 2), 0.5, np.float32(0.5)],
        [np.int64(7), 7, np.uint8(7)],
    ]
    for group in same_groups:
        before = len(calls)
        for arg in group:
            memo(arg)
        assert len(calls) == before + 1, group
    distinct = [(1,), [1], {1}, {1: None}, "1", b"1", 1, 1.5, None, fractions.Fraction(1, 3)]
    before = len(calls)
    for arg in distinct:
        memo(arg)
    assert len(calls) == before + len(distinct)


def test_keyword_arguments_match_by_name_and_differ_from_positional(cache):
    f, calls = counting()
    memo = cache.memoize()(f)
    memo(a=1, b=2)
    memo(b=2, a=1)
    memo(1, 2)
    assert len(calls) == 2


def test_an_unusable_argument_raises_type_error_suggesting_key(cache):
    memo = cache.memoize()(lambda x: x)
    with pytest.raises(TypeError, match=r"'object'.*key="):
        memo(object())
    with pytest.raises(TypeError, match="'complex'"):
        memo([1, 2j])


def test_key_function_decides_what_identifies_a_call(cache):
    f, calls = counting()
    memo = cache.memoize(key=lambda x, verbose=False: x)(f)
    memo(1)
    memo(1, verbose=True)
    memo(2)
    assert len(calls) == 2
    assert memo.cache_parameters()["key"] is not None


def test_key_and_typed_together_are_refused(cache):
    with pytest.raises(ValueError, match="key= or typed"):
        cache.memoize(typed=True, key=lambda x: x)


def test_large_arguments_are_keyed_by_a_digest(cache):
    f, calls = counting()
    memo = cache.memoize()(f)
    big = "x" * 100_000
    assert memo(big) == memo(big)
    memo(big + "y")
    assert len(calls) == 2


# ---- results ----


def test_none_and_containers_are_results_like_any_other(cache):
    calls = []

    @cache.memoize()
    def g(x):
        calls.append(x)
        return None if x == 0 else (x, {"set": {x}})

    assert g(0) is None and g(0) is None
    assert g(1) == (1, {"set": {1}}) and g(1) == (1, {"set": {1}})
    assert type(g(1)) is tuple
    assert calls == [0, 1]


def test_a_result_the_cache_cannot_store_is_returned_with_a_warning(cache):
    calls = []

    @cache.memoize()
    def g(x):
        calls.append(x)
        return object()

    with pytest.warns(RuntimeWarning, match="not cached"):
        g(1)
    with pytest.warns(RuntimeWarning, match="not cached"):
        g(1)
    assert calls == [1, 1]


def test_an_exception_is_not_cached(cache):
    calls = []

    @cache.memoize()
    def g(x):
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return x

    with pytest.raises(RuntimeError):
        g(1)
    assert g(1) == 1
    assert g(1) == 1
    assert calls == [1, 1]


def test_ttl_expires_results(cache):
    f, calls = counting()
    memo = cache.memoize(ttl=0.05)(f)
    memo(1)
    memo(1)
    time.sleep(0.1)
    memo(1)
    assert len(calls) == 2


def test_bare_decorator_and_the_module_function(cache):
    @cache.memoize
    def g(x):
        return x + 1

    h = memoize(cache, typed=True)(lambda x: x * 2)
    assert (g(1), g(1), h(2)) == (2, 2, 4)
    assert g.cache_info().hits == 1
    assert g.__name__ == "g" and g.__wrapped__(1) == 2


def test_bad_decorator_arguments_raise_before_decorating(cache):
    with pytest.raises(TypeError, match="ttl"):
        cache.memoize(ttl="1")
    with pytest.raises(ValueError, match="ttl"):
        cache.memoize(ttl=0)
    with pytest.raises(TypeError, match="typed"):
        cache.memoize(typed=1)
    with pytest.raises(TypeError, match="key"):
        cache.memoize(key=3)
    with pytest.raises(TypeError, match="name"):
        cache.memoize(name=b"x")
    with pytest.raises(TypeError, match="generator"):
        cache.memoize()(lambda: (yield 1))


# ---- the functools API ----


def test_cache_info_clear_and_parameters_like_functools(cache):
    f, calls = counting()
    memo = cache.memoize(ttl=60)(f)
    memo(1)
    memo(1)
    memo(2)
    assert memo.cache_info() == CacheInfo(hits=1, misses=2, maxsize=None, currsize=2)
    assert memo.cache_parameters() == {
        "maxsize": None,
        "typed": False,
        "ttl": 60,
        "name": None,
        "key": None,
    }
    cache["unrelated"] = 1
    memo.cache_clear()
    assert memo.cache_info() == CacheInfo(0, 0, None, 0)
    assert list(cache) == ["unrelated"]  # only this function's results were deleted
    memo(1)
    assert len(calls) == 3


def test_currsize_counts_only_results_still_cached(cache):
    memo = cache.memoize()(lambda x: x)
    other = cache.memoize()(lambda x: x)
    for i in range(5):
        memo(i)
    other(0)
    assert memo.cache_info().currsize == 5
    cache.clear()
    assert memo.cache_info().currsize == 0


def test_cache_clear_of_a_named_function_deletes_what_others_stored(cache):
    first = cache.memoize(name="n")(lambda x: x)
    second = cache.memoize(name="n")(lambda x: -x)
    first(1)
    assert second.cache_info().currsize == 1
    second.cache_clear()
    assert first.cache_info().currsize == 0
    assert first(1) == 1


def test_a_closed_cache_raises_cache_closed_error():
    cache = TierCache(dram_mb=1)
    memo = cache.memoize()(lambda x: x)
    cache.close()
    with pytest.raises(CacheClosedError):
        memo(1)


# ---- methods ----


class Account:
    def __init__(self, owner: str, calls: list) -> None:
        self.owner = owner
        self.calls = calls

    def greet(self, greeting: str) -> str:
        self.calls.append((self.owner, greeting))
        return f"{greeting}, {self.owner}"


def test_methods_are_memoized_per_instance_without_encoding_self(cache):
    class Greeter(Account):
        greet = cache.memoize()(Account.greet)

    calls: list = []
    ada, bob = Greeter("Ada", calls), Greeter("Bob", calls)
    assert ada.greet("hi") == "hi, Ada"
    assert bob.greet("hi") == "hi, Bob"
    assert ada.greet("hi") == "hi, Ada"
    assert calls == [("Ada", "hi"), ("Bob", "hi")]
    assert Greeter.greet.cache_info().hits == 1
    assert ada.greet.cache_info() == Greeter.greet.cache_info()
    assert ada.greet.__name__ == "greet"


def test_a_new_instance_never_reads_a_collected_instances_results(cache):
    class Greeter(Account):
        greet = cache.memoize()(Account.greet)

    calls: list = []
    for i in range(20):  # addresses get reused: id() alone would mix them up
        assert Greeter(f"user{i}", calls).greet("hi") == f"hi, user{i}"
    assert len(calls) == 20


def test_a_key_function_on_a_method_receives_self(cache):
    class Greeter(Account):
        greet = cache.memoize(key=lambda self, greeting: (self.owner, greeting))(Account.greet)

    calls: list = []
    assert Greeter("Ada", calls).greet("hi") == "hi, Ada"
    assert Greeter("Ada", calls).greet("hi") == "hi, Ada"  # an equal user shares
    assert Greeter("Bob", calls).greet("hi") == "hi, Bob"
    assert len(calls) == 2


def test_a_method_of_an_unreferenceable_class_asks_for_key(cache):
    class Slotted:
        __slots__ = ()

        @cache.memoize()
        def f(self, x):
            return x

    with pytest.raises(TypeError, match=r"weakly referenced.*key="):
        Slotted().f(1)


# ---- async functions ----


def test_async_functions_cache_the_awaited_result(cache):
    calls = []

    @cache.memoize()
    async def fetch(x):
        calls.append(x)
        await asyncio.sleep(0)
        return {"x": x}

    async def main():
        return [await fetch(1), await fetch(1), await fetch(2)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "never awaited" would fail here
        assert asyncio.run(main()) == [{"x": 1}, {"x": 1}, {"x": 2}]
    assert calls == [1, 2]
    assert fetch.cache_info().hits == 1
    assert inspect.iscoroutinefunction(fetch) or asyncio.iscoroutinefunction(fetch)


def test_async_methods_are_memoized_per_instance(cache):
    class Client:
        def __init__(self, name: str) -> None:
            self.name = name

        @cache.memoize()
        async def get(self, x):
            return f"{self.name}:{x}"

    async def main():
        a, b = Client("a"), Client("b")
        return [await a.get(1), await b.get(1), await a.get(1)]

    assert asyncio.run(main()) == ["a:1", "b:1", "a:1"]
    assert Client.get.cache_info().hits == 1


def test_concurrent_tasks_compute_one_key_once(cache):
    calls = []

    @cache.memoize()
    async def slow(x):
        calls.append(x)
        await asyncio.sleep(0.05)
        return x * 10

    async def main():
        return await asyncio.gather(*(slow(i % 2) for i in range(20)))

    assert asyncio.run(main()) == [0, 10] * 10
    assert sorted(calls) == [0, 1]
    assert slow.cache_info()[:2] == (18, 2)


def test_a_cancelled_leader_task_hands_the_computation_to_a_waiter(cache):
    calls = []

    @cache.memoize()
    async def slow(x):
        calls.append(x)
        if len(calls) == 1:
            await asyncio.sleep(60)  # the leader: cancelled while it waits here
        return x

    async def main():
        leader = asyncio.ensure_future(slow(1))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(slow(1))
        await asyncio.sleep(0.01)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        return await waiter

    assert asyncio.run(main()) == 1
    assert calls == [1, 1]


# ---- stampede protection with threads ----


def test_concurrent_threads_compute_one_key_once(cache):
    calls = []
    started = threading.Barrier(8)

    @cache.memoize()
    def slow(x):
        calls.append(x)
        time.sleep(0.1)
        return [x]

    results = []

    def worker():
        started.wait()
        results.append(slow(7))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [7]
    assert results == [[7]] * 8
    assert slow.cache_info()[:2] == (7, 1)


def test_when_the_computing_thread_raises_a_waiter_computes_instead(cache):
    calls = []
    entered = threading.Event()

    @cache.memoize()
    def flaky(x):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            entered.set()
            time.sleep(0.1)
            raise RuntimeError("leader fails")
        return x

    errors, results = [], []

    def first():
        try:
            flaky(1)
        except RuntimeError as exc:
            errors.append(exc)

    def second():
        entered.wait()
        results.append(flaky(1))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and results == [1]
    assert len(calls) == 2


def test_recursion_into_the_computing_key_does_not_deadlock(cache):
    @cache.memoize()
    def fact(n, again=True):
        if n <= 1:
            return 1
        if again:  # re-enters its own key once, from the thread computing it
            return fact(n, again=False)
        return n * fact(n - 1)

    assert fact(10) == 3628800


def test_different_keys_compute_in_parallel(cache):
    """Four keys computing at once: each call waits for all four to be inside the function,
    which times out (BrokenBarrierError) if memoize ran them one after another."""
    inside = threading.Barrier(4, timeout=10)

    @cache.memoize()
    def together(x):
        inside.wait()
        return x

    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(together(i))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2, 3]
    assert not inside.broken


class Level(enum.IntEnum):
    LOW = 1


def test_int_enum_and_int_arguments_share_unless_typed(cache):
    plain = cache.memoize()(lambda x: type(x).__name__)
    typed = cache.memoize(typed=True)(lambda x: type(x).__name__)
    assert (plain(Level.LOW), plain(1)) == ("Level", "Level")
    assert (typed(Level.LOW), typed(1)) == ("Level", "int")
