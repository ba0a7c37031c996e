"""What a directory's filesystem can do for a file-backed kind, asked the way the C library
uses it (tiercache info and the errors of Kind.file / TierCache share these answers):
create an unlinked file, allocate blocks (fallocate, or zero-filling where unsupported) and
punch holes."""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02


def mount_of(path: str) -> dict[str, str] | None:
    """The /proc/self/mountinfo entry whose mount point holds path (the longest match)."""
    real = os.path.realpath(path)
    best = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, rfields = left.split(), right.split()
                point = fields[4].replace("\\040", " ")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and (best is None or len(point) >= len(best["mount_point"])):
                    best = {
                        "mount_point": point,
                        "filesystem": rfields[0],
                        "source": rfields[1] if len(rfields) > 1 else "",
                        "options": ",".join([fields[5], *rfields[2:3]]),
                    }
    except OSError:
        return None
    return best


def _fallocate():
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.fallocate
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    return fn


def _name(err: int) -> str:
    return errno.errorcode.get(err, str(err))


def probe(directory: str) -> dict[str, object]:
    """{"usable": bool, "detail": str, "preallocation": "fallocate" | "zero-fill" | None,
    "hole_punching": bool}: whether a file-backed kind can live in directory, and why not."""
    out: dict[str, object] = {"usable": False, "preallocation": None, "hole_punching": False}
    fs = (mount_of(directory) or {}).get("filesystem", "?")
    try:
        fd, path = tempfile.mkstemp(prefix=".tiercache-probe-", dir=directory)
    except OSError as exc:
        out["detail"] = f"the {fs} filesystem there cannot hold a file: {exc.strerror}"
        return out
    fallocate = _fallocate()
    try:
        os.unlink(path)
        size = 1 << 20
        if fallocate(fd, 0, 0, size) == 0:
            out["preallocation"] = "fallocate"
        else:
            err = ctypes.get_errno()
            if err != errno.EOPNOTSUPP:
                out["detail"] = f"fallocate failed on {fs}: {_name(err)} ({os.strerror(err)})"
                return out
            out["preallocation"] = "zero-fill"  # as the library does there (ext2, ...)
            os.write(fd, b"\xa5" * size)
        os.fsync(fd)
        before = os.fstat(fd).st_blocks
        if fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size) != 0:
            err = ctypes.get_errno()
            out["detail"] = f"{fs} does not punch holes: fallocate(PUNCH_HOLE) {_name(err)}"
            return out
        after = os.fstat(fd).st_blocks
        if after >= before:
            out["detail"] = f"fallocate(PUNCH_HOLE) returned 0 on {fs} but freed no block"
            return out
        out["hole_punching"] = True
        out["usable"] = True
        note = " (no fallocate: blocks zero-filled)" if out["preallocation"] == "zero-fill" else ""
        out["detail"] = f"freed {(before - after) * 512 // 1024} KiB of a 1 MiB file{note}"
        return out
    finally:
        os.close(fd)
