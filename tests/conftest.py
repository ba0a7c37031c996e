"""Shared fixtures: scratch directories on /dev/shm (tmpfs supports hole punching)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import tiercache

settings.register_profile("default", deadline=None, max_examples=50)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """An empty directory on /dev/shm, removed afterwards."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm on this machine")
    path = Path(tempfile.mkdtemp(prefix="tiercache-test-", dir="/dev/shm"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def file_kind(shm_dir: Path) -> Iterator[tiercache.Kind]:
    """An unbounded file-backed kind in shm_dir, closed afterwards."""
    with tiercache.Kind.file(shm_dir) as kind:
        yield kind


@pytest.fixture
def mounted(tmp_path):
    """mount(args, target) as root, unmounted afterwards; skips where mounting is refused."""
    targets = []

    def mount(args: list[str]) -> Path:
        target = Path(tempfile.mkdtemp(dir=tmp_path))
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
        targets.append(target)
        return target

    if os.geteuid() != 0:
        pytest.skip("mounting a test filesystem needs root")
    yield mount
    for target in reversed(targets):
        # A file still open there (a cache not yet collected) makes umount fail: detach it
        # lazily then, so that no mount outlives the test (pytest could not remove its
        # temporary directories, and later runs would fail at exit).
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)
