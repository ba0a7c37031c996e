"""The `atomic` section of run.py: what TierCache's one-step operations (add, gets, cas, incr,
append, peek) and batches (get_many, set_many, delete_many) cost per key, against plain get
and set of the same keys on the same cache, in the same interleaved rounds."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import workloads as w

from tiercache import TierCache

BATCH = 100  # keys per get_many/set_many/delete_many call


def _per_key(op: Callable[[str], Any], keys: list[str]) -> Callable[[], None]:
    def run() -> None:
        for k in keys:
            op(k)

    return run


def _batched(op: Callable[[list[str]], Any], keys: list[str]) -> Callable[[], None]:
    chunks = [keys[i : i + BATCH] for i in range(0, len(keys), BATCH)]

    def run() -> None:
        for chunk in chunks:
            op(chunk)

    return run


def loops(cache: TierCache, keys: list[str], value: bytes) -> dict[str, Callable[[], None]]:
    """name -> a loop doing that operation once per key (keys hold value, counters hold 0)."""
    counters = [f"n:{k}" for k in keys]
    for k in counters:
        cache[k] = 0
    tokens = {k: cache.gets(k)[1] for k in keys}
    pairs = [(k, value) for k in keys]
    chunks = [pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)]

    def cas_fresh(k: str) -> None:  # a successful compare-and-set: gets, then cas
        got, token = cache.gets(k)
        cache.cas(k, got, token)

    def set_many() -> None:
        for chunk in chunks:
            cache.set_many(chunk)

    def delete_many_then_refill() -> None:  # one delete_many per chunk, then set_many back
        for chunk in chunks:
            cache.delete_many([k for k, _ in chunk])
            cache.set_many(chunk)

    return {
        "get": _per_key(cache.get, keys),
        "set": _per_key(lambda k: cache.set(k, value), keys),
        "peek": _per_key(cache.peek, keys),
        "add (present: not stored)": _per_key(lambda k: cache.add(k, value), keys),
        "gets": _per_key(cache.gets, keys),
        "cas (stale token: refused)": _per_key(lambda k: cache.cas(k, value, tokens[k] + 1), keys),
        "gets + cas (stored)": _per_key(cas_fresh, keys),
        "incr": _per_key(cache.incr, counters),
        "get_many (100 keys a call)": _batched(cache.get_many, keys),
        "set_many (100 pairs a call)": set_many,
        "delete_many + set_many": delete_many_then_refill,
    }


def section_atomic(
    rep: Any, a: argparse.Namespace, sample: Callable, loop_type: type, med: Callable
) -> None:
    keys = w.make_keys(w.N_KEYS)
    value = b"v" * w.SMALL
    cache = TierCache(dram_mb=64)
    try:
        w.fill(cache, keys, value)
        named = {"loop": loop_type(w.empty_loop(keys), len(keys))}
        named.update(
            {name: loop_type(fn, len(keys)) for name, fn in loops(cache, keys, value).items()}
        )
        s = sample(named, a.repeats, a.min_time)
        rep.samples["atomic"] = s
        base = med(s["loop"])
        net = {name: med(xs) - base for name, xs in s.items() if name != "loop"}
        for name, ns in net.items():
            ref = (
                "set"
                if name.startswith(("set_many", "delete_many", "add", "cas", "incr"))
                else "get"
            )
            if name in ("get", "set"):
                rep.info("atomic", f"{name} 100 B", ns, "ns")
            else:
                rep.compare("atomic", f"{name}, per key", ns, "ns", ref, net[ref])
        cache.check()
    finally:
        cache.close()
