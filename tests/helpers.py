"""Paths and small utilities shared by the tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "native" / "include" / "tiercache" / "tiercache.h"
CACHE_HEADER = ROOT / "native" / "include" / "tiercache" / "cache.h"
TESTING_HEADER = ROOT / "native" / "include" / "tiercache" / "testing.h"
CDEF = ROOT / "tiercache" / "_cdef.h"
MiB = 1 << 20


def mapping_of(address: int) -> str | None:
    """The pathname column of /proc/self/maps for the mapping holding address ('' if anon)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else ""
    return None


def header_version() -> str:
    text = HEADER.read_text()
    parts = [
        re.search(rf"#define TC_VERSION_{p}\s+(\d+)", text).group(1)
        for p in ("MAJOR", "MINOR", "PATCH")
    ]
    return ".".join(parts)


def run_in_child(fn, *, user: int | None = None) -> int:
    """Run fn() in a forked child (as uid `user` if given); return its exit status.

    fn returns an int exit code; an exception exits with 99 after printing it.
    """
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 99
        try:
            if user is not None:
                os.setgid(user)
                os.setuid(user)
            code = int(fn())
        except BaseException as exc:  # report anything to the parent's output
            os.write(2, f"child failed: {exc!r}\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run_python(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with args outside the source tree, so that the installed
    tiercache (not the bare sources) is imported. env: variables added to this one's."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=tempfile.gettempdir(),
        env={**os.environ, **env} if env else None,
    )
