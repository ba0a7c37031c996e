"""The shared mapping conformance suite (tests/mapping_conformance.py) against dict, against a
DRAM-only TierCache and against a TierCache with a file tier. The class attributes set for
TierCache are the README's "Differences from dict"."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import MutableMapping

import pytest
from mapping_conformance import MappingConformance

from tiercache import TierCache


class TestDict(MappingConformance):
    """The suite's own check: every test holds for a plain dict."""

    def make(self) -> MutableMapping:
        return {}


class TestTierCache(MappingConformance):
    any_hashable_key = False
    returns_stored_objects = False
    keeps_insertion_order = False
    iteration_guards_changes = False
    picklable = False

    def make(self) -> MutableMapping:
        return TierCache(dram_mb=4)


class TestTierCacheWithFileTier(TestTierCache):
    def make(self) -> MutableMapping:
        if not os.path.isdir("/dev/shm"):
            pytest.skip("no /dev/shm on this machine")
        self._dir = tempfile.mkdtemp(prefix="tiercache-conformance-", dir="/dev/shm")
        # large_value_bytes=1: every value starts on the file tier
        return TierCache(dram_mb=1, pmem_dir=self._dir, pmem_mb=16, large_value_bytes=1)

    def finish(self, mapping: MutableMapping) -> None:
        try:
            super().finish(mapping)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


def test_the_differences_are_the_ones_the_readme_lists():
    """Each flag TierCache sets is a bullet of the README's "Differences from dict"."""
    from helpers import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Differences from dict", 1)[1].split("\n## ", 1)[0]
    for phrase in (
        "Keys are `str`, `bytes`, `int`",
        "copy",
        "insertion order",
        "while iterating",
        "pickled",
        "evict",
        "popitem()",
        "setdefault",
        "unhashable",
    ):
        assert phrase in section, phrase
