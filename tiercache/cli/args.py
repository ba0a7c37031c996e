"""The command line's arguments: `tiercache bench` (memtier_benchmark's knobs) and `info`.

Every knob that makes no sense ends in UsageError: the command prints one line
("tiercache bench: error: ...") and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from tiercache.cli.peers import PEERS, CacheConfig
from tiercache.cli.spec import WorkloadError, WorkloadSpec

POLICIES = ("s3fifo",)  # the native cache's eviction policy (native/src/cache)


class UsageError(Exception):
    """A bad command line: printed on one line ("PROG: error: MESSAGE"), exit status 2."""

    def __init__(self, message: str, prog: str = "tiercache bench") -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        if self.prog == "tiercache" and ("command" in message or "invalid choice" in message):
            self.print_usage(sys.stderr)  # no command, or an unknown one: show what there is
        raise UsageError(message, self.prog)


@dataclass
class BenchArgs:
    workload: WorkloadSpec
    cache: CacheConfig
    pmem_temp: bool  # pmem_dir is a temporary directory the command creates and removes
    prepopulate: bool
    run_count: int
    percentiles: list[float]
    hide_histogram: bool
    json_out: str | None
    compare: list[str]
    plot_dir: str | None
    sweep_dram_mb: list[float]
    progress: bool


def _pair(text: str, sep: str, what: str, conv: Any = int) -> tuple[Any, Any]:
    parts = text.split(sep)
    if len(parts) != 2:
        raise UsageError(f"{what} {text!r}: expected two values separated by {sep!r}")
    try:
        return conv(parts[0]), conv(parts[1])
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected numbers, e.g. 1{sep}10") from None


def _number_list(text: str, what: str, conv: Any = float) -> list[Any]:
    try:
        values = [conv(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected comma-separated numbers") from None
    if not values:
        raise UsageError(f"{what} is empty")
    return values


def build_parser() -> argparse.ArgumentParser:
    from tiercache import __version__

    parser = _Parser(prog="tiercache", description="tiercache: a tiered cache over memory kinds")
    parser.add_argument("--version", action="version", version=f"tiercache {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser(  # handled before parsing (cli/__init__.py): listed for --help
        "serve", help="run the memcached-protocol server (tiercache serve --help)", add_help=False
    )
    info = sub.add_parser("info", help="the machine's memory, kinds and directories")
    info.add_argument("dirs", nargs="*", metavar="DIR", help="directories to examine")
    info.add_argument("--dir", action="append", default=[], help=argparse.SUPPRESS)
    info.add_argument("--json", action="store_true", help="print one JSON object")

    b = sub.add_parser(
        "bench",
        help="memtier_benchmark-style benchmark, in process",
        description="Replays one generated request sequence on tiercache (and --compare "
        "peers), memtier_benchmark style. -n is per thread.",
    )
    w = b.add_argument_group("workload (memtier_benchmark's knobs)")
    w.add_argument("--ratio", default="1:10", help="SET:GET ratio (default 1:10)")
    w.add_argument("--key-pattern", default="R:R", help="SET:GET patterns of R, S, G, Z, P")
    w.add_argument("--key-minimum", type=int, default=0)
    w.add_argument("--key-maximum", type=int, default=100_000)
    w.add_argument("--key-prefix", default="memtier-")
    w.add_argument("--key-stddev", type=float, default=None, help="G: default (max-min)/6")
    w.add_argument("--key-median", type=float, default=None, help="G: default the middle")
    w.add_argument("--key-zipf-exp", type=float, default=1.0, help="Z: exponent in (0, 5)")
    w.add_argument("-d", "--data-size", type=int, default=None, help="value bytes (32)")
    w.add_argument("--data-size-range", default=None, metavar="MIN-MAX")
    w.add_argument("--data-size-list", default=None, metavar="SIZE:WEIGHT,...")
    w.add_argument("--data-size-pattern", default="R", help="R random or S sequential sizes")
    w.add_argument("-t", "--threads", type=int, default=1)
    w.add_argument("-n", "--requests", default=None, help="per thread (200000), or allkeys")
    w.add_argument("--test-time", type=float, default=None, metavar="SECS")
    w.add_argument("--expiry-range", default="0-0", metavar="MIN-MAX", help="ttl in seconds")
    w.add_argument("-x", "--run-count", type=int, default=1)
    w.add_argument("--seed", type=int, default=1)
    w.add_argument(
        "--prepopulate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="set every key once before each run, untimed (default on)",
    )
    o = b.add_argument_group("output")
    o.add_argument("--print-percentiles", default="50,99,99.9")
    o.add_argument("--hide-histogram", action="store_true")
    o.add_argument("--json-out-file", default=None, metavar="FILE")
    o.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar on a terminal, for runs over 3 s")  # fmt: skip
    c = b.add_argument_group("cache")
    c.add_argument("--dram-mb", type=float, default=64)
    c.add_argument("--pmem-dir", default=None, help="capacity tier directory (default: a "
                   "temporary directory on /dev/shm)")  # fmt: skip
    c.add_argument("--pmem-mb", type=float, default=None, help="default 8 x --dram-mb")
    c.add_argument("--no-pmem", action="store_true", help="DRAM only, no capacity tier")
    c.add_argument("--policy", default="s3fifo", help=f"eviction policy: {', '.join(POLICIES)}")
    c.add_argument("--promote-hits", type=int, default=2)
    c.add_argument("--large-value-bytes", type=int, default=64 * 1024)
    p = b.add_argument_group("comparison and plots")
    p.add_argument("--compare", default=None, metavar="LIST", help=", ".join(PEERS))
    p.add_argument("--plot", default=None, metavar="DIR", help="write PNG plots into DIR")
    p.add_argument("--sweep-dram-mb", default=None, metavar="MB,MB,...")
    p.add_argument(
        "--server",
        action="store_true",
        help="instead: the server benchmark (tiercache-server against memcached and redis; "
        "tiercache bench --server --help)",
    )
    return parser


def _data_size_list(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(_pair(item, ":", "--data-size-list") for item in text.split(",") if item)


def _workload(a: argparse.Namespace) -> WorkloadSpec:
    if not 0 <= a.seed < 2**32:
        raise UsageError(f"--seed must be in [0, 2**32), not {a.seed}")
    sizes = [x for x in (a.data_size, a.data_size_range, a.data_size_list) if x is not None]
    if len(sizes) > 1:
        raise UsageError("use only one of -d/--data-size, --data-size-range, --data-size-list")
    if a.requests is not None and a.test_time is not None:
        raise UsageError("use either -n/--requests or --test-time")
    pattern = a.key_pattern.upper()
    if ":" not in pattern:
        raise UsageError(f"--key-pattern {a.key_pattern!r}: expected SET:GET, e.g. R:R")
    key_pattern = tuple(pattern.split(":", 1))
    if len(key_pattern[0]) != 1 or len(key_pattern[1]) != 1:
        raise UsageError(f"--key-pattern {a.key_pattern!r}: one letter on each side, e.g. Z:Z")
    requests: int | None = 200_000
    if a.test_time is not None:
        requests = None
    elif a.requests is not None:
        if a.requests == "allkeys":
            requests = a.key_maximum - a.key_minimum + 1
        else:
            try:
                requests = int(a.requests)
            except ValueError:
                raise UsageError(f"-n/--requests {a.requests!r}: a number or allkeys") from None
    spec = WorkloadSpec(
        ratio=_pair(a.ratio, ":", "--ratio"),
        key_pattern=key_pattern,
        key_minimum=a.key_minimum,
        key_maximum=a.key_maximum,
        key_prefix=a.key_prefix,
        key_stddev=a.key_stddev,
        key_median=a.key_median,
        key_zipf_exp=a.key_zipf_exp,
        data_size=a.data_size if a.data_size is not None else 32,
        data_size_range=_pair(a.data_size_range, "-", "--data-size-range")
        if a.data_size_range
        else None,
        data_size_list=_data_size_list(a.data_size_list) if a.data_size_list else None,
        data_size_pattern=a.data_size_pattern.upper(),
        threads=a.threads,
        requests=requests,
        test_time=a.test_time,
        expiry_range=_pair(a.expiry_range, "-", "--expiry-range"),
        seed=a.seed,
    )
    try:
        spec.validate()
    except WorkloadError as exc:
        raise UsageError(str(exc)) from None
    return spec


def _cache(a: argparse.Namespace) -> tuple[CacheConfig, bool]:
    if not a.dram_mb > 0:
        raise UsageError(f"--dram-mb must be > 0, not {a.dram_mb:g}")
    if a.pmem_mb is not None and not a.pmem_mb > 0:
        raise UsageError(f"--pmem-mb must be > 0, not {a.pmem_mb:g}")
    if a.no_pmem and (a.pmem_dir or a.pmem_mb):
        raise UsageError("--no-pmem excludes --pmem-dir and --pmem-mb")
    if a.policy not in POLICIES:
        raise UsageError(f"--policy {a.policy!r}: one of {', '.join(POLICIES)}")
    if a.promote_hits < 0 or a.large_value_bytes < 0:
        raise UsageError("--promote-hits and --large-value-bytes must be >= 0")
    if a.pmem_dir is not None and not os.path.isdir(a.pmem_dir):
        raise UsageError(f"--pmem-dir {a.pmem_dir!r} is not a directory")
    cfg = CacheConfig(
        dram_mb=a.dram_mb,
        pmem_dir=None if a.no_pmem else a.pmem_dir,
        pmem_mb=None if a.no_pmem else a.pmem_mb,
        policy=a.policy,
        promote_hits=a.promote_hits,
        large_value_bytes=a.large_value_bytes,
    )
    return cfg, not a.no_pmem and a.pmem_dir is None


def _check_plot_dir(path: str) -> None:
    """--plot's directory exists (made now if not) and takes files: checked before the run."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"--plot {path!r} is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(f"--plot {path!r}: cannot write there: {exc.strerror}") from None


