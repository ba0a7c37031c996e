"""The ``tiercache`` command line: ``tiercache info``, ``tiercache bench`` and ``tiercache serve``.

Modules: args (parsing and checks), workload (the request sequence), peers and servers (the
stores compared), runner (replay and timing), report (memtier's text and JSON), plots, info.
Errors in the arguments print one line and exit with status 2.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from tiercache.cli.args import UsageError

__all__ = ["main"]

_BENCH_DEPS = "tiercache bench needs its extra: pip install 'tiercache[bench]'"


def _error(prog: str, message: str, status: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every cleanup runs, as for Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup short
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 bad arguments)."""
    from tiercache.cli import args as cli_args

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # every argument is the server's own (see cli/serve.py)
        from tiercache.cli.serve import run_serve

        return run_serve(argv[1:])
    if argv[:1] == ["bench"] and "--server" in argv[1:]:  # the rest is bench.py's (server_bench.py)
        from tiercache.cli.server_bench import run_server_bench

        return run_server_bench([a for a in argv[1:] if a != "--server"])
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(cli_args, argv)
    except _Terminated:
        return _error("tiercache", "terminated", 128 + signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(cli_args, argv: Sequence[str] | None) -> int:
    try:
        ns = cli_args.parse(argv)
        if ns.command == "info":
            from tiercache.cli.info import run_info

            return run_info(ns.dirs + ns.dir, as_json=ns.json)
        try:
            from tiercache.cli.bench import BenchError, run_bench
        except ImportError as exc:
            return _error("tiercache bench", f"{_BENCH_DEPS} ({exc})", 1)
        bench = cli_args.bench_args(ns)
        try:
            return run_bench(bench)
        except BenchError as exc:
            return _error("tiercache bench", str(exc), 1)
    except UsageError as exc:
        return _error(exc.prog, str(exc), 2)
    except KeyboardInterrupt:
        return _error("tiercache", "interrupted", 130)
    except BrokenPipeError:  # output piped into `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
