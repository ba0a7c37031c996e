"""The differential fuzzer's model (fuzz/fuzz_cache.py): every committed corpus input replays
without a violation, and the model does catch a cache that breaks its promises."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from tiercache import TierCache

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import fuzz_cache  # noqa: E402

CORPUS = sorted((FUZZ / "corpus" / "cache").iterdir())


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free this test's caches now, not during a later test's measurements."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _scratch(shm_dir, monkeypatch):
    monkeypatch.setattr(fuzz_cache, "SCRATCH", str(shm_dir))


def test_corpus_is_committed():
    assert len(CORPUS) >= 10


def test_every_corpus_input_replays_without_a_violation():
    for path in CORPUS:
        fuzz_cache.run(path.read_bytes())


def _sets_then_reads(key: int) -> bytes:
    """dram 0.25 MiB, file 4 MiB; set key, delete it, read it back."""
    return bytes([2, 2, 0, 0, key, 2, 8, key, 0, 5, key, 1])


def test_the_model_catches_a_delete_that_does_not_delete(monkeypatch):
    fuzz_cache.run(_sets_then_reads(3))  # the honest cache passes
    monkeypatch.setattr(TierCache, "delete", lambda self, key: True)
    with pytest.raises(fuzz_cache.InvariantViolation):
        fuzz_cache.run(_sets_then_reads(3))


def test_the_model_catches_a_wrong_value(monkeypatch):
    real_get = TierCache.get

    def corrupt(self, key, default=None, *, copy=True):
        got = real_get(self, key, default, copy=copy)
        return b"!" + bytes(got)[1:] if isinstance(got, (bytes, memoryview)) and got else got

    monkeypatch.setattr(TierCache, "get", corrupt)
    with pytest.raises(fuzz_cache.InvariantViolation):
        fuzz_cache.run(bytes([2, 2, 0, 0, 3, 2, 5, 3, 1]))