def bench_args(a: argparse.Namespace) -> BenchArgs:
    """The checked bench arguments; UsageError for the first that makes no sense."""
    workload = _workload(a)
    cache, pmem_temp = _cache(a)
    if a.run_count < 1:
        raise UsageError(f"-x/--run-count must be >= 1, not {a.run_count}")
    percentiles = _number_list(a.print_percentiles, "--print-percentiles")
    if any(not 0 < p <= 100 for p in percentiles):
        raise UsageError(f"--print-percentiles {a.print_percentiles!r}: each in (0, 100]")
    compare: list[str] = []
    if a.compare:
        for name in (x.strip().lower() for x in a.compare.split(",")):
            if name not in PEERS:
                raise UsageError(f"--compare: unknown store {name!r} (one of {', '.join(PEERS)})")
            if name not in compare:
                compare.append(name)
    sweep = _number_list(a.sweep_dram_mb, "--sweep-dram-mb") if a.sweep_dram_mb else []
    if any(not mb > 0 for mb in sweep):
        raise UsageError(f"--sweep-dram-mb {a.sweep_dram_mb!r}: each must be > 0")
    if a.json_out_file is not None:
        parent = os.path.dirname(os.path.abspath(a.json_out_file))
        if not os.path.isdir(parent):
            raise UsageError(f"--json-out-file {a.json_out_file!r}: no directory {parent!r}")
    if a.plot is not None:
        _check_plot_dir(a.plot)
    return BenchArgs(
        workload=workload,
        cache=cache,
        pmem_temp=pmem_temp,
        prepopulate=a.prepopulate,
        run_count=a.run_count,
        percentiles=percentiles,
        hide_histogram=a.hide_histogram,
        json_out=a.json_out_file,
        compare=compare,
        plot_dir=a.plot,
        sweep_dram_mb=sweep,
        progress=a.progress,
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)
