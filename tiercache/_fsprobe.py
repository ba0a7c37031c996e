"""What a directory's filesystem can do for a file-backed kind, as the C library answers it
(tiercache info and the errors of Kind.file / TierCache share these answers). The library
is asked, not imitated: it creates a file kind there (an unlinked file, a block allocated
with fallocate or zero-filled where fallocate is missing, a hole punched) and says how that
went."""

from __future__ import annotations

import errno
import os

from tiercache import _bindings as _b


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


def _filesystem(directory: str) -> str:
    return (mount_of(directory) or {}).get("filesystem", "?")


def failure_detail(directory: str, code: int, err: int) -> str:
    """Why the library refused a file-backed kind in directory, from its TC_ERR_* code and
    the errno its failing step left (0 when unknown: the code's own message then). The
    library returns no step, so the errno is a hint: it tells a filesystem that cannot hold
    a file (/proc: ENOENT) from one that cannot punch holes (ramfs: EOPNOTSUPP)."""
    fs = _filesystem(directory)
    why = f"{errno.errorcode.get(err, str(err))} ({os.strerror(err)})" if err else ""
    if code == _b.lib.TC_ERR_NOTSUP and err == errno.EOPNOTSUPP:
        return f"{fs} does not punch holes: fallocate(PUNCH_HOLE) {why}"
    if code == _b.lib.TC_ERR_NOTSUP and err:
        return f"the {fs} filesystem there cannot hold a file: {why}"
    return f"{_b.strerror(code)} on {fs}" + (f": {why}" if why else "")


def probe(directory: str) -> dict[str, object]:
    """{"usable": bool, "detail": str}: whether a file-backed kind can live in directory (the
    library's own check, see the module docstring), and why not."""
    code, err = _b.file_kind_check(directory)
    if code == _b.OK:
        fs = _filesystem(directory)
        detail = f"the library made a file kind on {fs} (block allocation and hole punching work)"
        return {"usable": True, "detail": detail}
    return {"usable": False, "detail": failure_detail(directory, code, err)}
