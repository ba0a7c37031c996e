"""Private redis-server and memcached processes for the comparison, on a unix socket.

Each server runs in a fresh temporary directory (its socket lives there, mode 0700), with no
persistence, bounded to the memory budget given; stop() terminates it and removes the
directory; a server also gets SIGTERM if the benchmark process dies first. A missing binary
raises PeerUnavailable with the package that provides it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Callable

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the benchmark dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class PeerUnavailable(Exception):
    """A peer that cannot run here; str() is the reason shown as "skipped"."""


class Server:
    """A server process listening on ``self.socket``."""

    def __init__(self, name: str, argv_for: Callable[[str, str], list[str]]) -> None:
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"tiercache-bench-{name}-")
        self.socket = os.path.join(self.dir, f"{name}.sock")
        self.log_path = os.path.join(self.dir, f"{name}.log")
        try:
            self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        try:
            self.proc = subprocess.Popen(
                argv_for(self.socket, self.dir),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self._cleanup()
            raise PeerUnavailable(f"cannot start {name}: {exc}") from exc
        except BaseException:  # Ctrl-C or SIGTERM meanwhile
            self.stop() if hasattr(self, "proc") else self._cleanup()
            raise

    def wait_ready(self, ping: Callable[[], object], timeout: float = 10.0) -> None:
        """Call ping() until it succeeds; raise PeerUnavailable if the server died or timed out."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if os.path.exists(self.socket):
                    try:
                        ping()
                        return
                    except Exception as exc:  # not accepting yet
                        last = exc
                time.sleep(0.02)
        except BaseException:  # Ctrl-C or SIGTERM before the store owns the server
            self.stop()
            raise
        output = self._tail()
        self.stop()
        raise PeerUnavailable(f"{self.name} did not start ({output or last or 'no output'})")

    def _tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").strip().splitlines()
            return lines[-1].strip() if lines else ""
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PeerUnavailable(f"{name} is not on PATH (apt-get install {package})")
    return path


def start_redis(budget_mb: int) -> Server:
    """redis-server on a private unix socket: no TCP port, no persistence, LRU over budget_mb."""
    binary = _binary("redis-server", "redis-server")

    def argv(sock: str, workdir: str) -> list[str]:
        return [
            binary,
            "--port", "0",
            "--unixsocket", sock,
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", workdir,
            "--maxmemory", f"{budget_mb}mb",
            "--maxmemory-policy", "allkeys-lru",
        ]  # fmt: skip

    return Server("redis", argv)


def start_memcached(budget_mb: int, max_item_bytes: int) -> Server:
    """memcached on a private unix socket (mode 0700), budget_mb of item memory."""
    binary = _binary("memcached", "memcached")
    item_mb = 1
    while item_mb << 20 < max_item_bytes + 4096:  # room for the item header
        item_mb *= 2

    def argv(sock: str, workdir: str) -> list[str]:
        args = [binary, "-s", sock, "-a", "0700", "-m", str(max(budget_mb, 2 * item_mb))]
        args += ["-I", f"{item_mb}m", "-t", "1"]
        if os.geteuid() == 0:
            args += ["-u", "root"]  # memcached refuses to run as root without it
        return args

    return Server("memcached", argv)
