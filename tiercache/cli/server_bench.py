"""``tiercache bench --server ...``: issue 12's server benchmark, benchmarks/server/bench.py.

tiercache-server against memcached and redis-server, measured by the C load generator in
benchmarks/server (a Python client is too slow to measure a server). Both live in the source
checkout, not in the installed package: this command runs them from there, building the load
generator first when it is missing. Every other argument is bench.py's own
(``tiercache bench --server --help``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "server" / "bench.py"
LOADGEN = ROOT / "build" / "bench" / "loadgen"


def run_server_bench(argv: Sequence[str]) -> int:
    """Run bench.py with argv; its exit status (1 when it cannot be found or built)."""
    if not SCRIPT.is_file():
        print(
            f"tiercache bench --server: error: needs a source checkout of tiercache "
            f"(benchmarks/server/bench.py not found under {ROOT})",
            file=sys.stderr,
        )
        return 1
    if not LOADGEN.is_file():
        built = subprocess.run(["make", "-s", "-C", str(SCRIPT.parent)], check=False)
        if built.returncode != 0:
            print("tiercache bench --server: error: cannot build the load generator "
                  "(make -C benchmarks/server)", file=sys.stderr)  # fmt: skip
            return 1
    return subprocess.run([sys.executable, str(SCRIPT), *argv], check=False).returncode
