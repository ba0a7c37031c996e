"""`make reliability`: the fault sweep, the process-event and zero-copy tests, and a bounded
fuzz run, each in its own process (so that a crash is counted, not fatal), ending with one line:

    reliability: F faults injected, E fuzz executions, C crashes, V invariant violations,
    L acknowledged values lost

    python scripts/reliability.py [--fuzz-seconds 60] [--per-primitive 60]
Exit status 0 only when crashes, violations and lost values are all 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

SWEEP = """
import errno, json, sys, tempfile, shutil, pathlib
sys.path.insert(0, {tests!r})
import faultsweep
d = pathlib.Path(tempfile.mkdtemp(prefix="tiercache-sweep-", dir="/dev/shm"))
try:
    modes = ((1, errno.ENOMEM), (0, errno.ENOMEM), (0, errno.ENOSPC), (1, errno.EIO))
    s = faultsweep.sweep(d, per_primitive={per}, modes=modes)
finally:
    shutil.rmtree(d, ignore_errors=True)
print(json.dumps(dict(runs=s.runs, faults=s.faults, errors=s.errors, lost=s.lost,
                      violations=s.violations[:20], nviolations=len(s.violations))))
"""

TESTS = [
    "tests/test_faults.py",
    "tests/test_process_events.py",
    "tests/test_cache_zero_copy_lifetime.py",
    "tests/test_fuzz_cache_model.py",
    "tests/test_kind_file.py",
]


def run_sweep(per_primitive: int) -> dict:
    code = SWEEP.format(tests=str(ROOT / "tests"), per=per_primitive)
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return {"crashed": True, "faults": 0, "lost": 0, "nviolations": 0, "runs": 0}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["crashed"] = False
    return result


def run_tests() -> tuple[int, int, bool]:
    """(passed, failed, crashed) of the reliability test files."""
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", tail)) else 0
    crashed = done.returncode not in (0, 1)
    if failed or crashed:
        print(done.stdout[-5000:], done.stderr[-2000:], file=sys.stderr)
    return passed, failed, crashed


def run_fuzz(seconds: int) -> tuple[int, int, int]:
    """(executions, crashes, violations) of a bounded fuzz run."""
    env = dict(os.environ, PYTHON=PYTHON)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "fuzz.sh"), str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    print(done.stdout.strip())
    m = re.search(r"fuzz: (\d+) executions, (\d+) crashes, (\d+) invariant violations", done.stdout)
    if not m:
        print(done.stderr[-2000:], file=sys.stderr)
        return 0, 1, 0
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz-seconds", type=int, default=60)
    parser.add_argument("--per-primitive", type=int, default=60)
    args = parser.parse_args()

    sweep = run_sweep(args.per_primitive)
    print(
        f"fault sweep: {sweep['runs']} runs, {sweep['faults']} faults injected, "
        f"{sweep.get('errors', 0)} errors surfaced, {sweep['nviolations']} violations, "
        f"{sweep['lost']} values lost{', CRASHED' if sweep['crashed'] else ''}"
    )
    for v in sweep.get("violations", []):
        print("  violation:", v)
    passed, failed, tests_crashed = run_tests()
    print(f"reliability tests: {passed} passed, {failed} failed")
    execs, fuzz_crashes, fuzz_violations = run_fuzz(args.fuzz_seconds)

    crashes = int(sweep["crashed"]) + int(tests_crashed) + fuzz_crashes
    violations = sweep["nviolations"] + failed + fuzz_violations
    lost = sweep["lost"]
    print(
        f"reliability: {sweep['faults']} faults injected, {execs} fuzz executions, "
        f"{crashes} crashes, {violations} invariant violations, {lost} acknowledged values lost"
    )
    return 0 if crashes == violations == lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
