"""Command line: ``tiercache info [--json] [--dir DIR]`` (more subcommands come later)."""

from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from tiercache import __version__, _bindings
from tiercache.errors import TierCacheError
from tiercache.kinds import Kind


def _default_file_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def _probe(name: str, make: Any, detail: str) -> dict[str, Any]:
    """Create a kind with make(), report whether it allocates and its capacity, close it."""
    row: dict[str, Any] = {"name": name, "available": False, "capacity": None, "detail": detail}
    try:
        with make() as kind:
            kind.check_available()
            kind.allocate(64).free()
            row["available"] = True
            row["capacity"] = kind.capacity
    except TierCacheError as exc:
        row["error"] = str(exc)
    return row


def info(file_dir: str) -> dict[str, Any]:
    """Versions and which kinds can allocate on this machine."""
    fixed_area = mmap.mmap(-1, 4 << 20)
    try:
        kinds = [
            _probe("dram", Kind.dram, "default DRAM kind"),
            _probe("file", lambda: Kind.file(file_dir), f"file-backed, dir={file_dir}"),
            _probe("fixed", lambda: Kind.fixed(fixed_area), "caller's memory area (4 MiB probe)"),
        ]
    finally:
        fixed_area.close()
    return {
        "version": __version__,
        "native_version": "{}.{}.{}".format(*_bindings.version()),
        "python": sys.version.split()[0],
        "options_error": _bindings.options_error(),
        "kinds": kinds,
    }


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _print_info(report: dict[str, Any]) -> None:
    print(f"tiercache {report['version']} (native {report['native_version']})")
    if report["options_error"]:
        print(f"invalid environment option: {report['options_error']}")
    print(f"{'kind':<6} {'available':<9} {'capacity':>10}  detail")
    for row in report["kinds"]:
        avail = "yes" if row["available"] else "no"
        detail = row["detail"] + (f" ({row['error']})" if "error" in row else "")
        print(f"{row['name']:<6} {avail:<9} {_human(row['capacity']):>10}  {detail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tiercache", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tiercache {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="show versions and which kinds are available")
    p_info.add_argument("--json", action="store_true", help="print one JSON object")
    p_info.add_argument("--dir", default=None, help="directory to probe the file kind in")
    args = parser.parse_args(argv)

    if args.command == "info":
        report = info(args.dir or _default_file_dir())
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_info(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
