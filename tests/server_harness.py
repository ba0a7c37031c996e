"""Private tiercache-server and memcached instances for the server tests, and a raw client.

Every server runs on a unix socket (or a random localhost port) in its own temporary directory,
is stopped with SIGTERM (SIGKILL after 10 s) and its directory removed. Replies are read up to a
sentinel: each exchange ends with a meta no-op (``mn``), so a test never waits on a clock to know
that a reply is complete.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IO_TIMEOUT = 10.0  # seconds: bounds a hung read, never part of an assertion


def _server_env() -> dict[str, str]:
    """The environment servers run in: this one without a preloaded sanitizer runtime (the
    Python suites under ASan/TSan preload it for the extension; the servers are not built
    with it, and their memory figures would mean nothing)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS")
    }


def server_binary() -> Path | None:
    """The tiercache-server to test: $TIERCACHE_SERVER, the build tree, or the package's."""
    candidates = [os.environ.get("TIERCACHE_SERVER"), ROOT / "native/build/bin/tiercache-server"]
    try:
        from tiercache.cli.serve import binary_path

        candidates.append(binary_path())
    except Exception:
        pass
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    return None


def memcached_binary() -> Path | None:
    found = shutil.which("memcached")
    return Path(found) if found else None


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within IO_TIMEOUT; waits for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(IO_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server process: ``kind`` is "tiercache" or "memcached"."""

    def __init__(self, kind: str, args: list[str] | None = None, tcp: bool = False) -> None:
        self.kind = kind
        self.dir = Path(tempfile.mkdtemp(prefix=f"tc-{kind}-", dir="/tmp"))
        self.path = str(self.dir / "sock")
        self.port = free_port() if tcp else None
        extra = list(args or [])
        if kind == "tiercache":
            binary = server_binary()
            if binary is None:
                raise FileNotFoundError("tiercache-server is not built (make -C native server)")
            cmd = [str(binary), "-t", "2", "-m", "64"]
        else:
            binary = memcached_binary()
            if binary is None:
                raise FileNotFoundError("memcached is not installed (apt install memcached)")
            cmd = [str(binary), "-t", "2", "-m", "64", "-U", "0"]
            if os.geteuid() == 0:
                cmd += ["-u", "root"]
        if tcp:
            cmd += ["-l", "127.0.0.1", "-p", str(self.port)]
        else:
            cmd += ["-s", self.path]
        self.proc = subprocess.Popen(
            cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_server_env()
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: {err}")
            try:
                with self.connect() as c:
                    c.sock.settimeout(1.0)
                    c.send(b"version\r\n")
                    if c.readline().startswith(b"VERSION"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start")

    def connect(self) -> Conn:
        if self.port is not None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT)
        else:
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(IO_TIMEOUT)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
        return Conn(sock)

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        stop_process(self.proc)
        err = b""
        if self.proc.stderr:
            err = self.proc.stderr.read()
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.kind == "tiercache" and self.proc.returncode not in (0, -signal.SIGKILL):
            # a clean SIGTERM shutdown exits 0; anything else (a sanitizer report) fails the run
            raise RuntimeError(
                f"tiercache-server exited with {self.proc.returncode}: "
                f"{err.decode(errors='replace')[-4000:]}"
            )
        return self.proc.returncode


class Conn:
    """A raw protocol connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 20)
        if not data:
            return False
        self.buf += data
        return True

    def readline(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed before {marker!r}; got {self.buf[-200:]!r}")
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exchange(self, data: bytes) -> bytes:
        """Send data then a meta no-op; the replies to data (everything before MN)."""
        self.send(data + b"mn\r\n")
        return self.read_until(b"MN\r\n")[:-4]

    def read_to_eof(self) -> bytes:
        """Everything until the server closes the connection (bounded by IO_TIMEOUT)."""
        while True:
            try:
                if not self._fill():
                    break
            except ConnectionResetError:
                break
        out, self.buf = self.buf, b""
        return out
