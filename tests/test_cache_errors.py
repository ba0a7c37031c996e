"""Every bad input to TierCache gets a specific error, raised where the mistake is made (the
constructor for bad directories and sizes), and a failed set never loses the old value."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from helpers import MiB, run_in_child

from tiercache import (
    CacheClosedError,
    DirectoryAccessError,
    DirectoryNotFoundError,
    EntryTooLargeError,
    KindUnavailableError,
    OutOfMemoryError,
    Tier,
    TierCache,
    UnsupportedFilesystemError,
)
from tiercache.cli.info import punch_hole
from tiercache.errors import CapacityWarning

NOBODY = 65534
BAD_KEYS = [1.5, None, [1], {"a": 1}, bytearray(b"k"), memoryview(b"k"), object(), ("ok", 1.5)]


@pytest.fixture
def cache():
    c = TierCache(dram_mb=1)
    yield c
    c.close()


# ---- keys ----


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda k: type(k).__name__)
def test_unsupported_key_type_raises_type_error_naming_the_type(cache, key):
    name = type(key[1] if isinstance(key, tuple) else key).__name__
    for op in (
        lambda: cache.set(key, 1),
        lambda: cache.__setitem__(key, 1),
        lambda: cache.get(key),
        lambda: cache[key],
        lambda: cache.__delitem__(key),
        lambda: cache.delete(key),
        lambda: cache.pop(key),
        lambda: cache.setdefault(key, 1),
        lambda: cache.touch(key, 1),
        lambda: cache.set_many({"fine": 1, key: 2} if isinstance(key, tuple) else [(key, 2)]),
    ):
        with pytest.raises(TypeError, match=name):
            op()
    assert len(cache) == (1 if isinstance(key, tuple) else 0)
    cache.check()


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda k: type(k).__name__)
def test_an_unsupported_key_is_never_contained_and_an_unhashable_one_raises(cache, key):
    """As in a dict: `in` is False for a hashable key that cannot be there, and raises
    TypeError for an unhashable one."""
    try:
        hash(key)
    except TypeError:
        with pytest.raises(TypeError, match="unhashable"):
            key in cache  # noqa: B015 - the comparison raising is the point
        with pytest.raises(TypeError, match="unhashable"):
            key in {"a": 1}  # noqa: B015 - what a dict does
    else:
        assert key not in cache
    cache.check()


def test_key_longer_than_the_limit_raises_value_error_naming_its_size(cache):
    longest = "k" * 65534
    cache[longest] = 1
    assert cache[longest] == 1
    with pytest.raises(ValueError, match=r"key of 65535 bytes.*at most 65534"):
        cache["k" * 65535] = 1
    with pytest.raises(ValueError, match=r"key of 100000 bytes"):
        cache[b"k" * 100_000] = 1
    with pytest.raises(ValueError, match="invalid argument"):
        cache.get("k" * 65535)
    assert len(cache) == 1
    cache.check()


# ---- values ----


def test_value_larger_than_any_tier_raises_entry_too_large_naming_the_sizes(cache):
    big = b"x" * 600_000  # more than half of the 1 MiB DRAM tier
    with pytest.raises(EntryTooLargeError) as info:
        cache["big"] = big
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "600000 bytes" in message
    assert "dram 1048576 bytes" in message
    assert "big" not in cache
    cache.check()


def test_value_larger_than_the_capacity_tier_raises_entry_too_large(shm_dir):
    with TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=2) as cache:
        cache["fits"] = b"f" * MiB  # on the file tier
        assert cache["fits"] == b"f" * MiB
        with pytest.raises(EntryTooLargeError) as info:
            cache["huge"] = b"h" * (2 * MiB + 1)
        message = str(info.value)
        assert f"{2 * MiB + 1} bytes" in message
        assert "dram 1048576 bytes" in message and f"file {2 * MiB} bytes" in message
        assert "huge" not in cache
        assert cache["fits"] == b"f" * MiB
        cache.check()


def test_unserializable_value_raises_type_error(cache):
    with pytest.raises(TypeError, match="serializer='pickle'"):
        cache["k"] = object()
    with pytest.raises(TypeError, match="serializer='pickle'"):
        cache["k"] = {"nested": lambda: 1}
    assert "k" not in cache
    cache.check()


# ---- a failed set keeps the old value ----


@pytest.mark.parametrize(
    ("bad_value", "ttl", "error"),
    [
        (b"x" * 600_000, None, EntryTooLargeError),
        (object(), None, TypeError),
        ([1, object()], None, TypeError),
        (b"new", 0, ValueError),
        (b"new", -1, ValueError),
        (b"new", "1", TypeError),
    ],
    ids=["too-large", "object", "nested-object", "ttl-zero", "ttl-negative", "ttl-str"],
)
def test_failed_set_leaves_the_old_value_readable(cache, bad_value, ttl, error):
    cache["k"] = {"old": [1, 2]}
    cache["raw"] = b"old raw"
    with pytest.raises(error):
        cache.set("k", bad_value, ttl=ttl)
    with pytest.raises(error):
        cache.set("raw", bad_value, ttl=ttl)
    assert cache["k"] == {"old": [1, 2]}
    assert cache["raw"] == b"old raw"
    assert len(cache) == 2
    cache.check()


def test_replacement_that_cannot_fit_beside_the_old_value_keeps_the_old_value(shm_dir):
    """Replacing needs room for both values at once; when the tier cannot make it the set
    fails with OutOfMemoryError and the old value stays."""
    with TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=1, large_value_bytes=4096) as cache:
        old = b"o" * 700_000
        cache["k"] = old
        with pytest.raises(OutOfMemoryError):
            cache["k"] = b"n" * 900_000  # fits the tier alone, not beside the old value
        assert cache["k"] == old
        cache.check()


def test_failed_set_many_keeps_what_came_before_the_bad_pair(cache):
    cache["b"] = "old b"
    with pytest.raises(TypeError):
        cache.set_many([("a", 1), ("b", object()), ("c", 3)])
    assert cache["a"] == 1
    assert cache["b"] == "old b"
    assert "c" not in cache
    cache.check()


# ---- ttl ----


@pytest.mark.parametrize("ttl", [0, 0.0, -1, -0.5, float("nan"), float("-inf")])
def test_ttl_that_is_not_positive_raises_value_error(cache, ttl):
    cache["k"] = 1
    with pytest.raises(ValueError, match="ttl"):
        cache.set("k", 2, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.touch("k", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.set_many({"k": 3}, ttl=ttl)
    assert cache["k"] == 1
    cache.check()


@pytest.mark.parametrize("ttl", ["1", b"1", True, [1], 1j])
def test_ttl_that_is_not_a_number_raises_type_error(cache, ttl):
    cache["k"] = 1
    with pytest.raises(TypeError, match="ttl"):
        cache.set("k", 2, ttl=ttl)
    with pytest.raises(TypeError, match="ttl"):
        cache.touch("k", ttl=ttl)
    assert cache["k"] == 1
    cache.check()


@pytest.mark.parametrize("ttl", [None, 1e-3 + 3600, float("inf"), 1e300])
def test_huge_or_infinite_ttl_means_no_expiry(cache, ttl):
    cache.set("k", "v", ttl=ttl)
    assert cache["k"] == "v"
    assert cache.touch("k", ttl=ttl) is True
    assert cache.expire() == 0
    assert cache["k"] == "v"
    cache.check()


# ---- sizes and options at construction ----


@pytest.mark.parametrize("dram_mb", [0, 0.0, -1, -0.001, float("nan"), float("-inf"), float("inf")])
def test_dram_mb_not_positive_and_finite_raises_value_error(dram_mb):
    with pytest.raises(ValueError, match="dram_mb must be > 0"):
        TierCache(dram_mb=dram_mb)


def test_dram_mb_below_the_minimum_raises_value_error_naming_it():
    with pytest.raises(ValueError, match=r"dram_mb must be at least 0\.0625"):
        TierCache(dram_mb=0.01)
    with TierCache(dram_mb=0.0625) as cache:
        cache["k"] = 1
        cache.check()


@pytest.mark.parametrize("dram_mb", ["64", None, True, [64]])
def test_dram_mb_not_a_number_raises_type_error(dram_mb):
    with pytest.raises(TypeError, match="dram_mb"):
        TierCache(dram_mb=dram_mb)


@pytest.mark.parametrize("pmem_mb", [0, -8, float("nan"), float("inf")])
def test_pmem_mb_not_positive_raises_value_error(shm_dir, pmem_mb):
    with pytest.raises(ValueError, match="pmem_mb must be > 0"):
        TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=pmem_mb)


def test_pmem_mb_without_a_pmem_dir_raises_value_error():
    with pytest.raises(ValueError, match="pmem_dir"):
        TierCache(dram_mb=1, pmem_mb=8)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("large_value_bytes", -1),
        ("large_value_bytes", 2**64),
        ("promote_hits", -1),
        ("promote_hits", 10**20),
        ("promote_hits", 2**32),
        ("index_tier", -1),
        ("compact_interval", 0),
        ("compact_interval", -0.1),
        ("compact_interval", float("inf")),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(option, value):
    with pytest.raises(ValueError, match=option) as info:
        TierCache(dram_mb=1, **{option: value})
    assert type(info.value) is ValueError  # not a bare OverflowError from the C layer


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("large_value_bytes", "1"),
        ("large_value_bytes", 1.5),
        ("large_value_bytes", True),
        ("promote_hits", "2"),
        ("index_tier", 0.0),
        ("compact_interval", "1"),
        ("compact_interval", True),
    ],
)
def test_options_of_the_wrong_type_raise_type_error_before_anything_is_built(
    option, value, monkeypatch
):
    import tiercache.cache as cache_module

    def not_built(*args, **kwargs):
        raise AssertionError("the native cache was built before the check")

    monkeypatch.setattr(cache_module, "_Native", not_built)
    with pytest.raises(TypeError, match=option):
        TierCache(dram_mb=1, **{option: value})


def test_tier_kinds_are_checked_when_the_tier_is_made():
    with pytest.raises(ValueError, match=r"unknown tier kind 'bogus' \(one of: dram, file, .*hbw"):
        Tier("bogus", 4)
    with pytest.raises(TypeError, match="str"):
        Tier(None, 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="directory"):
        Tier("file", 4)
    assert Tier("hbw", 4).kind == "hbw"  # a kind name: whether it is available is checked later


def test_with_on_a_closed_cache_raises_cache_closed_error():
    cache = TierCache(dram_mb=1)
    cache.close()
    with pytest.raises(CacheClosedError, match="closed"), cache:
        pass


def test_from_tiers_refuses_bad_tier_lists(shm_dir):
    with pytest.raises(ValueError, match="at least one tier"):
        TierCache.from_tiers([])
    with pytest.raises(TypeError, match=r"tiers\[0\] must be a Tier"):
        TierCache.from_tiers(["dram"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"tiers\[1\]\.mb"):
        TierCache.from_tiers([Tier.dram(1), Tier.file(shm_dir, 0)])
    with pytest.raises(ValueError, match="directory"):
        TierCache.from_tiers([Tier.dram(1), Tier("file", 1)])
    with pytest.raises(ValueError, match="1 to 8 tiers"):
        TierCache.from_tiers([Tier.dram(1)] * 9)


def test_a_kind_this_machine_lacks_raises_kind_unavailable():
    with pytest.raises(KindUnavailableError, match="hbw"):
        TierCache.from_tiers([Tier.dram(1), Tier("hbw", 1)])


# ---- pmem_dir is checked at construction ----


def test_missing_pmem_dir_is_refused_at_construction(shm_dir):
    missing = shm_dir / "missing"
    with pytest.raises(DirectoryNotFoundError) as info:
        TierCache(dram_mb=1, pmem_dir=missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert not missing.exists()


def test_regular_file_as_pmem_dir_is_refused_at_construction(shm_dir):
    path = shm_dir / "plain-file"
    path.write_bytes(b"not a directory")
    with pytest.raises(DirectoryNotFoundError, match="not a directory") as info:
        TierCache(dram_mb=1, pmem_dir=path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"not a directory"


def test_unwritable_pmem_dir_is_refused_at_construction(shm_dir):
    """A directory of mode 0o500. Root may write anywhere, so as root the check runs in a
    child process that drops to user nobody."""
    locked = shm_dir / "locked"
    locked.mkdir(mode=0o500)
    os.chmod(shm_dir, 0o755)

    def construct() -> int:
        try:
            TierCache(dram_mb=1, pmem_dir=locked)
        except DirectoryAccessError as exc:
            return 0 if isinstance(exc, PermissionError) and str(locked) in str(exc) else 3
        except Exception as exc:
            os.write(2, f"wrong exception: {exc!r}\n".encode())
            return 2
        return 1

    if os.geteuid() != 0:
        assert construct() == 0
    else:
        assert run_in_child(construct, user=NOBODY) == 0
    assert os.listdir(locked) == []


def test_read_only_pmem_dir_is_refused_at_construction_even_for_root(mounted, shm_dir):
    target = mounted(["--bind", "-o", "ro", str(shm_dir)])
    with pytest.raises(DirectoryAccessError):
        TierCache(dram_mb=1, pmem_dir=target)


def test_pmem_dir_without_hole_punching_is_refused_at_construction(mounted):
    """ramfs accepts files but not FALLOC_FL_PUNCH_HOLE, which freeing on the capacity tier
    needs."""
    target = mounted(["-t", "ramfs", "none"])
    with pytest.raises(UnsupportedFilesystemError) as info:
        TierCache(dram_mb=1, pmem_dir=target)
    assert "hole punching" in str(info.value)
    assert str(target) in str(info.value)


# ---- closed caches ----


def closed_cache_operations(cache: TierCache) -> dict:
    return {
        "get": lambda: cache.get("a"),
        "get_nocopy": lambda: cache.get("a", copy=False),
        "getitem": lambda: cache["a"],
        "set": lambda: cache.set("a", 1),
        "set_bytes": lambda: cache.set("a", b"raw"),
        "setitem_big": lambda: cache.__setitem__("a", b"x" * MiB),
        "delitem": lambda: cache.__delitem__("a"),
        "delete": lambda: cache.delete("a"),
        "contains": lambda: "a" in cache,
        "contains_tuple": lambda: ("a", 1) in cache,
        "len": lambda: len(cache),
        "iter": lambda: list(cache),
        "keys": lambda: list(cache.keys()),
        "items": lambda: list(cache.items()),
        "values": lambda: list(cache.values()),
        "eq": lambda: cache == {},
        "pop": lambda: cache.pop("a", None),
        "popitem": lambda: cache.popitem(),
        "setdefault": lambda: cache.setdefault("a", 1),
        "update": lambda: cache.update(a=1),
        "get_many": lambda: cache.get_many(["a"]),
        "set_many": lambda: cache.set_many({"a": 1}),
        "clear": cache.clear,
        "touch": lambda: cache.touch("a", 1),
        "expire": cache.expire,
        "compact": cache.compact,
        "stats": cache.stats,
        "check": cache.check,
        "memoized_call": lambda: cache.memoize()(lambda x: x)(1),
    }


def test_every_operation_after_close_raises_cache_closed_error(shm_dir):
    cache = TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=4)
    cache["a"] = b"x" * 100_000
    cache.check()
    cache.close()
    assert cache.closed
    for name, op in closed_cache_operations(cache).items():
        with pytest.raises(CacheClosedError) as info:
            op()
        assert "closed" in str(info.value), name
        assert isinstance(info.value, ValueError), name
    assert "closed" in repr(cache)


def test_close_is_idempotent_and_the_context_manager_closes():
    cache = TierCache(dram_mb=1)
    cache.close()
    cache.close()
    with TierCache(dram_mb=1) as managed:
        managed["k"] = 1
        managed.check()
    assert managed.closed
    with pytest.raises(CacheClosedError):
        managed["k"]


def test_context_manager_closes_when_the_body_raises():
    cache = TierCache(dram_mb=1)

    def body() -> None:
        with cache:
            cache["k"] = 1
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        body()
    assert cache.closed
    with pytest.raises(CacheClosedError):
        len(cache)


def test_a_cache_cannot_be_pickled(cache):
    import pickle

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(cache)
    cache.check()


# ---- issue 13: full and unusual filesystems, pinned views ----


def test_file_tier_larger_than_its_filesystem_warns_cuts_its_budget_and_keeps_working(mounted):
    """Issue 13 item 5: 8 MiB tmpfs, pmem_mb=64: a warning, then 1 MiB sets evict, never fail."""
    small = mounted(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
    with pytest.warns(CapacityWarning, match="8.0 MiB free"):
        cache = TierCache(2, small, 64)
    assert cache.stats()["tiers"][1]["budget"] < 8 << 20
    for i in range(40):
        cache[i] = bytes([i]) * (1 << 20)
        assert cache[i] == bytes([i]) * (1 << 20)
    cache.check()
    cache.close()


def test_nul_byte_in_pmem_dir_is_a_value_error(shm_dir):
    """Issue 13 item 7: C would stop at the NUL and use the directory before it."""
    with pytest.raises(ValueError, match="null byte"):
        TierCache(4, f"{shm_dir}\0this/does/not/exist")


def test_directory_that_cannot_hold_files_says_so_not_that_it_is_missing():
    """Issue 13 item 8: /proc exists; the error says its filesystem cannot hold the file."""
    with pytest.raises(UnsupportedFilesystemError, match="proc filesystem there cannot hold"):
        TierCache(4, "/proc")


def test_ext2_without_fallocate_is_usable_and_info_agrees(mounted, tmp_path):
    """Issue 13 item 6: ext2 punches holes but has no fallocate(mode 0): blocks are
    zero-filled instead, and `tiercache info` gives the same answer as TierCache."""
    if shutil.which("mkfs.ext2") is None:
        pytest.skip("no mkfs.ext2 here")
    image = tmp_path / "ext2.img"
    image.write_bytes(b"")
    os.truncate(image, 32 << 20)
    subprocess.run(["mkfs.ext2", "-q", "-F", str(image)], check=True, capture_output=True)
    target = mounted(["-o", "loop", str(image)])
    usable, detail = punch_hole(str(target))
    assert usable, detail
    with TierCache(2, target, 16) as cache:
        for i in range(10):
            cache[i] = bytes([i]) * 700_000
        assert all(cache[i] == bytes([i]) * 700_000 for i in range(10) if i in cache)
        assert cache.stats()["tiers"][1]["items"] > 0
        cache.check()


def test_set_failing_because_views_pin_the_tier_says_so(shm_dir):
    """Issue 13 item 9: views held on every value of a full file tier: the error names them."""
    cache = TierCache(1, shm_dir, 8)
    views = []

    def fill_and_hold() -> None:
        for i in range(200):
            cache[i] = bytes([i % 256]) * 100_000
            views.append(cache.get(i, copy=False))

    with pytest.raises(OutOfMemoryError, match="pinned by zero-copy views"):
        fill_and_hold()
    views.clear()
    cache.close()
