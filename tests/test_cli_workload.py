"""The benchmark's request sequence: memtier's key patterns, ratios, sizes and expiry, built
the same way every time for the same knobs."""

from __future__ import annotations

from collections import Counter

import pytest

from tiercache.cli.workload import WorkloadError, WorkloadSpec, build


def numbers(keys: list[str], prefix: str = "memtier-") -> list[int]:
    return [int(k[len(prefix) :]) for k in keys]


def test_same_knobs_give_the_identical_sequence_and_another_seed_does_not():
    spec = WorkloadSpec(requests=2000, key_maximum=999, data_size_range=(1, 100))
    a, b = build(spec), build(spec)
    assert a.threads[0].keys == b.threads[0].keys
    assert a.threads[0].values == b.threads[0].values
    other = build(WorkloadSpec(requests=2000, key_maximum=999, data_size_range=(1, 100), seed=2))
    assert other.threads[0].keys != a.threads[0].keys


def test_ratio_issues_sets_then_gets_in_turn():
    seq = build(WorkloadSpec(ratio=(2, 3), requests=10)).threads[0]
    assert [v is not None for v in seq.values] == [True, True, False, False, False] * 2
    assert seq.ttls is None


def test_sequential_walks_the_range_and_wraps():
    seq = build(WorkloadSpec(ratio=(1, 0), key_pattern=("S", "S"), key_minimum=5,
                             key_maximum=8, requests=6)).threads[0]  # fmt: skip
    assert numbers(seq.keys) == [5, 6, 7, 8, 5, 6]


def test_parallel_gives_each_thread_its_own_slice():
    wl = build(WorkloadSpec(ratio=(1, 0), key_pattern=("P", "P"), key_minimum=0,
                            key_maximum=9, threads=2, requests=5))  # fmt: skip
    assert numbers(wl.threads[0].keys) == [0, 1, 2, 3, 4]
    assert numbers(wl.threads[1].keys) == [5, 6, 7, 8, 9]


def test_uniform_gaussian_and_zipf_stay_in_range_with_their_shapes():
    base = {"ratio": (0, 1), "key_minimum": 100, "key_maximum": 1099, "requests": 20000}
    uniform = numbers(build(WorkloadSpec(key_pattern=("R", "R"), **base)).threads[0].keys)
    gauss = numbers(build(WorkloadSpec(key_pattern=("G", "G"), key_stddev=50, **base))
                    .threads[0].keys)  # fmt: skip
    zipf = numbers(build(WorkloadSpec(key_pattern=("Z", "Z"), **base)).threads[0].keys)
    for ks in (uniform, gauss, zipf):
        assert min(ks) >= 100 and max(ks) <= 1099
    assert sum(450 <= k <= 749 for k in uniform) / len(uniform) == pytest.approx(0.3, abs=0.03)
    # a stddev of 50 around the middle (599.5): ~95% within 2 stddev
    assert sum(500 <= k <= 699 for k in gauss) / len(gauss) == pytest.approx(0.95, abs=0.02)
    # Zipf(1) over 1000 keys: the hottest key (the minimum) takes 1/H(1000) ~ 13%
    top, count = Counter(zipf).most_common(1)[0]
    assert top == 100
    assert count / len(zipf) == pytest.approx(0.134, abs=0.02)


def test_data_sizes_range_list_and_sequential_pattern():
    seq = build(WorkloadSpec(ratio=(1, 0), data_size_range=(10, 12), data_size_pattern="S",
                             requests=5)).threads[0]  # fmt: skip
    assert [len(v) for v in seq.values] == [10, 11, 12, 10, 11]
    seq = build(WorkloadSpec(ratio=(1, 0), data_size_list=((100, 3), (7, 1)), requests=4000))
    sizes = Counter(len(v) for v in seq.threads[0].values)
    assert set(sizes) == {100, 7}
    assert sizes[100] / 4000 == pytest.approx(0.75, abs=0.03)


def test_expiry_range_gives_sets_a_ttl_and_zero_means_none():
    seq = build(WorkloadSpec(ratio=(1, 1), expiry_range=(0, 3), requests=400)).threads[0]
    assert seq.ttls is not None
    for v, t in zip(seq.values, seq.ttls):
        if v is None:
            assert t is None
        else:
            assert t is None or 1 <= t <= 3
    assert {t for t in seq.ttls if t} == {1, 2, 3}


def test_prepopulate_sets_every_key_once():
    wl = build(WorkloadSpec(key_minimum=3, key_maximum=7))
    assert numbers(wl.prepopulate.keys) == [3, 4, 5, 6, 7]
    assert all(v is not None for v in wl.prepopulate.values)


def test_byte_counts_cover_keys_and_values_and_cycle():
    seq = build(WorkloadSpec(ratio=(1, 1), key_pattern=("S", "S"), key_maximum=9,
                             key_prefix="k", data_size=10, requests=4)).threads[0]  # fmt: skip
    # k0 set (2 + 10), k0 get (2), k1 set (2 + 10), k1 get (2)
    assert seq.set_bytes(4) == 24 and seq.get_key_bytes(4) == 4
    assert seq.set_bytes(6) == 36 and seq.get_key_bytes(3) == 2


def test_huge_size_ranges_are_rounded_to_keep_the_value_pool_small():
    wl = build(WorkloadSpec(ratio=(1, 0), data_size_range=(1, 4 << 20), requests=50))
    assert wl.size_granularity > 1
    assert all(len(v) % wl.size_granularity == 0 for v in wl.threads[0].values)


def test_nonsense_is_a_workload_error():
    with pytest.raises(WorkloadError, match="unknown pattern"):
        build(WorkloadSpec(key_pattern=("R", "Y")))
    with pytest.raises(WorkloadError, match="one key per thread"):
        WorkloadSpec(key_pattern=("P", "P"), key_maximum=1, threads=4).validate()
