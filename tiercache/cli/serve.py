"""``tiercache serve ...``: run the memcached-protocol server, tiercache-server.

The server is a C binary (native/server/) installed with the package as
``tiercache/bin/tiercache-server``; ``tiercache serve`` replaces the Python process with it
(exec), passing every argument through, so signals and the exit status are the server's own.
``tiercache serve --help`` lists its options (memcached's -p -l -s -a -t -c -m -I -v -U 0, and
--pmem-dir/--pmem-mb/--tier for the capacity tiers).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

BINARY = "tiercache-server"


def binary_path() -> Path | None:
    """The server binary: $TIERCACHE_SERVER, the package's bin/, the source tree's build, or
    PATH; None when there is none."""
    env = os.environ.get("TIERCACHE_SERVER")
    here = Path(__file__).resolve().parent.parent
    for candidate in (
        Path(env) if env else None,
        here / "bin" / BINARY,
        here.parent / "native" / "build" / "bin" / BINARY,
    ):
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(BINARY)
    return Path(found) if found else None


def run_serve(argv: Sequence[str]) -> int:
    """Exec the server with argv; returns only when it cannot be started (status 1)."""
    binary = binary_path()
    if binary is None:
        print(
            f"tiercache serve: error: {BINARY} is not installed (it needs libevent: apt install "
            "libevent-dev, then reinstall tiercache or run `make -C native server`)",
            file=sys.stderr,
        )
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(binary, [str(binary), *argv])
    except OSError as exc:
        print(f"tiercache serve: error: cannot run {binary}: {exc}", file=sys.stderr)
    return 1
